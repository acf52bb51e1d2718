#!/usr/bin/env bash
# Build the offline Python base image from Debian packages: debootstrap (bookworm, minbase) +
# python3 (3.11) + python3-venv, trimmed, then `docker import`. No registry is needed.
# Cached: does nothing when the image exists (FORCE=1 rebuilds).
#
# Usage: scripts/base-image.sh [IMAGE]   (env: SUITE, DEBIAN_MIRROR, FORCE, BUILD_DIR)
set -o errexit -o nounset -o pipefail

image=${1:-ai-hosting-labs/python-base:bookworm-3.11}
suite=${SUITE:-bookworm}
build_dir=${BUILD_DIR:-build}
rootfs="$build_dir/base-rootfs"

if [[ -z ${FORCE:-} ]] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "base-image: $image exists ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')); FORCE=1 rebuilds"
    exit 0
fi
((EUID == 0)) || { echo "base-image: debootstrap needs root: run 'sudo make base-image'" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base-image: debootstrap not found: apt-get install debootstrap (or run scripts/ci-docker.sh)" >&2; exit 1; }

rm -rf "$rootfs"
mkdir -p "$rootfs"
trap 'rm -rf "$rootfs"' EXIT

echo "base-image: debootstrap $suite (minbase + python3, python3-venv) into $rootfs (about a minute)"
# DEBIAN_MIRROR unset: debootstrap's own default mirror.
debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} \
    >"$build_dir/debootstrap.log" 2>&1 || { tail -n 20 "$build_dir/debootstrap.log" >&2; exit 1; }

echo "base-image: trimming docs, man pages, locales, apt lists and caches"
# Keep them out of later `apt-get install` layers too (the lb image installs nginx on top).
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-trim" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
EOF
# As in Debian's official images: packages installed later must not start services in a build.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
cat >"$rootfs/etc/apt/apt.conf.d/01-trim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.cache
# glibc's iconv charset modules (8 MB): Python has its own codecs; keep only the Unicode ones.
find "$rootfs"/usr/lib/*-linux-gnu/gconv -name '*.so' -not -name 'UTF-*' -not -name 'UNICODE.so' -delete
python_version=$(chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())')

echo "base-image: importing as $image (Python $python_version)"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.opencontainers.image.title=\"python-base\" org.opencontainers.image.description=\"Debian $suite minbase + python3 $python_version, built offline with debootstrap\"" \
    --message "debootstrap $suite minbase + python3 $python_version" \
    - "$image" >/dev/null
echo "base-image: built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
