"""Loss as the lab sees it (issue 17, item 5): the drawn TCP law against lab/traces6.

No QEMU: the committed runs of ``lab/matrix6.yaml`` (HTTP at RTT 5 ms, 1 % loss each way,
the server's congestion control CUBIC, Reno or BBR; relay seeds 1-3 twice, 4-12 once).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from netbootsim.lab.config import load_config
from netbootsim.lab.lossround import BEGIN, END, congestion_control, main, rows
from netbootsim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "lab" / "traces6"


@pytest.fixture(scope="module")
def table():
    return rows(sorted(str(d) for d in TRACES.iterdir() if (d / "run.json").is_file()))


def test_each_run_says_its_sender(tmp_path):
    ccs = {d.name: congestion_control(d) for d in TRACES.iterdir() if d.is_dir()}
    assert {c for n, c in ccs.items()} == {"cubic", "reno", "bbr"}
    assert all(c in n for n, c in ccs.items())  # the cell's name says the same
    assert congestion_control(ROOT / "lab" / "traces" / "http-loss1-r1") == "unrecorded"
    assert load_config(ROOT / "lab" / "matrix6" / "http-loss1-bbr-s1.yaml").tcp_cc == "bbr"


def _lab_mean(sel):
    """Mean over relay seeds (a seed's runs lose nearly the same frames: averaged first)."""
    seeds = sorted({r["seed"] for r in sel})
    return statistics.mean(statistics.mean(r["measured_s"] for r in sel if r["seed"] == x)
                           for x in seeds)


def test_the_drawn_law_holds_the_lab_mean_per_sender(table):
    # The lab: 12 relay seeds per sender (seeds 1-3 run twice). What the law reaches on
    # these runs (docs/calibration.md, Loss as the lab sees it), law vs lab mean: CUBIC
    # -1 % (8 MiB) and +14 % (2 MiB), Reno +9 % and +17 %, BBR -6 % and -9 %. The 8 MiB
    # initrd (a warm kept-alive connection, its window where the kernel's loss left it)
    # within the 10 % for every sender; the 2 MiB kernel (a new connection, its
    # time set by where the first loss falls) within 20 %, missed at 10 % for CUBIC and
    # Reno (the lab means' own standard errors are 11 % and 7 % there).
    for cc in ("cubic", "reno", "bbr"):
        for phase, tol in (("fetch:initrd", 0.10), ("fetch:kernel", 0.20)):
            sel = [r for r in table if r["cc"] == cc and r["phase"] == phase]
            assert len(sel) == 15 and len({r["seed"] for r in sel}) == 12
            law = statistics.mean(r["drawn_mean_s"] for r in sel)
            assert law == pytest.approx(_lab_mean(sel), rel=tol), (cc, phase)
    # BBR keeps going through loss: several times faster than CUBIC, lab and law alike
    lab = {cc: _lab_mean([r for r in table if r["cc"] == cc and r["phase"] == "fetch:initrd"])
           for cc in ("cubic", "bbr")}
    assert lab["cubic"] > 5 * lab["bbr"]


def test_the_section_writes_between_its_markers(tmp_path):
    out = tmp_path / "calibration.md"
    out.write_text("# Calibration\n")
    assert main([str(TRACES), "--out", str(out)]) == 0
    text = out.read_text()
    assert BEGIN in text and END in text and "| cubic | initrd 8 MiB | 15 / 12 |" in text


def test_a_mirror_names_its_congestion_control():
    from ruamel.yaml import YAML

    from netbootsim.errors import InputError

    base = YAML(typ="safe").load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    name = next(n for n, s in base["services"].items() if s["kind"] == "http")
    base["services"][name]["tcp_cc"] = "bbr"
    assert Scenario.from_dict(base).services[name].tcp_cc == "bbr"
    base["services"][name]["tcp_cc"] = "vegas"
    with pytest.raises(InputError, match="tcp_cc"):
        Scenario.from_dict(base)
    base["services"][name]["tcp_cc"] = "bbr"
    base.setdefault("run", {})["engine"] = "packet"
    with pytest.raises(InputError, match="packet engine"):
        Scenario.from_dict(base)
