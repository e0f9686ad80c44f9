"""TFTP and TCP/HTTP laws by hand, and the flow engine reproducing them to 1e-6."""

import math
import subprocess
import sys

import pytest
import simpy

from netbootsim.net import FlowEngine, Resource
from netbootsim.net.transfer import transfer
from netbootsim.protocols import TcpParams, TftpParams, http_plan, retry_waits, tftp_plan
from netbootsim.protocols.tcp import MATHIS_C

GBPS = 1e9 / 8


def run_one(plan, caps):
    env = simpy.Environment()
    eng = FlowEngine(env)
    path = [Resource(f"h{i}", c) for i, c in enumerate(caps)]
    out = {}

    def proc():
        out["r"] = yield from transfer(env, eng, path, plan)

    env.process(proc())
    env.run()
    return out["r"]


def test_tftp_style_example_no_serialisation():
    # 1 MiB, blksize 1432, windowsize 1, RTT 200 us, client 60 us/block, no hops:
    # blocks = 1048576 // 1432 + 1 = 733; 200 us + 733 × (200 + 60) us = 0.19078 s
    plan = tftp_plan(1048576, TftpParams(client_block_delay=60e-6), 200e-6, ())
    assert plan.blocks == 733
    assert plan.seconds == pytest.approx(0.19078, rel=1e-9)


def test_tftp_issue_example_in_engine():
    # 80 MiB = 83886080 B, blksize 1468, 1 Gbps, RTT 200 us, client 1 ms/block.
    # 83886080 = 57143 × 1468 + 156 -> blocks = 57144 (last carries 156 B).
    # wire = 57143 × (1468 + 70) + (156 + 70) = 87886160 B -> 0.70308928 s at 1 Gbps.
    # time = 200 us + 57144 × (200 us + 1 ms) + 0.70308928 s = 69.27608928 s
    params = TftpParams(blksize=1468, client_block_delay=1e-3)
    plan = tftp_plan(83886080, params, 200e-6, (GBPS,))
    assert (plan.blocks, plan.wire_bytes) == (57144, 87886160)
    assert plan.seconds == pytest.approx(69.27608928, rel=1e-9)
    result = run_one(plan, [GBPS])
    assert result.seconds == pytest.approx(69.27608928, rel=1e-6)
    assert result.bytes == 83886080 and result.outcome == "ok"


def test_tftp_exact_multiple_ends_with_empty_block():
    # 2 × 512 B with blksize 512: blocks 512, 512 and an empty one (RFC 1350 §6).
    plan = tftp_plan(1024, TftpParams(blksize=512), 0.001, ())
    assert plan.blocks == 3
    assert plan.wire_bytes == 2 * (512 + 70) + 70


def test_tftp_store_and_forward_hops():
    # 1000 B, blksize 1000 -> blocks 2 (1000 B + empty). Two hops of 1e6 B/s:
    # ser = (1070 + 70) B × 2 hops / 1e6 = 2.28 ms; RTT 1 ms: 1 ms + 2 × 1 ms + 2.28 ms
    plan = tftp_plan(1000, TftpParams(blksize=1000), 1e-3, (1e6, 1e6))
    assert plan.seconds == pytest.approx(5.28e-3, rel=1e-12)
    assert run_one(plan, [1e6, 1e6]).seconds == pytest.approx(5.28e-3, rel=1e-6)


def test_tftp_window_pipeline():
    # blksize 1000, size 9500 -> 10 blocks (9 full, last 500 B); windowsize 4 -> windows
    # of 4, 4, 2. One hop 1e6 B/s: ser full = 1.07 ms, last = 0.57 ms; d_s 1 ms, d_c 2 ms,
    # RTT 10 ms. Window = RTT + d_s + d_c + ser(first) + (n-1) × max(1, 2, ser) ms:
    # 20.07 + 20.07 + (14.07 + 2) = 56.21 ms; plus the 10 ms handshake = 66.21 ms.
    params = TftpParams(blksize=1000, windowsize=4, server_block_cost=1e-3,
                        client_block_delay=2e-3)
    plan = tftp_plan(9500, params, 10e-3, (1e6,))
    assert plan.windows == 3
    assert plan.seconds == pytest.approx(66.21e-3, rel=1e-12)
    assert run_one(plan, [1e6]).seconds == pytest.approx(66.21e-3, rel=1e-6)


