import json
import math

import pytest

from loadtest.capacity import cost_per_million, plan


def test_replicas_and_hpa_target():
    p = plan(per_replica_rps=50, target_rps=100, headroom=0.2)
    assert p.replicas == 3  # 100 / (50 * 0.8) = 2.5
    assert p.hpa_target_utilization == 80
    assert p.load_per_replica_rps == pytest.approx(33.33, abs=0.01)


def test_exact_fit_does_not_round_up_on_float_noise():
    assert plan(per_replica_rps=50, target_rps=80, headroom=0.2).replicas == 2


def test_hpa_formula_with_that_target_gives_the_same_replicas():
    for per, target, headroom, cpu in [(50, 100, 0.2, 100), (37, 1000, 0.3, 80), (120, 90, 0.1, 60)]:
        p = plan(per, target, headroom, cpu)
        # Kubernetes: desired = ceil(sum of current utilizations / target utilization)
        total_utilization = cpu * target / per
        assert max(1, math.ceil(total_utilization / p.hpa_target_utilization - 1e-9)) in (p.replicas, p.replicas + 1)
        assert p.expected_utilization <= p.hpa_target_utilization + 1


def test_zero_load_keeps_the_minimum():
    assert plan(10, 0, 0.3).replicas == 1


@pytest.mark.parametrize("args", [(0, 10, 0.3), (10, -1, 0.3), (10, 10, 1.0), (10, 10, -0.1)])
def test_rejects_nonsense(args):
    with pytest.raises(ValueError):
        plan(*args)


def test_cost_per_million():
    # 100 rps with 50 rps/replica and 20% headroom -> 3 replicas x 1 vCPU x $0.036/h = $0.108/h for 360k requests
    assert cost_per_million(50, 1, 0.036, 100, 0.2) == pytest.approx(0.3)


def test_capacity_cli(loadtest):
    proc = loadtest("capacity", "--per-replica-rps", "120", "--target-rps", "1000", "--headroom", "0.3", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["replicas"] == 12 and result["hpa_target_utilization"] == 70
    proc = loadtest("capacity", "--per-replica-rps", "120", "--target-rps", "1000", "--headroom", "1.5")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: headroom must be in [0, 1), e.g. 0.3 for 30%"
