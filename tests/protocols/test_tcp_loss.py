"""TCP under drawn loss (``tcp_loss_rounds``): hand-derived rounds, invariants, the lab."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.protocols import TcpParams, http_plan
from netbootsim.protocols.tcp import TCP_CC, tcp_data_time, tcp_loss_rounds
from netbootsim.protocols.wire import TCP_FRAME_OVERHEAD

MSS = 1000
SEG = MSS + TCP_FRAME_OVERHEAD  # wire bytes of a full segment


class Draws:
    """A generator stand-in: the binomials given, in order; uniforms all 0."""

    def __init__(self, lost: list[int]):
        self.lost = list(lost)

    def binomial(self, n: int, p: float) -> int:
        return min(self.lost.pop(0), n) if self.lost else 0

    def random(self) -> float:
        return 0.0


def test_no_loss_is_slow_start_to_the_window_by_hand():
    # init_cwnd 2, rwnd 4 segments, RTT 1 s, no line limit, 10 segments: round 1 sends 2
    # (8 left), round 2 sends 4 (4 left), round 3 sends the last 4 (the window is capped
    # by rwnd): 3 rounds, 3.0 s, no loss, no cut, no tail.
    p = TcpParams(mss=MSS, init_cwnd=2, rwnd=4 * MSS)
    r = tcp_loss_rounds(10 * SEG, p, 1.0, math.inf, 0.0, np.random.default_rng(0))
    assert (r.data_time, r.tail, r.lost, r.cuts) == (3.0, 0.0, 0, 0)
    assert r.bound == pytest.approx(10 * SEG / 3.0) and r.schedule == ()


def test_reno_halves_once_then_adds_a_segment_a_round_by_hand():
    # 20 segments, init 2, rwnd 100, RTT 1 s; round 2 loses 1 of its 4:
    #   r1 send 2 (18 left) w 4 | r2 send 4, 1 lost (15 left): in slow start the window
    #   grew on the ACKs before the loss, 4 + 4 / (1 + 1) = 6, halved: w 3; step at t=2
    #   r3 send 3 (12) w 4 | r4 send 4 (8) w 5 | r5 send 5 (3) w 6
    #   r6 sends the last 3 of a window of 6: half a round (the fluid law's window / RTT),
    #   ends at 5.5 s.
    # Steps: 5 segments over [0, 2) then 15 over [2, 5.5): 5.5 s by schedule_time.
    p = TcpParams(mss=MSS, init_cwnd=2, rwnd=100 * MSS)
    r = tcp_loss_rounds(20 * SEG, p, 1.0, math.inf, 0.5, Draws([0, 1]), "reno")
    assert (r.data_time, r.lost, r.cuts, r.tail) == (pytest.approx(5.5), 1, 1, 0.0)
    assert r.bound == pytest.approx(5 * SEG / 2)
    assert r.schedule == ((2.0, pytest.approx(15 * SEG / 3.5)),)


def test_bbr_does_not_cut_and_cubic_cuts_to_seven_tenths():
    # The same draws: BBR keeps doubling (r1 2, r2 4 with 1 lost, r3 8, r4 the last 7 of
    # a window of 16): 3 full rounds then 7/16 of one = 3.4375 s. CUBIC: r1 2, r2 4
    # (1 lost) -> the window grown to 6 is cut to 6 × 0.7 = 4.2 -> r3 sends 4, then
    # grows by the Reno-friendly 0.53 a round.
    p = TcpParams(mss=MSS, init_cwnd=2, rwnd=100 * MSS)
    bbr = tcp_loss_rounds(20 * SEG, p, 1.0, math.inf, 0.5, Draws([0, 1]), "bbr")
    assert (bbr.data_time, bbr.cuts, bbr.lost) == (pytest.approx(3.4375), 0, 1)
    cubic = tcp_loss_rounds(20 * SEG, p, 1.0, math.inf, 0.5, Draws([0, 1]), "cubic")
    assert cubic.cuts == 1 and cubic.data_time > bbr.data_time


def test_the_last_segment_lost_waits_for_the_tail_probe():
    # 4 segments, init 10: one round sends all 4 and loses 1; the uniform draw (0.0) puts
    # it last: its resend comes a round later plus the probe's extra, RTT + 200 ms
    # (PTO = 2 SRTT + TCP_RTO_MIN alone in flight).
    p = TcpParams(mss=MSS, init_cwnd=10, rwnd=100 * MSS)
    r = tcp_loss_rounds(4 * SEG, p, 0.01, math.inf, 0.5, Draws([1, 0]), "cubic")
    assert r.tail == pytest.approx(0.01 + 0.2) and r.lost == 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), segs=st.integers(1, 3000),
       rtt=st.floats(1e-4, 0.2), loss=st.floats(0.0, 0.2), cc=st.sampled_from(TCP_CC),
       warm=st.booleans())
def test_loss_never_speeds_a_transfer_and_the_steps_add_up(seed, segs, rtt, loss, cc, warm):
    p = TcpParams()
    wire = segs * (p.mss + TCP_FRAME_OVERHEAD)
    line = 1.25e9
    clean = tcp_loss_rounds(wire, p, rtt, line, 0.0, np.random.default_rng(0), cc, warm)
    r = tcp_loss_rounds(wire, p, rtt, line, loss, np.random.default_rng(seed), cc, warm)
    assert r.data_time >= clean.data_time * (1 - 1e-9)
    assert r.tail in (0.0, rtt + 0.2) and r.lost >= 0 and r.cuts <= r.lost
    times = [0.0, *(t for t, _ in r.schedule)]
    assert times == sorted(times) and all(b > 0 for _, b in r.schedule) and r.bound > 0
    if cc == "bbr":
        assert r.cuts == 0


def test_without_loss_the_rounds_agree_with_the_fluid_law():
    # The fluid law doubles from IW to rwnd/RTT; the rounds do the same whole rounds:
    # an 8 MiB fetch at RTT 5.4 ms, 256 KiB window, within 3 %.
    p = TcpParams()
    wire = 8 * 2**20 * (p.mss + TCP_FRAME_OVERHEAD) / p.mss
    law = tcp_data_time(wire, p, 0.0054, 1.25e8)
    drawn = tcp_loss_rounds(wire, p, 0.0054, 1.25e8, 0.0, np.random.default_rng(0))
    assert drawn.data_time == pytest.approx(law, rel=0.03)


def test_http_plan_draws_only_with_a_generator_and_loss():
    p = TcpParams()
    same = http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.01)
    drawn = [http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.01, rng=np.random.default_rng(s))
             for s in range(20)]
    assert len({round(d.data_time, 9) for d in drawn}) > 5  # a spread across draws
    again = http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.01, rng=np.random.default_rng(3))
    assert again == drawn[3]
    assert http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.0, rng=np.random.default_rng(3)) == \
        http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.0)
    # BBR's expected-value law has no loss bound; CUBIC's is Mathis's
    assert http_plan(2 * 2**20, p, 0.005, 1.25e8, 0.01, cc="bbr").data_time < \
        same.data_time / 5


def test_the_expected_value_steady_bound_per_sender_by_hand():
    # MSS 1000, rwnd 4 segments, RTT 1 s, loss 0.5, φ = 1090 / 1000:
    #   reno/cubic: min(4000 φ, 1000 φ × sqrt(1.5) / sqrt(0.5)) = 1000 φ × sqrt(3)
    #   bbr: 4000 φ / (1 + q), q = 1 - 0.5^4 = 0.9375 (a full window holds a loss)
    # The restart after a timeout ends at the same bound (recovery.tcp_restart_schedule).
    from netbootsim.protocols.recovery import tcp_restart_schedule
    from netbootsim.protocols.tcp import steady_bound

    p = TcpParams(mss=MSS, init_cwnd=1, rwnd=4 * MSS)
    phi = SEG / MSS
    assert steady_bound(p, 1.0, 0.5, "reno") == pytest.approx(1000 * phi * math.sqrt(3))
    assert steady_bound(p, 1.0, 0.5, "cubic") == steady_bound(p, 1.0, 0.5, "reno")
    assert steady_bound(p, 1.0, 0.5, "bbr") == pytest.approx(4000 * phi / 1.9375)
    assert steady_bound(p, 1.0, 0.0, "bbr") == pytest.approx(4000 * phi)
    _, changes = tcp_restart_schedule(p, 1.0, math.inf, 4000.0, 0.5, "bbr")
    assert changes[-1][1] == pytest.approx(4000 * phi / 1.9375)


@pytest.mark.parametrize("cc", ["reno", "cubic"])
def test_a_warm_connection_under_loss_starts_at_the_mathis_window_by_hand(cc):
    # A kept-alive connection that carried a receive window under 1 % loss before: its
    # window is where that loss left it, about the Mathis window C / sqrt(p) = sqrt(3/2)
    # / 0.1 = 12.25 segments (steady_bound x RTT over a segment), not the receiver's 40.
    # Draws: no loss in round 1, so it sends floor(12.25) = 12 segments in 1 s, then 2
    # lost of the next round's (Reno: 13 sent after +1; CUBIC: 12.25 + alpha 0.53 ->
    # floor 12, its cubic curve flat at first), which ends the first step at the cut.
    p = TcpParams(mss=MSS, rwnd=40 * MSS)
    r = tcp_loss_rounds(400 * SEG, p, 1.0, math.inf, 0.01, Draws([0, 2]), cc=cc, warm=True)
    second = 13 if cc == "reno" else 12
    assert r.bound == pytest.approx((12 + second - 2) * SEG / 2.0)
    # without loss the warm window is the receiver's: 40 segments a round from the start
    r0 = tcp_loss_rounds(400 * SEG, p, 1.0, math.inf, 0.0, Draws([]), cc=cc, warm=True)
    assert r0.data_time == pytest.approx(10.0) and r0.bound == pytest.approx(40 * SEG)
    # BBR does not cut on loss: its warm window stays open
    rb = tcp_loss_rounds(400 * SEG, p, 1.0, math.inf, 0.01, Draws([0] * 20), cc="bbr",
                         warm=True)
    assert rb.bound == pytest.approx(40 * SEG)
