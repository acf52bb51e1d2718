"""Kubernetes quantities: CPU in cores, memory in bytes, one-line errors on what the API server refuses."""

from __future__ import annotations

import pytest

from loadtest.k8s_quantity import cpu_cores, memory_bytes, quantity


@pytest.mark.parametrize(
    ("value", "cores"), [("250m", 0.25), ("100m", 0.1), ("0.5", 0.5), ("1", 1.0), (1, 1.0), (2.5, 2.5), (" 2 ", 2.0)]
)
def test_cpu_cores(value: object, cores: float) -> None:
    assert cpu_cores(value) == cores


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("256Mi", 256 * 2**20),
        ("768Mi", 805306368),
        ("1Gi", 2**30),
        ("1.5Gi", 1610612736),
        ("64Ki", 65536),
        ("1G", 10**9),
        ("500M", 5 * 10**8),
        ("2k", 2000),
        ("128974848", 128974848),
        (1024, 1024),
        ("1e3", 1000),
        ("1500m", 2),  # Quantity.Value() rounds up
    ],
)
def test_memory_bytes(value: object, size: int) -> None:
    assert memory_bytes(value) == size


def test_quantity_reads_milli_and_plain_numbers() -> None:
    assert quantity("50m") == 0.05 and quantity(0.05) == 0.05 and quantity("0") == 0


@pytest.mark.parametrize("value", ["lots", "", "Mi", "1.2.3", "12x", None, True, [1]])
def test_not_a_quantity(value: object) -> None:
    with pytest.raises(ValueError, match="is not a quantity such as") as err:
        memory_bytes(value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["-1", "-250m", -2, "inf", float("nan")])
def test_negative_or_infinite_is_refused(value: object) -> None:
    for parse in (cpu_cores, memory_bytes, quantity):
        with pytest.raises(ValueError, match="finite quantity >= 0"):
            parse(value)