def test_windowsize_one_is_the_lockstep_law():
    a = tftp_plan(123456, TftpParams(windowsize=1, client_block_delay=1e-4), 3e-4, (GBPS,))
    # lock-step law written out: RTT + blocks × (RTT + d) + wire / C
    blocks = 123456 // 1432 + 1
    law = 3e-4 + blocks * (3e-4 + 1e-4) + a.wire_bytes / GBPS
    assert a.seconds == pytest.approx(law, rel=1e-12)


def test_ipxe_retry_schedule():
    # retry.c: 0.25 s doubling until the doubled timeout exceeds 10 s: six sends,
    # given up at 0.25 + 0.5 + 1 + 2 + 4 + 8 = 15.75 s. DHCP discovery (1 s .. 10 s):
    # sends at 0, 1, 3, 7 and failure at 15 s.
    assert retry_waits(0.25, 10) == [0.25, 0.5, 1, 2, 4, 8]
    assert sum(retry_waits(0.25, 10)) == 15.75
    assert retry_waits(1, 10) == [1, 2, 4, 8]


def test_tftp_expected_loss():
    # One empty block (size 0), RTT 0, no hops: the lossless exchange takes 0 s, so the
    # retry timer is its 0.25 s floor. Forward loss 0.5, none back -> q = 0.5.
    # Success on send k+1 after k expiries (k = 1..5) with probability 0.5^k × 0.5,
    # having waited 0.25, 0.75, 1.75, 3.75, 7.75 s:
    # 0.0625 + 0.09375 + 0.109375 + 0.1171875 + 0.12109375 = 0.50390625, over
    # P(success within 6 sends) = 63/64 -> 0.51190476... s for the handshake and again
    # for the one data exchange. Give-up: 1/64 each -> fail = 1 - (63/64)^2.
    plan = tftp_plan(0, TftpParams(), 0.0, (), loss_fwd=0.5)
    extra = 0.50390625 / (63 / 64)
    assert plan.handshake == pytest.approx(extra, rel=1e-12)
    assert plan.data_time == pytest.approx(extra, rel=1e-12)
    assert plan.fail_probability == pytest.approx(1 - (63 / 64) ** 2, rel=1e-12)


def test_client_without_rollover_cannot_pass_65535_blocks():
    no_roll = TftpParams(blksize=512, rollover=False)
    assert tftp_plan(65535 * 512 - 1, no_roll, 1e-4, ()).error is None  # 65535 blocks
    plan = tftp_plan(65535 * 512, no_roll, 1e-4, ())  # 65536 blocks
    assert plan.error == "block-number-overflow"
    result = run_one(plan, [GBPS])
    assert (result.outcome, result.reason) == ("failed", "block-number-overflow")
    assert tftp_plan(65535 * 512, TftpParams(blksize=512), 1e-4, ()).error is None


def test_http_slow_start_by_hand():
    # 1 MiB body + 250 B headers = 1048826 B = 725 segments of ≤ 1448 B;
    # wire = 1048826 + 725 × 90 = 1114076 B. RTT 10 ms, 1 Gbps, rwnd 256 KiB, IW 10.
    # Round k carries min(14480 × 2^k, 262144) payload = 15380 × 2^k wire bytes for
    # k = 0..4: 15380 + 30760 + 61520 + 123040 + 246080 = 476780 B by t = 50 ms.
    # Then rwnd: 262144 × 1538/1448 / 0.01 B/s; the remaining 637296 B take that long.
    # HTTP = RTT (SYN) + RTT/2 (GET) + D + RTT/2 (last byte).
    steady = 262144 * 1538 / 1448 / 0.01
    d = 0.05 + (1114076 - 476780) / steady
    expect = 0.01 + 0.005 + d + 0.005
    plan = http_plan(1048576, TcpParams(), 0.01, GBPS)
    assert plan.wire_bytes == 1114076
    assert plan.seconds == pytest.approx(expect, rel=1e-12)
    result = run_one(plan, [GBPS])
    assert result.seconds == pytest.approx(expect, rel=1e-6)


