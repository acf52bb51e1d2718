"""Every numeric flag of `python -m loadtest` is bounded and finite, and bad inputs get one line, not a
traceback, before any load starts (issue 18, part 6). Each case ran through, hung or crashed before."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest import slo as slo_mod
from loadtest.payloads import TextLength

ROOT = Path(__file__).resolve().parents[2]
HPA = ROOT / "tests" / "loadtest" / "fixtures" / "rendered-overlay.yaml"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: a flag check that does not stop the command fails on the target


def refused(result, flag: str) -> None:
    """Exit code 2, the flag named, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert flag in output, output


@pytest.fixture
def load_csv(tmp_path: Path) -> Path:
    path = tmp_path / "load.csv"
    path.write_text("t,rps\n0,10\n60,50\n")
    return path


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--text-length", "99999999999999999999"),
        ("--text-length", "5-99999999999999999999"),
        ("--rate", "inf"),
        ("--rate", "nan"),
        ("--rate", "1e12"),
        ("--think-time", "inf"),
        ("--think-time", "nan"),
        ("--duration", "nan"),
        ("--warmup", "nan"),
        ("--v2-weight", "99999999999999999999"),
    ],
)
def test_run_refuses_unbounded_numbers(loadtest, flag, value):
    refused(loadtest("run", "--host", NOWHERE, "--profile", "minilm", flag, value, timeout=30), flag)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--capacity-rps", "1e-300"),
        ("--capacity-rps", "nan"),
        ("--sync-s", "1e-9"),
        ("--sync-s", "inf"),
        ("--pod-ready-s", "nan"),
        ("--start-replicas", "99999999999999999999"),
    ],
)
def test_hpa_refuses_unbounded_numbers(loadtest, load_csv, flag, value):
    args = ["--hpa", str(HPA), "--capacity-rps", "10", "--load", str(load_csv), flag, value]
    refused(loadtest("hpa", *args, timeout=30), flag)


@pytest.mark.parametrize(
    ("command", "flag", "value"),
    [
        ("capacity", "--per-replica-rps", "1e-300"),
        ("capacity", "--target-rps", "inf"),
        ("capacity", "--headroom", "nan"),
        ("demo", "--duration", "nan"),
        ("tradeoffs", "--usd-per-vcpu-hour", "inf"),
        ("tradeoffs", "--noise-margin", "nan"),
        ("bench-server", "--duration", "nan"),
        ("cpu-breakdown", "--warmup", "nan"),
        ("cpu-breakdown", "--duration", "1000000"),
    ],
)
def test_other_commands_refuse_unbounded_numbers(loadtest, command, flag, value):
    extra = ["--per-replica-rps", "10", "--target-rps", "100"] if command == "capacity" else []
    refused(loadtest(command, *extra, flag, value, timeout=30), flag)


def test_a_load_profile_that_never_ends_is_refused(loadtest, tmp_path):
    far = tmp_path / "far.csv"
    far.write_text("t,rps\n0,10\n1000000000000,10\n")
    result = loadtest("hpa", "--hpa", str(HPA), "--capacity-rps", "10", "--load", str(far), timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "86400" in result.stderr, result.stderr


@pytest.mark.parametrize("which", ["--hpa", "--load"])
def test_hpa_with_a_file_that_is_not_utf8_gets_one_line(loadtest, load_csv, tmp_path, which):
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    files = {"--hpa": str(HPA), "--load": str(load_csv), which: str(binary)}
    result = loadtest("hpa", "--capacity-rps", "10", *(x for kv in files.items() for x in kv), timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "UTF-8" in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["proc", "file"])
@pytest.mark.parametrize("command", ["run", "hpa"])
def test_out_where_no_folder_can_be_is_refused_first(loadtest, load_csv, tmp_path, command, where):
    out = "/proc/x" if where == "proc" else str(load_csv)
    if command == "run":
        result = loadtest("run", "--host", NOWHERE, "--out", out, timeout=30)
    else:
        result = loadtest("hpa", "--hpa", str(HPA), "--capacity-rps", "10", "--load", str(load_csv), "--out", out)
    refused(result, "--out")


@pytest.mark.parametrize("kind", ["missing", "folder", "columns", "nan"])
def test_replicas_is_checked_before_the_load(loadtest, tmp_path, kind):
    series = {"missing": tmp_path / "nope.csv", "folder": tmp_path, "columns": tmp_path / "r.csv"}.get(
        kind, tmp_path / "r.csv"
    )
    if kind == "columns":
        series.write_text("when,count\n1,2\n")
    if kind == "nan":
        series.write_text("time,replicas\n0,nan\n")
    # nothing listens at the target: had the load started, the error would be about the target
    refused(loadtest("run", "--host", NOWHERE, "--replicas", str(series), "--out", str(tmp_path / "o")), "--replicas")


def test_slo_limits_must_be_finite():
    for doc in ({"latency_ms": {"p95": float("inf")}}, {"min_rps": float("nan")}, {"max_error_rate": float("nan")}):
        with pytest.raises(ValueError, match="finite"):
            slo_mod.Slo.from_dict(doc)


def test_an_slo_file_nested_50000_deep_gets_one_line(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("latency_ms: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ValueError, match="nested too deep") as info:
        slo_mod.Slo.load(deep)
    assert "\n" not in str(info.value)


def test_slo_infinity_is_refused_before_the_load(loadtest, tmp_path):
    slo = tmp_path / "slo.yaml"
    slo.write_text("latency_ms:\n  p95: .inf\n")
    result = loadtest("run", "--host", NOWHERE, "--slo", str(slo), timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "p95" in result.stderr and "finite" in result.stderr, result.stderr


def test_text_length_is_bounded():
    assert TextLength.parse("5-400") == TextLength(5, 400)
    for spec in ("99999999999999999999", "1-5000"):
        with pytest.raises(ValueError, match="at most"):
            TextLength.parse(spec)
