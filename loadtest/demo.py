"""`make demo`: local model server + bounded mixed load on digits and minilm + per-model table.

Exit code 0 only when every request succeeded (right status and right answer).
"""

from __future__ import annotations

import signal
from pathlib import Path

from loadtest import preflight, report, runner
from loadtest.local_server import LocalServer

DEMO_MODELS = "digits,minilm"
console = report.console


def _exit_on_sigterm(*_) -> None:
    raise SystemExit(143)  # unwinds through `with LocalServer(...)`, which stops the server


def main(model_repository: Path, out: Path, users: int, duration: float) -> int:
    if not model_repository.is_dir():
        console.print(f"[red]error:[/red] no model repository at {model_repository}; run `make models` first")
        return 2
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    out.mkdir(parents=True, exist_ok=True)
    server = LocalServer(
        model_repository, args=["--models", DEMO_MODELS, "--drain-seconds", "0"], log_path=out / "server.log"
    )
    console.print(f"starting model server on {server.url} (log: {out / 'server.log'})")
    try:
        with server:
            pid = server.proc.pid if server.proc else "-"
            console.print(f"server ready (pid {pid}); running {duration:g} s of load with {users} users")
            result = runner.run(
                runner.RunConfig(host=server.url, out=out, profile="mixed", users=users, duration=duration)
            )
    except preflight.TargetError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        console.print(f"interrupted; server stopped (exit code {server.returncode})")
        return 130
    console.print(f"server stopped (exit code {server.returncode})")
    console.print(report.table(result, by="models", title="demo: per model (exact percentiles, ms)"))
    console.print(report.table(result, by="endpoints", title="demo: per endpoint"))
    if (errors := report.errors_table(result)) is not None:
        console.print(errors)
    console.print(f"results: {out}/summary.json, timings.csv, locust.html, latency.png, throughput.png")
    total = result["total"]
    if total["requests"] == 0 or total["failures"]:
        console.print(f"[red]demo failed:[/red] {total['failures']} of {total['requests']} requests failed")
        return 1
    console.print(f"[green]demo passed:[/green] {total['requests']} requests, none failed")
    return 0
