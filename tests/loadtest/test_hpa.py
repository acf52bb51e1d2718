"""The HPA what-if against the Kubernetes documentation's worked examples and the controller's rules (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loadtest import hpa
from loadtest.hpa import HpaError, PodMetric, parse_hpa, recommend, simulate

FIXTURES = Path(__file__).parent / "fixtures"


def make_hpa(min_replicas: int = 1, max_replicas: int = 100, target: int = 50, behavior: dict | None = None) -> dict:
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        ],
    }
    if behavior is not None:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": spec,
    }


def pods(n: int, percent: float, ready: bool = True) -> PodMetric:
    """n pods requesting 1000m, each using `percent` of it."""
    return PodMetric(1000, int(percent * 10), ready, n)


def replicas_over_time(doc: dict, load: list[tuple[float, float]], **kwargs) -> list[int]:
    return [s.replicas for s in simulate(parse_hpa([doc]), load, **kwargs)]


# ---- the algorithm (docs: "Algorithm details") ----


def test_docs_algorithm_example_doubles_at_200m_of_100m_and_halves_at_50m():
    # 200m used of a 100m target (200% of a 100% utilization target): 200.0 / 100.0 == 2.0, double.
    assert recommend(4, [PodMetric(100, 200, True, 4)], target=100).replicas == 8
    # 50m: 50.0 / 100.0 == 0.5, halve.
    assert recommend(4, [PodMetric(100, 50, True, 4)], target=100).replicas == 2


def test_walkthrough_one_pod_at_305_percent_of_a_50_percent_target_needs_7():
    rec = recommend(1, [pods(1, 305)], target=50)
    assert (rec.replicas, rec.utilization) == (7, 305)  # ceil(1 x 305 / 50) = ceil(6.1)


def test_walkthrough_timeline_reaches_7_through_the_scale_up_limit_and_stays():
    # The walkthrough's HPA has no behavior: 1 -> 4 (max(2 x 1, 4)) -> 7, then 7 is within the tolerance.
    capacity = 100.0  # rps at 100% of the request; 305 rps puts one pod at 305%
    timeline = replicas_over_time(make_hpa(1, 10, 50), [(0, 305), (300, 305)], capacity_rps=capacity, pod_ready_s=0)
    assert timeline[0] == 4
    assert 7 in timeline and timeline[-1] == 7
    assert sorted(set(timeline)) == [4, 7]


def test_utilization_is_the_controllers_integer_percent():
    # sum(usage) * 100 // sum(requests): 667m of 2000m is 33.35% -> 33, not rounded up.
    assert hpa.utilization_percent([PodMetric(1000, 333), PodMetric(1000, 334)]) == 33
    rec = recommend(2, [PodMetric(1000, 333), PodMetric(1000, 334)], target=30)
    assert rec.utilization == 33 and rec.replicas == 2  # 33/30 = 1.1: the tolerance boundary holds


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (54, 10),
        (60, 10),
        (66, 10),
        (53, 9),
        (67, 12),
    ],  # 0.9 and 1.1 included; 53/60 -> ceil(8.83); 67/60 -> ceil(11.17)
)
def test_tolerance_is_a_no_op_within_ten_percent(percent, expected):
    assert recommend(10, [pods(10, percent)], target=60).replicas == expected


def test_behavior_tolerance_replaces_the_default_per_direction():
    # 65% of 60% is a ratio of 1.083: inside the default 0.1, outside a scale-up tolerance of 5% ("50m").
    doc = make_hpa(1, 20, 60, behavior={"scaleUp": {"tolerance": "50m"}})
    scaler = parse_hpa([doc])
    assert (scaler.tolerance_up, scaler.tolerance_down) == (0.05, 0.1)
    load = [(0, 650), (30, 650)]  # 10 pods at 65%
    assert simulate(scaler, load, 100, start_replicas=10)[0].replicas == 11
    assert simulate(parse_hpa([make_hpa(1, 20, 60)]), load, 100, start_replicas=10)[0].replicas == 10
    with pytest.raises(HpaError, match="tolerance"):
        parse_hpa([make_hpa(behavior={"scaleDown": {"tolerance": "lots"}})])


# ---- unready pods and pods without metrics (replica_calculator.go) ----


def test_unready_pods_count_as_zero_on_a_scale_up():
    # 2 ready pods at 120% of a 60% target want 4; with the 2 starting pods at 0% the ratio is 1.0: keep 4.
    assert recommend(4, [pods(2, 120), pods(2, 0, ready=False)], target=60).replicas == 4
    # At 180% the ratio over all 4 pods is 1.5: ceil(4 x 1.5) = 6.
    assert recommend(4, [pods(2, 180), pods(2, 0, ready=False)], target=60).replicas == 6


def test_unready_pods_are_ignored_on_a_scale_down():
    assert recommend(4, [pods(2, 30), pods(2, 0, ready=False)], target=60).replicas == 1  # ceil(2 x 0.5)


def test_pods_without_metrics_count_as_100_percent_on_a_scale_down():
    # 3 pods at 40% of a 50% target (ratio 0.8) and one without metrics, counted at 100%: (120 + 100) / 4 = 55%,
    # ratio 1.1, within the tolerance: keep 4 (without the missing pod it would be ceil(3 x 0.8) = 3).
    missing = PodMetric(1000, None)
    assert recommend(4, [pods(3, 40), missing], target=50).replicas == 4
    assert recommend(3, [pods(3, 40)], target=50).replicas == 3


def test_pods_without_metrics_count_as_zero_on_a_scale_up():
    # 3 pods at 100% of 50%, one missing at 0%: 300 / 4 = 75%, ratio 1.5 -> ceil(4 x 1.5) = 6.
    assert recommend(4, [pods(3, 100), PodMetric(1000, None)], target=50).replicas == 6


def test_no_ready_pod_with_metrics_skips_the_sync():
    rec = recommend(2, [pods(2, 0, ready=False)], target=50)
    assert rec.replicas is None and rec.utilization is None


# ---- behavior absent ----


def test_without_behavior_scale_up_is_limited_to_max_of_double_and_4():
    # Demand for 40 replicas from 1: 4, then 8, 16, 32, 40.
    timeline = replicas_over_time(make_hpa(1, 100, 50), [(0, 2000), (120, 2000)], capacity_rps=100, pod_ready_s=0)
    assert timeline[:5] == [4, 8, 16, 32, 40]


def test_without_behavior_scale_down_waits_for_the_5_minute_window():
    # 10 pods at 50%; the load drops to a tenth at t=60. The highest recommendation of the last 300 s
    # (10, until t=45) holds the scale; this path keeps records exactly 300 s old (!Before(cutoff)), so t=360
    # is the first sync without it, and nothing limits the size of a scale-down.
    load = [(0, 500), (60, 50), (600, 50)]
    syncs = simulate(parse_hpa([make_hpa(1, 100, 50)]), load, 100, start_replicas=10, pod_ready_s=0)
    first_down = next(s for s in syncs if s.replicas < 10)
    assert first_down.t == 360
    assert first_down.replicas == 1


# ---- behavior present: defaults, policies, selectPolicy, stabilization ----


def test_behavior_defaults_follow_the_api():
    scaler = parse_hpa([make_hpa(behavior={})])
    assert scaler.scale_up == hpa.ScalingRules(
        0,
        "Max",
        (hpa.Policy(type="Pods", value=4, periodSeconds=15), hpa.Policy(type="Percent", value=100, periodSeconds=15)),
    )
    assert scaler.scale_down == hpa.ScalingRules(300, "Max", (hpa.Policy(type="Percent", value=100, periodSeconds=15),))
    # Only the set fields replace the defaults.
    scaler = parse_hpa([make_hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})])
    assert scaler.scale_down is not None and scaler.scale_down.stabilization_s == 60
    assert scaler.scale_down.policies == (hpa.Policy(type="Percent", value=100, periodSeconds=15),)


def test_default_behavior_scale_up_adds_max_of_100_percent_and_4_pods():
    # With `behavior: {}` the limit is max(2 x current, current + 4): 1 -> 5 -> 10 -> 20 -> 40.
    doc = make_hpa(1, 100, 50, behavior={})
    timeline = replicas_over_time(doc, [(0, 2000), (120, 2000)], capacity_rps=100, pod_ready_s=0)
    assert timeline[:4] == [5, 10, 20, 40]


def test_docs_scale_down_policy_example_from_80_replicas():
    # Docs "Scaling policies": Pods 4/60s and Percent 10%/60s, the default selectPolicy Max picks the bigger
    # change: 80 -> 72 (8), 72 -> 64 (7.2 rounds to 8), ... below 40 replicas the Pods policy: 4 at a time.
    # The scale-down window is unset, so the controller's 300 s applies (the initial recommendation, 80, holds).
    doc = make_hpa(
        1,
        100,
        50,
        behavior={
            "scaleDown": {
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 60},
                    {"type": "Percent", "value": 10, "periodSeconds": 60},
                ]
            }
        },
    )
    syncs = simulate(parse_hpa([doc]), [(0, 500), (1200, 500)], 100, start_replicas=80, pod_ready_s=0)
    per_minute = [s.replicas for s in syncs if s.t % 60 == 0]
    assert per_minute[:5] == [80] * 5
    assert per_minute[5:15] == [72, 64, 57, 51, 45, 40, 36, 32, 28, 24]
    # Within a period nothing more is removed: the policies count from the replicas at the period's start.
    assert {s.replicas for s in syncs if 300 <= s.t < 360} == {72}


def test_select_policy_min_picks_the_smaller_change():
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Min",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 60},
                {"type": "Percent", "value": 10, "periodSeconds": 60},
            ],
        }
    }
    syncs = simulate(parse_hpa([make_hpa(behavior=behavior)]), [(0, 500), (120, 500)], 100, start_replicas=80)
    assert [s.replicas for s in syncs if s.t % 60 == 0] == [76, 72, 68]  # min(4, 8) pods, then min(4, 7.6)


@pytest.mark.parametrize("direction", ["scaleUp", "scaleDown"])
def test_select_policy_disabled_stops_that_direction(direction):
    doc = make_hpa(behavior={direction: {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}})
    load = 2000 if direction == "scaleUp" else 10
    syncs = simulate(parse_hpa([doc]), [(0, load), (300, load)], 100, start_replicas=10, pod_ready_s=0)
    assert {s.replicas for s in syncs} == {10}
    assert "Disabled" in syncs[0].reason


def test_scale_down_stabilization_window_holds_the_highest_recommendation():
    # Recommendations 10 (high load until t=60), then 1. With a 60 s window the last 10 (t=45) is inside the
    # window until t=105 (records exactly 60 s old are outside: the controller's After(cutoff)).
    doc = make_hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    syncs = simulate(parse_hpa([doc]), [(0, 500), (60, 50), (300, 50)], 100, start_replicas=10, pod_ready_s=0)
    held = [s for s in syncs if 60 <= s.t < 105]
    assert all(s.replicas == 10 and s.desired == 1 for s in held)
    assert "highest recommendation of the last 60 s" in held[0].reason
    assert next(s for s in syncs if s.replicas < 10).t == 105


def test_scale_up_stabilization_window_holds_the_lowest_recommendation():
    doc = make_hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 30}})
    syncs = simulate(parse_hpa([doc]), [(0, 50), (30, 500), (300, 500)], 100, start_replicas=1, pod_ready_s=0)
    # Recommendation 1 at t=0 and 15, 10 from t=30: at t=30 the 1 of t=15 is in the window; at t=45 it is
    # exactly 30 s old, outside (After(cutoff)), and the default scale-up policy allows max(2 x 1, 1 + 4) = 5.
    assert [s.replicas for s in syncs if s.t <= 60] == [1, 1, 1, 5, 10]
    assert "lowest recommendation of the last 30 s" in syncs[2].reason


def test_scale_up_policy_counts_events_in_its_period():
    # Pods 2 per 60 s: +2 at t=0, then nothing until the event leaves the period (strictly older than 60 s).
    doc = make_hpa(behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}})
    syncs = simulate(parse_hpa([doc]), [(0, 2000), (200, 2000)], 100, start_replicas=2, pod_ready_s=0)
    assert [s.replicas for s in syncs if s.t <= 135] == [4, 4, 4, 4, 6, 6, 6, 6, 8, 8]


# ---- min and max ----


def test_min_and_max_clamp_the_recommendation():
    up = simulate(parse_hpa([make_hpa(2, 6, 50)]), [(0, 5000), (120, 5000)], 100, pod_ready_s=0)
    assert max(s.replicas for s in up) == 6 and up[-1].desired is not None and up[-1].desired > 6
    assert "held at maxReplicas 6" in up[-1].reason
    down = simulate(parse_hpa([make_hpa(2, 6, 50)]), [(0, 0), (400, 0)], 100, start_replicas=4, pod_ready_s=0)
    assert down[-1].replicas == 2 and down[-1].desired == 0


def test_start_outside_the_bounds_is_clamped_without_reading_metrics():
    syncs = simulate(parse_hpa([make_hpa(2, 6, 50)]), [(0, 100), (30, 100)], 100, start_replicas=9)
    assert (syncs[0].replicas, syncs[0].utilization, syncs[0].desired) == (6, None, None)
    assert "above maxReplicas 6" in syncs[0].reason


# ---- new pods ----


def test_new_pods_are_not_ready_before_pod_ready_s_and_then_wait_one_metric_window():
    # One pod at 300% of 50%: 4 at t=0 (max(2 x 1, 4)), ready at t=20; at t=15 the 3 pending pods count as 0%:
    # (300 + 0) / 4 = 75%, ceil(4 x 1.5) = 6. At t=30 three pods serve but are within their first 15 s metric
    # window, so the controller still counts 5 pods as unready (3 in the window, 2 pending).
    syncs = simulate(parse_hpa([make_hpa(1, 10, 50)]), [(0, 300), (120, 300)], 100, pod_ready_s=20)
    assert [(s.replicas, s.ready) for s in syncs[:3]] == [(4, 1), (6, 1), (6, 4)]
    assert "counting 3 not-ready pods at 0%" in syncs[1].reason
    assert "counting 5 unready" in syncs[2].reason
    assert syncs[-1].replicas == 6 and syncs[-1].utilization == 50


def test_the_controller_reads_the_cpu_of_metrics_lag_s_before():
    # A step from 50 to 200 rps at t=60 (capacity 100, target 50%): read fresh, the sync at 60 sees it; read 30 s
    # late, the syncs at 60 and 75 still see 50% (no change) and the one at 90 scales up.
    doc = parse_hpa([make_hpa(1, 10, 50)])
    load = [(0, 50), (60, 200), (300, 200)]
    fresh = simulate(doc, load, 100, pod_ready_s=0)
    late = simulate(doc, load, 100, pod_ready_s=0, metrics_lag_s=30)
    first_up = [next(s.t for s in syncs if s.replicas > 1) for syncs in (fresh, late)]
    assert first_up == [60, 90]
    assert [s.utilization for s in late if s.t in (75, 90)] == [50, 200]
    # Pods added at 90 take their share of what the controller reads only once that reading postdates them.
    assert late[-1].replicas == fresh[-1].replicas == 4


def test_metrics_lag_must_be_finite_and_not_negative():
    with pytest.raises(HpaError, match="metrics-lag-s must be a finite number >= 0"):
        simulate(parse_hpa([make_hpa()]), [(0, 1), (60, 1)], 100, metrics_lag_s=-1)


# ---- input files ----


def test_picks_the_hpa_among_other_documents():
    docs = list(yaml.safe_load_all((FIXTURES / "rendered-overlay.yaml").read_text()))
    scaler = parse_hpa(docs)
    assert (scaler.name, scaler.min_replicas, scaler.max_replicas, scaler.target_utilization) == (
        "model-server",
        2,
        6,
        60,
    )
    assert scaler.scale_down is not None and scaler.scale_down.stabilization_s == 60


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([{"kind": "Service"}], "no HorizontalPodAutoscaler"),
        ([make_hpa(), make_hpa()], "2 HorizontalPodAutoscalers"),
        ([{**make_hpa(), "apiVersion": "autoscaling/v1"}], "expected autoscaling/v2"),
        ([{**make_hpa(), "spec": {**make_hpa()["spec"], "maxReplicas": 0}}], "spec.maxReplicas"),
        (
            [{**make_hpa(), "spec": {**make_hpa()["spec"], "behavior": {"scaleUp": {"selectPolicy": "Fast"}}}}],
            "selectPolicy",
        ),
    ],
)
def test_hpa_errors_are_one_line(docs, message):
    with pytest.raises(HpaError, match=message) as err:
        parse_hpa(docs)
    assert "\n" not in str(err.value)


def test_metrics_other_than_cpu_utilization_are_refused():
    memory = make_hpa()
    memory["spec"]["metrics"][0]["resource"]["name"] = "memory"
    with pytest.raises(HpaError, match="only a Resource cpu metric"):
        parse_hpa([memory])
    two = make_hpa()
    two["spec"]["metrics"] *= 2
    with pytest.raises(HpaError, match="2 metrics"):
        parse_hpa([two])
    none = make_hpa()
    del none["spec"]["metrics"]
    assert parse_hpa([none]).target_utilization == 80  # the API default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,rps\n5,10\n", "start at 0"),
        ("t,rps\n0,10\n0,20\n", "increase"),
        ("t,rps\n0,-1\n", "rps >= 0"),
        ("a,b\n0,1\n", "t,rps"),
        ("t,rps\n0,x\n", "numbers"),
    ],
)
def test_load_file_errors(tmp_path, text, message):
    path = tmp_path / "load.csv"
    path.write_text(text)
    with pytest.raises(HpaError, match=message):
        hpa.read_load(path)


def test_load_is_piecewise_constant_and_the_run_ends_at_the_last_row(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("t,rps\n0,10\n40,30\n100,30\n")
    load = hpa.read_load(path)
    syncs = simulate(parse_hpa([make_hpa()]), load, 100)
    assert [s.t for s in syncs] == [0, 15, 30, 45, 60, 75, 90]
    assert [s.rps for s in syncs] == [10, 10, 10, 30, 30, 30, 30]
