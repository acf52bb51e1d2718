"""SIGTERM under keep-alive load loses no request (issues 13 and 18).

A load balancer (a Kubernetes Service, nginx) stops sending *new* connections to a replica once its readiness
fails, but a connection a client already holds keeps reaching it. So the test runs a real server process, a
bounded loopback load of keep-alive clients (with a little think time, as real clients have) and
`Connection: close` clients, and a load balancer stand-in that probes readiness and, a moment after it fails,
stops opening new connections to the server. Every request sent must get a 200: a POST lost on a connection
the server closed under it is not retried by clients (FastHttpUser, browsers, most SDKs).

The same load without the load balancer (clients that reconnect to the draining server until it stops
accepting) must lose nothing either: a connection the server refuses is fine (nothing was sent on it, so a
client or a load balancer retries it elsewhere), one it accepted and then reset is a lost request.

The keep-alive clients use http.client, which sends on a kept connection without first checking whether the
server closed it: a request crossing the server's FIN on the wire is exactly that case, and it happens by
chance under real load; this makes it happen whenever the server closes a connection it had not announced.
"""

import http.client
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from loadtest.local_server import LOOPBACK
from loadtest.payloads import digits_v2_body
from model_server.serve import drop_new_handshakes

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("DRAIN_RUNS", "2"))  # `DRAIN_RUNS=10` for the figure the README reports
DRAIN_S = 1.5  # readiness false this long before the server stops accepting
LB_NOTICES_S = 0.3  # after a failed probe, the load balancer stops routing new connections this much later
KEEP_ALIVE_CLIENTS = 12
CLOSE_CLIENTS = 4
PATH = "/v2/models/digits/infer"
BODY = httpx.Request("POST", "/", json=digits_v2_body([[float(i % 17) for i in range(64)]])).content


@dataclass
class Tally:
    ok: int = 0
    refused: int = 0  # connections refused: no request was sent on them
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, problem: str | None) -> None:
        with self.lock:
            if problem is None:
                self.ok += 1
            else:
                self.lost.append(problem)

    def refuse(self) -> None:
        with self.lock:
            self.refused += 1


class LoadBalancer:
    """Probes readiness every 0.1 s; a moment after a failure, routes no new connection to the server (if
    `notices`; otherwise it goes on routing there until the server refuses connections)."""

    def __init__(self, url: str, notices: bool = True) -> None:
        self.url = url
        self.notices = notices
        self.routing = threading.Event()
        self.routing.set()
        self.stop = threading.Event()

    def watch(self) -> None:
        while not self.stop.wait(0.1):
            try:
                ready = httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready and self.notices:
                time.sleep(LB_NOTICES_S)
                self.routing.clear()
                return


def client(port: int, lb: LoadBalancer, tally: Tally, keep_alive: bool, until: float, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Content-Type": "application/json", "Connection": "keep-alive" if keep_alive else "close"}
    conn: http.client.HTTPConnection | None = None
    for _ in range(5000):  # bounded in count as well as in time
        if time.monotonic() > until:
            break
        if conn is None:
            if not lb.routing.is_set():
                break  # the load balancer sends new connections elsewhere now
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=15)
            try:
                conn.connect()
            except (ConnectionRefusedError, TimeoutError):
                tally.refuse()  # the server no longer accepts: nothing was sent, so nothing is lost
                break
        try:
            conn.request("POST", PATH, BODY, headers)
            response = conn.getresponse()
            response.read()
            tally.add(None if response.status == 200 else f"HTTP {response.status}")
            closing = response.will_close
        except (OSError, http.client.HTTPException) as exc:
            tally.add(f"{type(exc).__name__}: {exc}")
            closing = True
        if closing or not keep_alive:
            conn.close()
            conn = None
        if keep_alive:
            time.sleep(rng.uniform(0, 0.02))
    if conn is not None:
        conn.close()


def one_run(start_server, lb_notices: bool) -> Tally:
    server = start_server("--models", "digits", "--drain-seconds", str(DRAIN_S), "--intra-op-threads", "1")
    lb, tally = LoadBalancer(server.url, lb_notices), Tally()
    until = time.monotonic() + 1.0 + DRAIN_S + 12  # load, drain, then the longest shutdown
    threads = [
        threading.Thread(target=client, args=(server.port, lb, tally, i < KEEP_ALIVE_CLIENTS, until, i))
        for i in range(KEEP_ALIVE_CLIENTS + CLOSE_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every client connected and busy
    server.proc.send_signal(signal.SIGTERM)
    watcher = threading.Thread(target=lb.watch)
    watcher.start()
    try:
        assert server.proc.wait(timeout=DRAIN_S + 15) == 0
    finally:
        lb.stop.set()
        watcher.join()
        for thread in threads:
            thread.join()
    return tally


@pytest.mark.parametrize("lb_notices", [True, False], ids=["behind-a-load-balancer", "clients-reconnect-to-it"])
def test_sigterm_under_keep_alive_load_loses_no_request(start_server, lb_notices):
    runs = [one_run(start_server, lb_notices) for _ in range(RUNS)]
    report = ", ".join(f"{len(t.lost)} of {t.ok + len(t.lost)}" for t in runs)
    print(f"lost requests per run: {report}; connections refused: {sum(t.refused for t in runs)}")
    assert all(t.ok > 100 for t in runs), report  # the load really ran
    lost = [problem for t in runs for problem in t.lost]
    assert not lost, f"lost per run: {report}; first: {lost[:3]}"


def test_the_closing_listener_takes_no_new_connection_but_serves_its_queue():
    """CI lost 3 requests in `clients-reconnect-to-it` (reproduced with both cores busy: 3 in 1 of 8 runs): a
    connection that joined the listening socket's queue between the server's last accept and its close was
    reset after its request went out. Once the drain empties the queue, a new handshake must not get in (its
    client is refused later: nothing sent), while what was queued before is still accepted and answered."""
    listener = socket.create_server((LOOPBACK, 0))
    port = listener.getsockname()[1]
    queued = socket.create_connection((LOOPBACK, port), timeout=5)
    drop_new_handshakes(listener)
    late = socket.socket()
    late.settimeout(0.5)
    with pytest.raises(TimeoutError):
        late.connect((LOOPBACK, port))  # the SYN is dropped: no connection to reset later
    accepted, _ = listener.accept()
    queued.sendall(b"ping")
    assert accepted.recv(4) == b"ping"
    listener.close()
    for sock in (queued, accepted, late):
        sock.close()
