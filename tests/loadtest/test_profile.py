"""Open loop along a t,rps profile (`run --load`, the HPA what-if tool's CSV), and the replica chart drawn after a
run (`replicas-chart`): lab 05 drives the cluster with the input the prediction used."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest

from loadtest import schedules
from loadtest.records import read_csv

LAB_05 = [(0.0, 20.0), (60.0, 240.0), (240.0, 20.0), (480.0, 20.0)]


def test_users_follow_the_profile_at_a_fixed_rate_each() -> None:
    profile = schedules.make("ignored", users=96, duration=480, load=LAB_05)
    each = 240 / 96
    for t, rps in [(0, 20), (59.9, 20), (60, 240), (239, 240), (240, 20), (479, 20)]:
        assert profile.users_at(t) * each == rps
    assert profile.tick(480) is None


def test_users_that_cannot_follow_the_profile_are_refused_with_a_count_that_can() -> None:
    with pytest.raises(ValueError, match=r"--users 40 \(6 rps each\) cannot follow 20 rps within 5%: use --users 46"):
        schedules.make("ignored", users=40, duration=480, load=LAB_05)
    with pytest.raises(ValueError, match="sends nothing"):
        schedules.make("ignored", users=4, duration=10, load=[(0.0, 0.0)])


@pytest.mark.slow
def test_run_along_a_profile_sends_its_rates(model_server, tmp_path, loadtest) -> None:
    csv = tmp_path / "load.csv"
    csv.write_text("t,rps\n0,10\n3,40\n6,10\n9,10\n")
    out = tmp_path / "run"
    proc = loadtest("run", "--host", model_server.url, "--profile", "digits", "--load", str(csv), "--users", "8",
                    "--no-slo", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["load_profile"] == [[0, 10], [3, 40], [6, 10], [9, 10]]
    assert summary["rate_rps"] == 40 and summary["duration_s"] == 9
    timings = read_csv(out / "timings.csv")
    t0 = min(r.start for r in timings)
    per_step = [sum(lo <= r.start - t0 < lo + 3 for r in timings) for lo in (0, 3, 6)]
    # 30, 120 and 30 requests expected (Poisson arrivals: +-2 sd is about +-11, +-22, +-11).
    assert 15 <= per_step[0] <= 45 and 90 <= per_step[1] <= 150 and 15 <= per_step[2] <= 45, per_step


def test_run_refuses_a_profile_with_another_shape_or_rate(tmp_path, loadtest) -> None:
    csv = tmp_path / "load.csv"
    csv.write_text("t,rps\n0,10\n")
    for extra in (["--shape", "step"], ["--rate", "5"]):
        proc = loadtest("run", "--host", "http://127.0.0.1:9", "--load", str(csv), *extra)
        assert proc.returncode == 2
        assert "--load sets the shape and the rate: leave out --shape, --rate and --warmup" in proc.stderr
    csv.write_text("t,rps\n5,10\n")
    proc = loadtest("run", "--host", "http://127.0.0.1:9", "--load", str(csv))
    assert proc.returncode == 2 and "t must start at 0" in proc.stderr


def test_replicas_chart_after_the_run(tmp_path, loadtest) -> None:
    results = tmp_path / "run"
    results.mkdir()
    start = time.time()
    (results / "timings.csv").write_text(
        f"start,name,method,model,status,latency_ms,length,error\n{start},d,POST,digits,200,5.0,10,\n"
    )
    (results / "summary.json").write_text(json.dumps({"profile": "digits", "users": 96}))
    series = tmp_path / "hpa.csv"
    series.write_text(f"time,replicas\n{start - 5:.0f},2\n{start + 60:.0f},6\n{start + 400:.0f},2\n")
    proc = loadtest("replicas-chart", str(results), "--replicas", str(series))
    assert proc.returncode == 0, proc.stderr
    assert (results / "replicas.png").read_bytes().startswith(b"\x89PNG")
    proc = loadtest("replicas-chart", str(tmp_path / "nowhere"), "--replicas", str(series))
    assert proc.returncode == 2 and proc.stderr.startswith("error: replicas-chart: ")


class CountingProxy:
    """A TCP forwarder on a free loopback port that counts the connections clients open through it."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port, self.target_port, self.accepted = self.listener.getsockname()[1], target_port, 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):  # one side closed: so does the other
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.mark.slow
@pytest.mark.parametrize(("reconnect_every", "connections"), [(0, range(2, 8)), (5, range(13, 30))])
def test_users_reconnect_every_n_requests(model_server, tmp_path, loadtest, reconnect_every, connections) -> None:
    # 2 users, 20 requests/s for 3 s: 60 requests. Kept alive: 2 connections (and the preflight's few).
    proxy = CountingProxy(int(model_server.url.rsplit(":", 1)[1]))
    try:
        out = tmp_path / "run"
        proc = loadtest("run", "--host", f"http://127.0.0.1:{proxy.port}", "--profile", "digits", "--users", "2",
                        "--rate", "20", "--duration", "3", "--reconnect-every", str(reconnect_every), "--no-slo",
                        "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr + proc.stdout
        summary = json.loads((out / "summary.json").read_text())
        assert summary["total"]["failures"] == 0 and summary["reconnect_every"] == reconnect_every
        assert proxy.accepted in connections, (proxy.accepted, summary["total"]["requests"])
    finally:
        proxy.listener.close()
