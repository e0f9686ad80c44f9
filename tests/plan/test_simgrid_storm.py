"""benchmarks/simgrid_storm.py: the storm's flows exported, replayed, and compared with SimGrid."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "simgrid_storm.py"
_spec = importlib.util.spec_from_file_location("simgrid_storm", _PATH)
ss = importlib.util.module_from_spec(_spec)
sys.modules["simgrid_storm"] = ss  # its dataclass looks itself up there
_spec.loader.exec_module(ss)

needs_simgrid = pytest.mark.skipif(importlib.util.find_spec("simgrid") is None,
                                   reason="SimGrid 4.1 not installed (pip install -e '.[peers]')")


def _hand_export():
    # One link L of 100 B/s shared by A (100 B, no bound) and B (150 B, own bound 40 B/s,
    # a schedule step to 80 B/s 1 s after its start), both from t = 0; B gets a ceiling
    # of 20 B/s at 0.5 s, lifted at 2 s. C (100 B) on its own link M, cancelled at 1 s.
    inf = math.inf
    return ss.Export(
        resources=[("L", 100.0), ("M", 10.0)],
        flows=[("A", 0.0, 100.0, (0,), inf, inf, ()),
               ("B", 0.0, 150.0, (0,), 40.0, inf, ((1.0, 80.0),)),
               ("C", 0.0, 100.0, (1,), inf, inf, ())],
        starts=[1, 2, 3],
        calls=[(0.5, 4, ss.CEILING, 1, 20.0), (1.0, 5, ss.CANCEL, 2, 0.0),
               (2.0, 6, ss.CEILING, 1, inf)],
        ends=[math.nan] * 3, cancelled=[False, False, True])


# By hand: 0-0.5 s B at 40, A at 60 (A 30 B, B 20 B); 0.5-1 s B at its ceiling 20, A 80
# (A 70, B 30); at 1 s B's step to 80 is held at the ceiling 20, A needs 30 more at 80:
# ends at 1.375 (B 37.5); B alone at 20 until 2 s (B 50); the ceiling lifted, 100 B at
# 80 B/s: B ends at 3.25. C is cancelled: no end.
HAND_ENDS = [1.375, 3.25]
# Plain (one constant bound each: B at 80, no ceiling): both at 50 until A's 100 B end at
# 2 s (B 100); B alone at 80 for its last 50 B: 2.625 s.
PLAIN_ENDS = [2.0, 2.625]


def test_storm_overrides_scale_the_shipped_storm():
    assert ss.storm_overrides(2000) == [
        "topology.racks=50", "fleet[0].count=2000", "fleet[0].server=http1",
        "services.http1.workers=4000", "services.dhcp1.model=isc-dhcpd"]
    for bad in (0, 39, 2001):
        with pytest.raises(ValueError):
            ss.storm_overrides(bad)


def test_replay_of_a_hand_case_in_netbootsim():
    ex = _hand_export()
    ends = ss.replay_netbootsim(ex)["ends"]
    assert ends[:2] == pytest.approx(HAND_ENDS, abs=1e-9)
    assert math.isnan(ends[2])
    assert ss.replay_netbootsim(ex.plain())["ends"][:2] == pytest.approx(PLAIN_ENDS, abs=1e-9)


def test_bound_links_start_at_the_largest_bound_a_flow_will_have():
    # B: 40, then the ceiling 20, its step to 80 (held at 20), the ceiling lifted: 80.
    # A and C have no bound: the platform's largest capacity, 100.
    assert ss._highest_bounds(_hand_export(), 100.0) == [100.0, 80.0, 100.0]


def test_the_export_replays_the_storm_exactly():
    # 40 servers (one rack): a kernel and an initrd each over HTTP, all ready. The replay
    # makes the same engine calls at the same times, so it ends every flow when the
    # storm's engine did (up to float rounding where calls of one instant come in
    # another order), with the same engine work.
    ex, info = ss.export_storm(40)
    assert info["ready"] == 40
    assert len(ex.flows) == 80 and not any(ex.cancelled)
    assert sorted({f[0].split("/")[1] for f in ex.flows}) == ["initrd", "kernel"]
    assert all(len(f[3]) == 4 for f in ex.flows)  # mirror, leaf -> spine -> ToR, server
    res = ss.replay_netbootsim(ex)
    assert res["events"] == info["events"] and res["solves"] == info["solves"]
    assert ss.compare(res["ends"], ex.ends)[0] <= 1e-9


@pytest.mark.slow
@needs_simgrid
def test_simgrid_replays_the_hand_case():
    ends = ss.run_simgrid(_hand_export())["ends"]
    assert ends[:2] == pytest.approx(HAND_ENDS, abs=1e-9)
    assert math.isnan(ends[2])
    assert ss.run_simgrid(_hand_export().plain())["ends"][:2] == pytest.approx(PLAIN_ENDS,
                                                                               abs=1e-9)


@pytest.mark.slow
@needs_simgrid
def test_simgrid_agrees_with_netbootsim_on_a_small_storm():
    # SimGrid's raw (max-min) model on the same flows, bounds and bound changes ends every
    # flow within 1 us of netbootsim (docs/performance.md: ~1e-12 s at 10,000 servers).
    # The plain row: the same flows with constant bounds, in both.
    row, plain = ss.compare_storm(80, plain=True)
    assert row["flows"] == 160 and row["compared"] == 160
    assert row["bound_changes"] == row["schedule_steps"] + row["calls"]["set_ceiling"]
    assert row["replay_vs_storm_seconds"] <= 1e-9
    assert row["max_abs_diff_seconds"] <= 1e-6
    assert row["simgrid_vs_storm_seconds"] <= 1e-6
    assert plain["variant"] == "plain" and plain["bound_changes"] == 0
    assert plain["compared"] == 160 and plain["max_abs_diff_seconds"] <= 1e-6
