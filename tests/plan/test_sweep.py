"""The cliff finder: crossings of the not-ready fraction, rising and falling."""

import pytest

from netbootsim.plan.sweep import crossing


def test_rising_crossing_interpolates():
    # 0 at 50 servers, 1/3 at 75: 1 % is reached at 50 + 0.01/(1/3) × 25 = 50.75
    assert crossing([25, 50, 75, 100], [0.0, 0.0, 1 / 3, 0.5], 0.01) == 50.75
    assert crossing([25, 50, 75, 100], [0.0, 0.0, 1 / 3, 0.5], 0.5) == 100


def test_falling_crossing_against_the_cap():
    # all fail until the cap reaches 1000, none at 2000: below 50 % at 1000 + 0.5 × 1000
    assert crossing([50, 1000, 2000], [1.0, 1.0, 0.0], 0.5) == 1500.0
    assert crossing([50, 1000, 2000], [1.0, 1.0, 0.0], 0.01) == 1990.0


def test_never_crosses():
    assert crossing([1, 2, 3], [0.0, 0.0, 0.0], 0.01) is None
    assert crossing([], [], 0.5) is None


def test_turns_are_where_the_curve_changes_direction():
    # 250: 1.0, 500: 0.5, 1000: 0.75 (the shipped count sweep's shape): down, then up
    # at 500; flat from 1000 to 2000, then down: it turned at 1000, where the plateau began
    from netbootsim.study.sweep import _turns

    rows = [{"n": n} for n in (250, 500, 1000, 2000, 4000)]
    assert _turns(rows, [1.0, 0.5, 0.75, 0.75, 0.25]) == [{"n": 500}, {"n": 1000}]
    assert _turns(rows, [0.0, 0.0, 0.1, 0.5, 1.0]) == []  # monotone: none
    assert _turns(rows[:1], [0.3]) == []


def test_turns_within_the_replications_noise_are_not_turns():
    # Each point: mean ± 0.05 (its 95 % interval from replications). Wandering 0.20,
    # 0.25, 0.22, 0.27: every interval overlaps the extreme's ([0.15, 0.25] against
    # [0.20, 0.30]), so no direction is ever taken: no turns (one seed each, the same
    # curve turns twice, at 0.25 and at 0.22).
    from netbootsim.study.sweep import _turns

    def rows(ys, half=0.05):
        return [{"n": k, "not_ready_lo": y - half, "not_ready_hi": y + half}
                for k, y in enumerate(ys)]

    wander = [0.20, 0.25, 0.22, 0.27]
    assert _turns(rows(wander), wander) == []
    assert [r["n"] for r in _turns([{"n": k} for k in range(4)], wander)] == [1, 2]
    # A rise to 0.5, then a slow fall of 0.03 a point: no step leaves the interval of the
    # one before, but 0.38 ([0.33, 0.43]) lies clear of the peak's [0.45, 0.55]: the
    # curve turned at the peak (n = 1), found once it has fallen far enough.
    slow = [0.10, 0.50, 0.47, 0.44, 0.41, 0.38]
    assert [r["n"] for r in _turns(rows(slow), slow)] == [1]
    assert _turns(rows(slow[:5]), slow[:5]) == []  # 0.41 ± 0.05 still touches the peak's
    # The turn is at the extreme, however wide its own interval: 0.2, 0.5 (± 0.4), 0.35,
    # 0.1 rises clear at 0.35 (above 0.2 ± 0.01) and falls clear at 0.1 (below 0.35 ±
    # 0.01; 0.5's interval still reaches it): it turned at 0.5 (n = 1), not at 0.35.
    def widths(ys, halves):
        return [{"n": k, "not_ready_lo": y - h, "not_ready_hi": y + h}
                for k, (y, h) in enumerate(zip(ys, halves, strict=True))]

    peak = [0.2, 0.5, 0.35, 0.1]
    assert [r["n"] for r in _turns(widths(peak, [.01, .4, .01, .01]), peak)] == [1]
    # ... and the trough is the lowest point: 0.1, 0.5, 0.30 (± 0.25), 0.35, 0.7 falls
    # clear at 0.35 (below 0.5 ± 0.02), rises clear at 0.7: turns at 0.5 and at 0.30
    trough = [0.1, 0.5, 0.30, 0.35, 0.7]
    got = _turns(widths(trough, [.02, .02, .25, .02, .02]), trough)
    assert [r["n"] for r in got] == [1, 2]
    # a NaN bound is no interval: as without replications
    nan = [{"n": k, "not_ready_lo": float("nan"), "not_ready_hi": float("nan")}
           for k in range(4)]
    assert [r["n"] for r in _turns(nan, wander)] == [1, 2]
    # Intervals of zero width (every replication alike) are exact: as without them.
    exact = [1.0, 0.5, 0.75, 0.75, 0.25]
    assert [r["n"] for r in _turns(rows(exact, 0.0), exact)] == [1, 2]


