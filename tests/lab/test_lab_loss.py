"""Loss as the lab sees it (issue 17, item 5): the drawn TCP law against lab/traces6.

No QEMU: the committed runs of ``lab/matrix6.yaml`` (HTTP at RTT 5 ms, 1 % loss each way,
the server's congestion control CUBIC, Reno or BBR; relay seeds 1-3 twice, 4-12 once).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from netbootsim.lab.config import load_config
from netbootsim.lab.lossround import (
    BEGIN,
    END,
    FRAMES_BEFORE,
    FrameLosses,
    congestion_control,
    frames_before_kernel,
    main,
    relay_losses,
    rows,
)
from netbootsim.lab.relay import DelayLine, direction_rngs
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
    # these runs (docs/calibration.md, Loss as the lab sees it), law vs lab mean, since
    # recovery episodes reach into the next round (2026-12-06): CUBIC -4 % (8 MiB) and
    # +2 % (2 MiB), Reno +6 % and +9 %, BBR -6 % and -9 %: all within the 10 %.
    # (Cut once per round with a loss, CUBIC's 2 MiB was +14 % and Reno's +17 %.)
    for cc in ("cubic", "reno", "bbr"):
        for phase in ("fetch:initrd", "fetch:kernel"):
            sel = [r for r in table if r["cc"] == cc and r["phase"] == phase]
            assert len(sel) == 15 and len({r["seed"] for r in sel}) == 12
            law = statistics.mean(r["drawn_mean_s"] for r in sel)
            assert law == pytest.approx(_lab_mean(sel), rel=0.10), (cc, phase)
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


# ------------------------------------------------- the law on the relay's own losses
def test_frame_losses_hand_the_law_the_relays_frames_in_turn():
    # Frames 0..6 lost as F F T F T T F; the kernel starts at frame 1. A round of 3 takes
    # frames 1-3 (F T F): 1 lost, its last frame kept, so "was the last segment lost?"
    # answers no (random() = 1.0 is never below lost / send). The next round of 3 takes
    # frames 4-6 (T T F): 2 lost. Nothing is left for a third round: an error, not a
    # silent draw.
    lost = np.array([False, False, True, False, True, True, False])
    src = FrameLosses(lost, 1)
    assert src.binomial(3, 0.01) == 1 and src.random() == 1.0
    assert src.binomial(3, 0.01) == 2 and src.pos == 7
    with pytest.raises(ValueError, match="draws end"):
        src.binomial(1, 0.01)
    src = FrameLosses(np.array([False, True]), 0)
    assert src.binomial(2, 0.01) == 1 and src.random() == 0.0  # its last frame lost


def test_the_relays_losses_are_told_again_from_its_seed():
    # Every lossy run's relay counted the frames it dropped from the server: the draws
    # made again from its seed drop as many among as many frames.
    runs = [d for d in TRACES.iterdir() if (d / "relay.json").is_file()]
    assert len(runs) >= 36
    for d in runs:
        stats = json.loads((d / "relay.json").read_text())
        lost = relay_losses(d)
        assert int(lost[:stats["ba"]["frames_in"]].sum()) == stats["ba"]["frames_dropped"], d
    # and the relay's own delay line, given the same generator, drops the same frames
    line = DelayLine(0.0, 0.01, direction_rngs(1)[1])
    kept = [line.push(b"x", 0.0) for _ in range(5000)]
    assert [not k for k in kept] == relay_losses(TRACES / "http-loss1-cubic-s1-r1")[:5000].tolist()


def test_the_frames_before_the_kernel_are_counted_in_the_captures():
    for cc in ("cubic", "reno", "bbr"):
        assert frames_before_kernel(TRACES / f"http-loss1-{cc}-s1-r1") == FRAMES_BEFORE[cc]


def test_on_the_runs_own_losses_the_law_holds_cubic_and_misses_reno(table):
    # Seed by seed, the same frames lost (2026-12-06): CUBIC's kernel +5 % and initrd
    # -1 %, within 10 %; Reno's kernel +14 % and initrd +10 %, slow on nearly every seed.
    # A 0.5 ms client delay a round instead of the profile's 1.532 ms would fit Reno's
    # kernel (-3 %) but take CUBIC's below (-11 %): not the delay.
    def bias(cc, phase, key):
        sel = [r for r in table if r["cc"] == cc and r["phase"] == phase]
        return statistics.mean(key(r) for r in sel) / statistics.mean(
            r["measured_s"] for r in sel) - 1
    for phase in ("fetch:kernel", "fetch:initrd"):
        assert abs(bias("cubic", phase, lambda r: r["replayed_s"])) < 0.10
    assert 0.10 < bias("reno", "fetch:kernel", lambda r: r["replayed_s"]) < 0.25
    assert bias("cubic", "fetch:kernel", lambda r: r["replayed_by_delay_s"][0.0005]) < -0.05
    # where the loss barely matters (BBR), the replay and the drawn law agree within 5 %
    for phase in ("fetch:kernel", "fetch:initrd"):
        sel = [r for r in table if r["cc"] == "bbr" and r["phase"] == phase]
        assert statistics.mean(r["replayed_s"] for r in sel) == pytest.approx(
            statistics.mean(r["drawn_mean_s"] for r in sel), rel=0.05)


def test_a_recovery_episode_reaches_into_the_next_round():
    # 40 segments of 1 KB (mss 1000 + 90 B of headers: wire = 40 x 1090 B), RTT 1 s, no line or
    # receiver limit worth naming, Reno, the relay's own losses: frames 0-9 (round 1,
    # window 10) lose frame 5 -> cut (slow start: the window first grew by 10 / 2 = 5 to
    # 15, halved to 7.5), the first loss sat 10 / (1 + 1) = 5 in, so the episode reaches
    # 2 x 5 = 10 segments into round 2. Round 2 sends 7 (frames 10-16) and loses frame
    # 12: inside the episode, resent, no cut: the window grows by one (Reno, now in
    # congestion avoidance) to 8.5. Cut once per round with a loss, round 2 would halve
    # it to 3.75 instead.
    from netbootsim.protocols.tcp import TcpParams, tcp_loss_rounds
    from netbootsim.protocols.wire import TCP_FRAME_OVERHEAD

    lost = np.zeros(200, dtype=bool)
    lost[[5, 12]] = True
    params = TcpParams(mss=1000, rwnd=10**6, init_cwnd=10)
    got = tcp_loss_rounds(40 * (1000 + TCP_FRAME_OVERHEAD), params, 1.0, float("inf"), 0.01,
                          FrameLosses(lost, 0), cc="reno")
    assert got.lost == 2 and got.cuts == 1


def test_the_captures_rounds_against_the_laws(table):
    # The seed-1 captures (docs/calibration.md, the rounds table): the lab's rounds last
    # 5.3-6.1 ms at RTT ~5.2 ms, the law's 6.7-6.8 ms (its RTT plus the client's 1.53 ms a
    # round, fitted on 181-segment rounds); Reno's law makes nearly as many rounds as Linux
    # (within 10 %), CUBIC's ~18 % fewer (Linux's CUBIC updates its increase at most 32
    # times a second while its window stands still, so its window grows in steps).
    from netbootsim.lab.lossround import capture_rounds

    for cc in ("cubic", "reno"):
        run = TRACES / f"http-loss1-{cc}-s1-r1"
        for response, phase in ((2, "fetch:kernel"), (3, "fetch:initrd")):
            rounds, secs, frames = capture_rounds(run, response)
            row = next(r for r in table if r["run"] == run.name and r["phase"] == phase)
            assert 5.2e-3 < secs / rounds < 6.2e-3 < row["replay_round_s"]
            short = row["replay_rounds"] / rounds - 1
            assert (-0.10 < short < 0) if cc == "reno" else (short < -0.15), (cc, phase)
    n, secs, frames = capture_rounds(TRACES / "http-loss1-reno-s1-r1", 2)
    assert (n, frames) == (145, 1450) and secs == pytest.approx(0.814, abs=1e-3)