def test_http_line_rate_limited():
    # RTT 200 us: the window (256 KiB / 200 us ≈ 1.4 GB/s) exceeds 1 Gbps, so after
    # the first round (15380 B in 200 us at 76.9 MB/s) the flow runs at line rate.
    # 100 MiB body: wire = 104857850 + 72416 × 90 = 111375290 B (72416 segments).
    plan = http_plan(100 * 2**20, TcpParams(), 200e-6, GBPS)
    assert plan.wire_bytes == 111375290
    first_round = 15380.0
    expect = 200e-6 + 100e-6 + 200e-6 + (111375290 - first_round) / GBPS + 100e-6
    assert plan.seconds == pytest.approx(expect, rel=1e-12)
    assert run_one(plan, [GBPS]).seconds == pytest.approx(expect, rel=1e-6)


def test_mathis_bound_under_loss():
    # loss 1 %, RTT 100 ms: Mathis = 1538 / 0.1 × sqrt(1.5) / 0.1 ≈ 188 kB/s (wire), far
    # below rwnd / RTT ≈ 2.8 MB/s. Round 0 (IW = 15380 wire B per 100 ms = 153.8 kB/s) is
    # below it too; from round 1 on the flow runs at the Mathis bound.
    plan = http_plan(50 * 2**20, TcpParams(), 0.1, GBPS, loss=0.01)
    mathis = 1538 / 0.1 * MATHIS_C / 0.1
    assert plan.bound == pytest.approx(153800.0, rel=1e-12)
    assert plan.schedule == (pytest.approx((0.1, mathis), rel=1e-12),)
    assert plan.data_time == pytest.approx(0.1 + (plan.wire_bytes - 15380) / mathis, rel=1e-12)


def test_reused_connection_skips_handshake():
    a = http_plan(1000, TcpParams(), 0.01, GBPS)
    b = http_plan(1000, TcpParams(), 0.01, GBPS, connected=True)
    assert a.seconds - b.seconds == pytest.approx(0.01, rel=1e-12)


def test_current_ipxe_window_is_faster_on_wan():
    # 2 MiB window (iPXE ≥ 2023) vs 256 KiB (2019 ROM) at 50 ms: ~8× less time for 1 GiB.
    old = http_plan(2**30, TcpParams(), 0.05, 10 * GBPS).seconds
    new = http_plan(2**30, TcpParams(rwnd=2 * 2**20), 0.05, 10 * GBPS).seconds
    assert 7.0 < old / new < 8.1
    assert math.isfinite(new)


def test_tftp_bound_does_not_depend_on_file_size():
    # The lock-step rate is a property of client, server and path: files of different
    # sizes on the same path share one bound, so the engine solves them as one class.
    params = TftpParams(client_block_delay=50e-6)
    rates = {tftp_plan(s, params, 200e-6, (GBPS,)).rate for s in (1, 1432, 10**6, 3 * 10**8)}
    assert len(rates) == 1
    (rate,) = rates
    # (1432 + 70) B per (200 + 50) us + 1502 B at 1 Gbps
    assert rate == pytest.approx(1502 / (250e-6 + 1502 / GBPS), rel=1e-12)


def test_tftp_flows_of_different_sizes_form_one_class():
    env = simpy.Environment()
    eng = FlowEngine(env)
    link = Resource("L", 10 * GBPS)
    params = TftpParams(client_block_delay=50e-6)

    def proc(size):
        plan = tftp_plan(size, params, 200e-6, (10 * GBPS,))
        yield from transfer(env, eng, [link], plan)

    for size in range(10**6, 10**6 + 200 * 7919, 7919):
        env.process(proc(size))
    env.run()
    # 200 flows, one entry in every solve while they all run
    assert eng.entries_solved <= eng.solves


def test_http_rate_cap_is_a_slower_line():
    # A client that takes in at most 20 MB/s behaves, alone, like a 20 MB/s line.
    capped = http_plan(8 * 2**20, TcpParams(), 200e-6, GBPS, rate_cap=20e6)
    slow_line = http_plan(8 * 2**20, TcpParams(), 200e-6, 20e6)
    assert capped.seconds == pytest.approx(slow_line.seconds, rel=1e-12)
    assert run_one(capped, [GBPS]).seconds == pytest.approx(capped.seconds, rel=1e-6)