def test_sweep_command_on_the_cliff_scenario(tmp_path):
    # tftp-cliff at 50 servers, varying tftp-max 10 / 50: at 10 the fleet collapses (the
    # duplicate-RRQ orphans), at 50 everyone is ready; the 50 % crossing lies between.
    import json
    from pathlib import Path

    from netbootsim.cli import main

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "sw"
    code = main(["sweep", str(root / "scenarios" / "tftp-cliff" / "050-servers.yaml"),
                 "--vary", "services.tftp1.max_sessions=10,50", "--out", str(out)])
    assert code == 0
    res = json.loads((out / "summary.json").read_text())
    assert res["values"][0] == 10 and res["values"][-1] == 50
    assert res["not_ready_fraction"][-1] == 0.0 and res["not_ready_fraction"][0] > 0.5
    # the crossings were bisected: every value added lies between the grid's two
    added = res["cliff"]["refined"]
    assert added and all(10 < int(v) < 50 for v in added)
    assert sorted(res["values"]) == res["values"]
    assert 10 < res["crosses_50pct"] < 50
    # the cliff, named by the swept field; the flat keys say the same
    cliff = res["cliff"]
    assert cliff["vary"] == "services.tftp1.max_sessions"
    assert cliff["crosses_50pct"] == res["crosses_50pct"]
    assert cliff["crosses_1pct"] == res["crosses_1pct"]
    assert cliff["deadline_s"] == 1200.0
    assert cliff["turns"] == []  # falls from 10 to 50: monotone
    # the points table: one record per run, as in sweep.csv
    assert [p["services.tftp1.max_sessions"] for p in res["points"]] == res["values"]
    assert [p["not_ready_fraction"] for p in res["points"]] == res["not_ready_fraction"]
    assert res["points"][-1]["completed"] == res["points"][-1]["servers"] == 50
    # only the summary is kept (beside the marker that says netbootsim wrote it)
    assert sorted(p.name for p in (out / "10").iterdir()) == [".netbootsim", "summary.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".netbootsim", *(str(v) for v in res["values"]), "runs.jsonl", "study.json",
         "summary.json", "sweep.csv", "sweep.md"])


def test_refinement_finds_a_step_the_grid_misses(tmp_path):
    # tftp-cliff at 50 servers: all fail below some cap, all ready from a cap on. On the
    # grid 10, 50 alone the 50 % crossing reads as the midpoint 30 (linear); bisection
    # puts it at the values that bracket the step, within one slot.
    import json
    from pathlib import Path

    from netbootsim.cli import main

    root = Path(__file__).resolve().parents[2]
    sc = str(root / "scenarios" / "tftp-cliff" / "050-servers.yaml")
    coarse, fine = tmp_path / "coarse", tmp_path / "fine"
    assert main(["sweep", sc, "--vary", "services.tftp1.max_sessions=10,50", "--refine", "0",
                 "--out", str(coarse)]) == 0
    assert main(["sweep", sc, "--vary", "services.tftp1.max_sessions=10,50", "--refine", "6",
                 "--out", str(fine)]) == 0
    c = json.loads((coarse / "summary.json").read_text())
    f = json.loads((fine / "summary.json").read_text())
    assert c["cliff"]["refined"] == [] and c["crosses_50pct"] == 30.0
    pts = {p["services.tftp1.max_sessions"]: p["not_ready_fraction"] for p in f["points"]}
    x = f["crosses_50pct"]
    below = max(v for v in pts if v <= x)
    above = min(v for v in pts if v > x) if any(v > x for v in pts) else below
    assert above - below <= 1  # bracketed to adjacent whole values
    assert pts[below] >= 0.5 > pts[above] or below == above


@pytest.mark.parametrize("vary, line", [
    ("fleet[0].count=10,20,abc",
     "--vary fleet[0].count=10,20,abc: fleet[0].count: value 'abc': expected an integer, "
     "got 'abc'"),
    # a value the schema takes but placement refuses: the rack has 40 servers
    ("fleet[0].count=10,20,500",
     "--vary fleet[0].count=10,20,500: fleet[0].count: value '500': asks for 500 servers "
     "but only 40 are free (the topology has 40; earlier groups took 0)"),
])
def test_sweep_checks_every_value_before_the_first_point_runs(tmp_path, capsys, vary, line):
    # the bad value is the last: if points ran before it was checked, "10" and "20"
    # would be left behind; nothing at all may be written
    from pathlib import Path

    from netbootsim.cli import main

    root = Path(__file__).resolve().parents[2]
    code = main(["sweep", str(root / "scenarios" / "quickstart.yaml"), "--vary", vary,
                 "--out", str(tmp_path / "sw")])
    assert code == 2
    assert capsys.readouterr().err == line + "\n"
    assert list(tmp_path.iterdir()) == []
