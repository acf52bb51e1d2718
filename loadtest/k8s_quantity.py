"""Kubernetes resource quantities (apimachinery's resource.Quantity), the subset manifests here use.

CPU in cores ("250m" -> 0.25, "0.5", 1) and memory in bytes ("256Mi", "1G", "128974848"): both
reject what the API server would refuse (negative, not a number) with a one-line ValueError.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

# Binary (Ki = 2**10) and decimal (k = 10**3) suffixes, longest first so "Mi" is not read as "M".
_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def _decimal(value: object, example: str) -> Decimal:
    """The quantity's exact value; ValueError naming an example of the expected form."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a quantity such as {example}")
    text = str(value).strip()
    factor: int | Decimal = 1
    for suffix, scale in _SUFFIXES.items():
        if text.endswith(suffix):
            text, factor = text[: -len(suffix)], scale
            break
    try:
        number = Decimal(text) * factor
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a quantity such as {example}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"must be a finite quantity >= 0, got {value!r}")
    return number


def quantity(value: object) -> float:
    """A non-negative quantity as a number: "50m" -> 0.05, 0.05 -> 0.05 (e.g. an HPA tolerance)."""
    return float(_decimal(value, "0.05 or 50m"))


def cpu_cores(value: object) -> float:
    """A CPU quantity in cores: "250m" -> 0.25, "0.5" -> 0.5, 1 -> 1.0."""
    return float(_decimal(value, "250m, 0.5 or 1"))


def memory_bytes(value: object) -> int:
    """A memory quantity in bytes, rounded up as Quantity.Value() does: "256Mi" -> 268435456, "1G" -> 10**9."""
    return math.ceil(_decimal(value, "256Mi, 1G or 1073741824"))
