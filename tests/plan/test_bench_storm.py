"""``bench storm``: the scaled scenario by hand, the layer attribution, one tiny run, bad flags."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from netbootsim.cli import main
from netbootsim.plan.bench_storm import (
    format_rows,
    layer_of,
    measure_once,
    reference_wall,
    reference_work,
    storm_scenario,
)
from netbootsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _load(sc, tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(sc))
    return load_scenario(path)


def test_storm_scaled_by_hand(tmp_path):
    # 4,100 servers: ceil(4100 / 40) = 103 racks; ceil(4100 / 2000) = 3 shards of
    # 2,000, 2,000 and 100 servers, each with its own mirror; one DHCP server at
    # 0.5 ms x 2000 / 4100 = 243.902439 us per packet.
    sc = storm_scenario(4100, False, SCENARIOS)
    assert sc["topology"]["racks"] == 103
    assert [g["count"] for g in sc["fleet"]] == [2000, 2000, 100]
    assert [g["server"] for g in sc["fleet"]] == ["http1", "http2", "http3"]
    assert sorted(sc["services"]) == ["dhcp1", "http1", "http2", "http3"]
    assert sc["services"]["dhcp1"]["service_time"] == "243.902439us"
    assert "faults" not in sc
    loaded = _load(sc, tmp_path)  # a valid scenario
    assert sum(g.count for g in loaded.fleet) == 4100


def test_storm_small_keeps_the_measured_dhcp_time_and_variance_adds_draws(tmp_path):
    sc = storm_scenario(40, True, SCENARIOS)
    assert sc["services"]["dhcp1"]["service_time"] == "500us"  # not sped up below 2,000
    assert sc["fleet"][0]["power_on"] == {"policy": "random", "window": "20s"}
    assert sc["faults"] == [{"kind": "stp", "target": "compute-1",
                             "duration": {"dist": "uniform", "low": "0s", "high": "2s"}}]
    assert "post" in sc["fleet"][0]["tune"]
    _load(sc, tmp_path)


def _stack(*paths):
    """Fake frames, innermost first: layer_of reads only f_code.co_filename and f_back."""
    frame = None
    for p in reversed(paths):
        frame = SimpleNamespace(f_code=SimpleNamespace(co_filename=p), f_back=frame)
    return frame


@pytest.mark.parametrize("paths, layer", [
    (["/x/netbootsim/net/engine.py", "/x/netbootsim/fleet/boot.py"], "engine"),
    (["/v/pandas/core/frame.py", "/x/netbootsim/report/figures.py"], "report"),
    (["/x/netbootsim/fleet/results.py"], "records"),  # before the fleet/ prefix
    (["/x/netbootsim/fleet/boot.py"], "fleet"),
    (["/v/simpy/events.py", "/x/netbootsim/fleet/simulate.py"], "simpy"),
    (["/v/heapq.py", "/v/simpy/core.py", "/x/netbootsim/fleet/simulate.py"], "fleet"),
    (["/x/netbootsim/plan/run.py"], "plan"),
    (["/usr/lib/python3.11/importlib/x.py"], "other"),
])
def test_layer_of_innermost_netbootsim_frame(paths, layer):
    assert layer_of(_stack(*paths)) == layer


def test_tiny_storm_in_a_child_process():
    res = measure_once(40, False, SCENARIOS)
    assert res["servers"] == 40 and res["ready"] == 40
    assert res["simpy_events_per_server"] == res["simpy_events"] / 40 > 0
    assert res["cli_wall"] > res["simulation_wall"] > 0
    assert res["cli_cpu"] > 0.5 * res["simulation_wall"]  # its own CPU, not this process's
    assert res["peak_rss_bytes"] > 50 * 2**20  # python + numpy + pandas at least
    assert res["layer_samples"] == {}  # the timed run is not sampled (sampling slows it)
    sampled = measure_once(40, False, SCENARIOS, sample=True)
    assert sum(sampled["layer_samples"].values()) > 0
    table = format_rows([{**res, "variance": False}])
    assert table.splitlines()[2].startswith("| 40 | off | 40 |")


@pytest.mark.parametrize("argv", [["--servers", "0"], ["--servers", "ten"],
                                  ["--servers", "10", "--repeat", "0"],
                                  ["--servers", "10", "--scenarios", "/nonexistent"]])
def test_bad_flags_exit_2(capsys, argv):
    try:
        code = main(["bench", "storm", *argv])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err


def test_json_output(capsys, monkeypatch):
    rows = [{"servers": 1, "variance": False}]
    monkeypatch.setattr("netbootsim.plan.bench_storm.bench_storm", lambda *a, **k: rows)
    assert main(["bench", "storm", "--servers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == rows


def test_cached_bytecode_of_another_tree(tmp_path):
    # a tree holding a package named netbootsim: the child's PYTHONPATH names the tree,
    # and the package is compiled into the cache (not this checkout's)
    from netbootsim.plan.bench_storm import cached_bytecode

    pkg = tmp_path / "tree" / "netbootsim"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("WHO = 'other'\n")
    env = cached_bytecode(tmp_path / "cache", tmp_path / "tree")
    assert env["PYTHONPATH"] == str(tmp_path / "tree")
    assert "PYTHONDONTWRITEBYTECODE" not in env
    compiled = [str(p) for p in (tmp_path / "cache").rglob("*.pyc")]
    assert [c for c in compiled if "/tree/netbootsim/__init__" in c]
    assert not [c for c in compiled if "bench_storm" in c]  # this checkout's: not compiled


def test_machine_reference_does_fixed_work():
    # One event: process 0 pops at t = 0 and draws x = 1 * 6364136223846793005 +
    # 1442695040888963407 = 7806831264735756412 (below 2^64); x >> 40 = 7100271, so its
    # delay is 7100271 % 1000 + 1 = 272 ticks; the checksum is 0 * 31 + 0 + 272 = 272,
    # XOR the one count: 273.
    assert reference_work(1) == 273
    # the same work on every call (no state kept between calls)
    assert reference_work(5000) == reference_work(5000) != reference_work(5001)
    assert 0 < reference_wall(repeat=2, events=2000) < 5.0


def test_format_rows_with_the_reference():
    row = {"servers": 40, "variance": True, "ready": 40, "simulation_wall": 1.0,
           "cli_wall": 3.0, "peak_rss_bytes": 2**30, "simpy_events_per_server": 50.0,
           "classes_per_solve": 1.0, "layer_samples": {}, "reference_wall": 1.5,
           "cli_per_reference": 2.0}
    lines = format_rows([row]).splitlines()
    assert lines[0].startswith("| servers | variance | ready | simulation wall | CLI wall "
                               "| CLI / reference | peak RSS |")
    assert lines[2] == "| 40 | on | 40 | 1.00 s | 3.00 s | 2.00 | 1.00 GiB | 50.0 | 1.0 |"
