"""Locust users for the model server: digits (v2 infer + v1 predict) and minilm (texts).

Works with `python -m loadtest run` (which configures the classes and gates on exact percentiles)
and with plain `locust -f loadtest/locustfile.py --host http://127.0.0.1:8000` (defaults below;
add `--slo loadtest/slo.yaml` to gate at the end on Locust's own, rounded, figures, which is what
a distributed master has). Every answer is validated: a 200 with a wrong shape, a NaN or a
non-unit embedding is a failure.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path

import gevent
import orjson
from locust import FastHttpUser, events, task

from loadtest import payloads, slo, validation
from loadtest.payloads import TextLength


@dataclass(frozen=True)
class Workload:
    """What one user class sends. Weights pick v2 infer vs v1 predict (0 turns one off)."""

    model: str
    version: str | None = None
    rows: int = 1
    text_length: TextLength = field(default_factory=lambda: payloads.TEXT_PRESETS["short"])
    v2_weight: int = 3
    v1_weight: int = 1
    think_time: float = 0.0  # seconds between requests per user; 0 = closed loop at full speed
    rate: float = 0.0  # requests/s per user (open loop, evenly spaced at a random phase); 0 = use think_time
    column: bool = False  # one value per row as [rows, 1], in and out (a Triton server: preflight.wants_columns)
    # Requests per connection: `Connection: close` on every Nth, so the next opens a new connection. A Kubernetes
    # Service balances connections, not requests: kept open, they stay on the pods that existed when they opened
    # and pods the HPA adds get no load. 0 keeps each user's connection open.
    reconnect_every: int = 0

    def infer_path(self) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"/v2/models/{self.model}{version}/infer"

    def predict_path(self) -> str:
        return f"/v1/models/{self.model}:predict"


_user_ids = count()


class ModelUser(FastHttpUser):
    abstract = True
    default_model: str
    workload: Workload
    sends: payloads.InputSpec  # checked against the model's metadata before a run
    sent = 0  # requests this user sent (reconnect_every counts them)
    next_arrival = 0.0  # open loop: scheduled start (monotonic s) of the latest request
    # Bounded: a hung server turns into a timeout failure, not a stuck run.
    connection_timeout = 5.0
    network_timeout = 15.0

    def on_start(self) -> None:
        # A seeded generator per user: runs are repeatable, users do not send identical bodies.
        self.rng = random.Random(next(_user_ids))
        if self.workload.rate:
            # A phase of its own, anywhere in one period: users started together do not send together.
            self.next_arrival = time.monotonic() + self.rng.uniform(0, 1 / self.workload.rate)
            gevent.sleep(self.next_arrival - time.monotonic())

    @classmethod
    def configure(cls, **changes) -> None:
        cls.workload = replace(cls.workload, **changes)
        w = cls.workload
        if w.v2_weight < 0 or w.v1_weight < 0 or w.v2_weight + w.v1_weight == 0:
            raise ValueError("task weights must be >= 0 and not both 0")
        if w.rate and w.think_time:
            raise ValueError("--rate paces the users itself: leave --think-time at 0")
        # Locust expands weights into a list of task functions, one entry per unit of weight.
        cls.tasks = [*[cls.infer_v2] * w.v2_weight, *[cls.predict_v1] * w.v1_weight]

    def wait_time(self) -> float:
        """Closed loop: think_time after each answer. Open loop (rate): one request every 1/rate s, on a grid
        of the user's own random phase.

        The grid is kept whatever the answers take: latency does not slow the rate, and users stay spread
        over the period (users x rate arrivals per second, evenly spread on average, never in bursts of one
        per user, and exactly the offered count: no sampling noise in the rate a comparison runs at). A slot
        that passes while the user still waits for an answer is skipped, not made up later in a burst;
        summary.json's rps then falls short of the rate.
        """
        w = self.workload
        if not w.rate:
            return w.think_time
        period, now = 1 / w.rate, time.monotonic()
        self.next_arrival += period
        if self.next_arrival < now:  # late: skip the missed slots, keep the phase
            self.next_arrival += math.ceil((now - self.next_arrival) / period) * period
        return self.next_arrival - now

    def _post(self, path: str, name: str, body: dict, check) -> None:
        w = self.workload
        headers = {"Content-Type": "application/json"}
        self.sent += 1
        if w.reconnect_every and self.sent % w.reconnect_every == 0:
            headers["Connection"] = "close"
        with self.client.post(
            path,
            data=orjson.dumps(body).decode(),
            headers=headers,
            name=name,
            catch_response=True,
            context={"model": w.model},
        ) as response:
            if response.status_code != 200:
                if response.status_code < 300:  # Locust fails 4xx/5xx itself (HTTP <code>), not a 204
                    response.failure(validation.BadAnswer(f"status {response.status_code}"))
                return
            try:
                check(orjson.loads(response.content))
            except orjson.JSONDecodeError:
                response.failure(validation.BadAnswer("non-JSON answer"))
            except validation.BadAnswer as exc:
                response.failure(exc)

    def infer_v2(self) -> None:
        raise NotImplementedError

    def predict_v1(self) -> None:
        raise NotImplementedError


class DigitsUser(ModelUser):
    default_model = "digits"
    workload = Workload(model=default_model)
    sends = payloads.DIGITS_INPUT

    @task
    def infer_v2(self) -> None:
        w = self.workload
        body = payloads.digits_v2_body(payloads.make_digits_rows(self.rng, w.rows))
        self._post(
            w.infer_path(), f"{w.model} v2 infer", body, lambda b: validation.digits_v2(b, w.model, w.rows, w.column)
        )

    @task
    def predict_v1(self) -> None:
        w = self.workload
        body = payloads.v1_body(payloads.make_digits_rows(self.rng, w.rows))
        self._post(w.predict_path(), f"{w.model} v1 predict", body, lambda b: validation.digits_v1(b, w.rows))


class MinilmUser(ModelUser):
    default_model = "minilm"
    workload = Workload(model=default_model)
    sends = payloads.TEXT_INPUT

    def _texts(self) -> list[str]:
        return [payloads.make_text(self.rng, self.workload.text_length) for _ in range(self.workload.rows)]

    @task
    def infer_v2(self) -> None:
        w = self.workload
        body = payloads.text_v2_body(self._texts(), w.column)
        self._post(w.infer_path(), f"{w.model} v2 infer", body, lambda b: validation.minilm_v2(b, w.model, w.rows))

    @task
    def predict_v1(self) -> None:
        w = self.workload
        body = payloads.v1_body(self._texts())
        self._post(w.predict_path(), f"{w.model} v1 predict", body, lambda b: validation.minilm_v1(b, w.rows))


# Default weights (3:1 v2:v1) for plain `locust -f` use as well.
DigitsUser.configure()
MinilmUser.configure()

PROFILES: dict[str, list[type[ModelUser]]] = {
    "digits": [DigitsUser],
    "minilm": [MinilmUser],
    "mixed": [DigitsUser, MinilmUser],
}


@events.init_command_line_parser.add_listener
def _add_slo_option(parser, **_) -> None:
    parser.add_argument("--slo", default="", help="SLO file to gate on when Locust quits (e.g. loadtest/slo.yaml)")


@events.quitting.add_listener
def _slo_gate(environment, **_) -> None:
    """Plain `locust` runs only: exit code 1 when the run missed the SLO (python -m loadtest run gates itself)."""
    path = getattr(environment.parsed_options, "slo", "")
    total = environment.stats.total
    if not path or not total.num_requests:
        return
    measured = {p: total.get_response_time_percentile(float(p[1:]) / 100) for p in ("p50", "p90", "p95", "p99")}
    measured.update(
        max=total.max_response_time, error_rate=total.fail_ratio, rps=total.total_rps * (1 - total.fail_ratio)
    )  # successful requests, as in loadtest.slo
    checks = slo.evaluate(slo.Slo.load(Path(path)), measured)
    for check in checks:
        print(("PASS " if check.passed else "FAIL ") + check.message)
    if not all(check.passed for check in checks):
        environment.process_exit_code = 1
