"""Lab 01's reference client (labs/01-serve/client.py) against a real server on a free loopback port."""

import importlib.util
import math
import re
from pathlib import Path
from types import ModuleType

import pytest

from loadtest.local_server import free_port

CLIENT = Path(__file__).resolve().parents[2] / "labs" / "01-serve" / "client.py"


def load_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lab01_client", CLIENT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_histogram_totals_adds_every_version_of_one_model_only():
    client = load_client()
    text = "\n".join(
        [
            "# HELP model_server_queue_duration_seconds Time a request waited.",
            'model_server_queue_duration_seconds_sum{model="digits",version="1"} 0.5',
            'model_server_queue_duration_seconds_count{model="digits",version="1"} 2.0',
            'model_server_queue_duration_seconds_sum{model="digits",version="2"} 0.25',
            'model_server_queue_duration_seconds_count{model="digits",version="2"} 3.0',
            'model_server_queue_duration_seconds_sum{model="digits-large",version="1"} 9.0',
            'model_server_queue_duration_seconds_bucket{le="0.001",model="digits",version="1"} 7.0',
            'model_server_inference_duration_seconds_sum{model="digits",version="1"} 4.0',
        ]
    )
    assert client.histogram_totals(text, "model_server_queue_duration_seconds", "digits") == (0.75, 5.0)
    assert client.histogram_totals(text, "model_server_queue_duration_seconds", "minilm") == (0.0, 0.0)


def test_main_says_why_when_no_server_answers(capsys):
    client = load_client()
    assert client.main(["--url", f"http://127.0.0.1:{free_port()}", "--requests", "1"]) == 1
    assert "cannot connect" in capsys.readouterr().err


@pytest.mark.slow
def test_client_labels_and_time_split_against_a_real_server(start_server, capsys):
    server = start_server("--models", "digits")
    client = load_client()
    rows = list(client.SAMPLES.values())
    assert client.infer_v2(server.url, "digits", rows) == [0, 1, 7]
    assert client.predict_v1(server.url + "/", "digits", rows) == [0, 1, 7]
    assert client.main(["--url", server.url, "--requests", "5"]) == 0
    out = capsys.readouterr().out
    assert "labels [0, 1, 7] (expected [0, 1, 7])" in out
    figures = {}
    for label in ("receipt to response", "waiting in the batch queue", "running the model"):
        line = next(line for line in out.splitlines() if label in line)
        figures[label] = float(re.findall(r"(-?[\d.]+|nan) ms$", line)[0])
    assert all(math.isfinite(v) and v >= 0 for v in figures.values()), out
    # The parts the server measures add up to no more than its own receipt-to-response time.
    assert figures["waiting in the batch queue"] + figures["running the model"] <= figures["receipt to response"]
    assert client.main(["--url", server.url, "--model", "nope", "--requests", "1"]) == 1
    assert "answered 404" in capsys.readouterr().err
