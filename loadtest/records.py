"""Raw per-request timings: built from Locust's request event, saved as timings.csv."""

from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from loadtest.validation import BadAnswer


@dataclass(frozen=True)
class Record:
    start: float  # epoch seconds when the request was sent
    name: str  # the name= group, e.g. "digits v2 infer"
    method: str
    model: str
    status: int  # HTTP status; 0 when no answer (refused, reset, timeout)
    latency_ms: float  # unrounded, as measured by Locust's client
    length: int
    error: str  # "" for a success, else the error type

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def end(self) -> float:
        return self.start + self.latency_ms / 1000.0


def error_type(exception: BaseException | None, status: int) -> str:
    """A short, stable error type for grouping: 'HTTP 503', 'bad answer: ...', 'ConnectionRefusedError'."""
    if exception is None:
        return ""
    if isinstance(exception, BadAnswer):
        return f"bad answer: {exception.kind}"
    if status >= 400:
        return f"HTTP {status}"
    return type(exception).__name__


def from_event(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: BaseException | None = None,
    context: dict | None = None,
    response: Any = None,
    start_time: float | None = None,
    **_: Any,
) -> Record:
    """Turns the keyword arguments of Locust's `request` event into a Record."""
    status = int(getattr(response, "status_code", 0) or 0)
    return Record(
        start=float(start_time or 0.0),
        name=name,
        method=request_type,
        model=str((context or {}).get("model", "")),
        status=status,
        latency_ms=float(response_time or 0.0),
        length=int(response_length or 0),
        error=error_type(exception, status),
    )


_COLUMNS = [f.name for f in fields(Record)]


def write_csv(records: list[Record], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_COLUMNS)
        writer.writerows(astuple(r) for r in records)


def read_csv(path: Path) -> list[Record]:
    with path.open(newline="") as fh:
        return [
            Record(
                float(row["start"]),
                row["name"],
                row["method"],
                row["model"],
                int(row["status"]),
                float(row["latency_ms"]),
                int(row["length"]),
                row["error"],
            )
            for row in csv.DictReader(fh)
        ]