def test_warm_connection_has_no_slow_start():
    # RTT 20 ms, 8 MiB, window 256 KiB: warm, the flow runs at 262144 × 1538/1448 / 0.02
    # wire B/s from the first byte; cold, it first spends 4 rounds of slow start.
    warm = http_plan(8 * 2**20, TcpParams(), 0.02, GBPS, connected=True, warm=True)
    cold = http_plan(8 * 2**20, TcpParams(), 0.02, GBPS, connected=True)
    steady = 262144 * 1538 / 1448 / 0.02
    assert warm.schedule == () and warm.bound == pytest.approx(steady, rel=1e-12)
    assert warm.data_time == pytest.approx(warm.wire_bytes / steady, rel=1e-12)
    assert cold.data_time > warm.data_time
    assert run_one(warm, [GBPS]).seconds == pytest.approx(warm.seconds, rel=1e-6)


def test_protocols_import_neither_simpy_nor_the_engines():
    # The laws are pure math: every module of netbootsim.protocols imports, in a fresh
    # interpreter, without SimPy and without anything of netbootsim but the package
    # itself (net/transfer.py drives the engine with them, not the other way round).
    code = (
        "import importlib, pkgutil, sys\n"
        "import netbootsim.protocols as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module('netbootsim.protocols.' + m.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert {"netbootsim.protocols.retry", "netbootsim.protocols.tftp"} <= set(out)
    assert not [m for m in out if m == "simpy" or m.startswith("simpy.")]
    assert not [m for m in out if m == "netbootsim.net" or m.startswith("netbootsim.net.")]
    ours = [m for m in out if m.startswith("netbootsim.")]
    assert all(m.startswith("netbootsim.protocols") for m in ours), ours


def test_failed_tftp_plan_moves_nothing_in_the_engine():
    # Block numbers would wrap (1432 × 65535 B < 100 MB) and the client cannot roll
    # over: the transfer fails after the handshake (RTT 200 us), no flow started.
    plan = tftp_plan(100e6, TftpParams(rollover=False), 200e-6, (GBPS,))
    result = run_one(plan, [GBPS])
    assert (result.outcome, result.reason) == ("failed", "block-number-overflow")
    assert result.seconds == pytest.approx(200e-6, rel=1e-12)
    assert (result.bytes, result.wire_bytes) == (0.0, 0.0)


MiB = 1048576


def test_drawn_tftp_retries_average_to_the_expected_law():
    # 1 % loss each way, 1 MiB (733 exchanges): the expected law charges every transfer
    # the same mean; drawn plans (seeded) scatter around it. Over 4,000 draws the mean
    # data time is the expected one within 1 %, and the draws really spread (the spread
    # is what sets a fleet's makespan under loss).
    import numpy as np

    p = TftpParams()
    exp = tftp_plan(MiB, p, 200e-6, (1.25e9,), 0.01, 0.01)
    rng = np.random.default_rng(7)
    drawn = [tftp_plan(MiB, p, 200e-6, (1.25e9,), 0.01, 0.01, rng=rng) for _ in range(4000)]
    times = np.array([d.seconds for d in drawn if d.error is None])
    assert len(times) == 4000
    assert times.mean() == pytest.approx(exp.seconds, rel=0.01)
    assert times.std() > 0.1 * (exp.seconds - exp.lossless_data_time)
    # lossless: the generator is not touched and the plan is the expected one
    state = rng.bit_generator.state
    assert tftp_plan(MiB, p, 200e-6, (1.25e9,), rng=rng) == tftp_plan(MiB, p, 200e-6,
                                                                       (1.25e9,))
    assert rng.bit_generator.state == state


def test_drawn_tftp_gives_up_when_a_block_exhausts_its_sends():
    # 60 % loss each way: an exchange gets through with q = 0.16 per send, six sends
    # fail together with 0.84^6 = 35 %: over 300 blocks a give-up is certain. The plan
    # fails with iPXE's reason, after the full schedule (15.75 s) at least.
    import numpy as np

    plan = tftp_plan(300 * 1432, TftpParams(), 200e-6, (1.25e9,), 0.6, 0.6,
                     rng=np.random.default_rng(1))
    assert plan.error == "TFTP timeout: 6 sends of one block lost"
    assert plan.handshake >= 15.75
