"""TFTP session caps: iPXE's RRQ retries, queued copies, orphan transfers (dnsmasq)."""

import math
import re

import pytest
import simpy

from netbootsim.fleet import Group, Service, simulate
from netbootsim.profiles import get_profile
from netbootsim.services.slots import TftpSlots, rrqs_held, run_with_slot
from netbootsim.topology import HostSpec, LinkSpec, rack


def clients(cap, starts_and_durations, orphan_hold=15.0, **buffer):
    env = simpy.Environment()
    slots = TftpSlots(env, cap, orphan_hold=orphan_hold, **buffer)
    out = {}

    def client(name, start, duration):
        yield env.timeout(start)

        def transfer():
            yield env.timeout(duration)
            return env.now

        out[name] = yield from run_with_slot(slots, transfer)

    for name, (start, duration) in starts_and_durations.items():
        env.process(client(name, start, duration))
    env.run()
    return out, slots


def test_under_the_cap_everyone_is_served_at_once():
    out, slots = clients(5, {c: (0.0, 1.0) for c in "abc"})
    for wait, end in out.values():
        assert (wait.sends, wait.served, end) == (1, 0.0, 1.0)
    assert slots.orphans == 0


def test_second_client_waits_and_its_duplicate_rrqs_become_orphans():
    # Cap 1. A is served at 0 and transfers for 1 s. B sends RRQs at 0, 0.25, 0.75 (iPXE:
    # waits 0.25, 0.5, ...) which queue; at t=1 A's slot serves B's first copy: B was
    # served at 1.0 after 3 sends and transfers until 2.0. Then the slot takes B's 2nd
    # copy: an orphan held 15 s (to 17.0), then the 3rd copy: another orphan (to 32.0).
    out, slots = clients(1, {"a": (0.0, 1.0), "b": (0.0, 1.0)})
    wait_b, end_b = out["b"]
    assert (wait_b.sends, wait_b.served, end_b) == (3, 1.0, 2.0)
    assert slots.orphans == 2
    assert slots.max_queue == 3  # B's three copies while A held the slot


def test_client_gives_up_after_six_rrqs():
    # Cap 1, A holds the slot 20 s. B's RRQs at 0, .25, .75, 1.75, 3.75, 7.75; its timer
    # expires for good at 15.75 s (retry.c: the doubled 16 s exceeds the 10 s max).
    env = simpy.Environment()
    slots = TftpSlots(env, 1)
    result = {}

    def hold():
        wait = yield from slots.acquire()
        yield env.timeout(20.0)
        slots.release()
        result["a"] = wait

    def late():
        result["b"] = yield from slots.acquire()
        result["b_at"] = env.now

    env.process(hold())
    env.process(late())
    env.run()
    assert result["b"].gave_up and result["b"].sends == 6
    assert result["b_at"] == pytest.approx(15.75)
    assert math.isnan(result["b"].served)
    # B's six copies are opened as orphans once A is done: 6 × 15 s after t = 20
    assert slots.orphans == 6


def test_the_receive_buffer_holds_buffer_over_truesize_rrqs():
    # max(1, floor(buffer / truesize)): Linux's default 212,992 B at 832 B per RRQ holds
    # 256, and SO_RCVBUF 65536 (doubled to 131,072 B) holds floor(157.5) = 157 — both as
    # measured in lab/udp-rcvbuf/result.json; a buffer smaller than one RRQ still takes
    # the first into an empty queue.
    assert rrqs_held(212_992, 832) == 256
    assert rrqs_held(131_072, 832) == 157
    assert rrqs_held(100, 832) == 1
    env = simpy.Environment()
    assert TftpSlots(env, 50).capacity == 256  # the dnsmasq model's defaults


def test_rrqs_beyond_the_buffer_are_dropped_and_resent_on_the_retry_timer():
    # Cap 1 slot, a buffer of 1,664 B = 2 RRQs of 832 B (k = 2), five clients A-E at t=0
    # (k + m with m = 2 more than the slot and the buffer take), each transfer 0.1 s:
    #   t=0     A's RRQ is read at once and takes the slot; B and C fill the buffer; D's
    #           and E's RRQs are dropped (m = 2).
    #   t=0.1   A done: the slot reads B's RRQ; 0.2: B done, C's; the buffer is empty.
    #   t=0.25  D and E re-send on iPXE's first retry wait (0.25 s): both fit now.
    #   t=0.3   C done: D is served; 0.4: E is served; 0.5: E done. No copy is left in
    #           the buffer, so no orphan transfer.
    out, slots = clients(1, {c: (0.0, 0.1) for c in "abcde"}, recv_buffer=1664,
                         request_truesize=832)
    got = {c: (w.sends, w.dropped, w.served, end) for c, (w, end) in out.items()}
    assert got == {"a": (1, 0, 0.0, 0.1), "b": (1, 0, 0.1, pytest.approx(0.2)),
                   "c": (1, 0, pytest.approx(0.2), pytest.approx(0.3)),
                   "d": (2, 1, pytest.approx(0.3), pytest.approx(0.4)),
                   "e": (2, 1, pytest.approx(0.4), pytest.approx(0.5))}
    assert (slots.capacity, slots.dropped, slots.max_queue, slots.orphans) == (2, 2, 2, 0)
    # The same clients with a buffer that holds everything (the model before the buffer):
    # the queue is B C D E at 0; D's and E's re-sends at 0.25 queue behind them (B and C
    # were served before their timers fired), D is served at 0.3 and E at 0.4 as above,
    # and their duplicate copies open two orphan transfers at 0.5 and 15.5.
    out, slots = clients(1, {c: (0.0, 0.1) for c in "abcde"}, recv_buffer=2**30,
                         request_truesize=832)
    assert {c: (w.sends, w.served) for c, (w, _) in out.items()} == {
        "a": (1, 0.0), "b": (1, 0.1), "c": (1, pytest.approx(0.2)),
        "d": (2, pytest.approx(0.3)), "e": (2, pytest.approx(0.4))}
    assert (slots.dropped, slots.max_queue, slots.orphans) == (0, 4, 2)


def test_a_scenarios_recv_buffer_reaches_the_slots():
    # 3 servers on dnsmasq with tftp-max 1 and recv_buffer 832 B: one RRQ fits
    sc = {"topology": {"shape": "rack", "servers": 3, "hosts": [{"name": "boot1"}]},
          "services": {"tftp1": {"kind": "tftp", "host": "boot1", "max_sessions": 1,
                                 "recv_buffer": "832B"}},
          "images": {"kernel": {"size": "64KiB"}},
          "fleet": [{"name": "g", "count": 3, "boot": "ipxe", "profile": "ipxe-2019-qemu",
                     "images": ["kernel"], "server": "tftp1"}],
          "run": {"until": "10min"}}
    from netbootsim.api import simulate_scenario

    summary = simulate_scenario(sc).summary
    assert summary["services"]["tftp1"]["limit"] == "tftp-max 1, 1 RRQs buffered"
    assert summary["services"]["tftp1"]["max_queued"] == 1
    # a buffer under one small datagram's 832 B is valid but implausible: a warning; a
    # negative or unitless-garbage one is an error naming the field
    sc["services"]["tftp1"]["recv_buffer"] = "100B"
    warnings = simulate_scenario(sc).summary["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "<dict>: services.tftp1.recv_buffer: warning: 100B is below the plausible minimum")
    from netbootsim.errors import InputError

    for bad in ("-1KiB", "lots"):
        sc["services"]["tftp1"]["recv_buffer"] = bad
        with pytest.raises(InputError) as e:
            simulate_scenario(sc)
        assert [str(x).split(": ")[1] for x in e.value.problems] == ["services.tftp1.recv_buffer"]


def test_fleet_records_say_who_waited_for_a_slot():
    # 20 servers fetch 4 MiB over TFTP at once from a dnsmasq capped at 4 sessions:
    # the servers beyond the cap wait, re-send RRQs, and their records say so; those whose
    # duplicate copies clog the slots as orphans may run out of retries.
    topo = rack(20, server_link=LinkSpec(1e9 / 8, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10e9 / 8, 50e-6))])
    svc = Service("tftp1", "tftp", "boot", retransmit=1.95, max_sessions=4)
    grp = Group("g", "pxe", get_profile("ipxe-2019-qemu"), (("kernel", 4 * 2**20),), svc)
    run = simulate(topo, [grp], [(s, "g") for s in topo.servers()], name="t", seed=1)
    waits = [r for r in run.records if r.phase == "tftp-wait:kernel"]
    # every wait is recorded, whether the first RRQ was served from the queue or several
    # were sent (1 RRQ / 3 RRQs before a slot)
    assert waits and all(re.fullmatch(r"1 RRQ before a slot \(tftp-max 4\)|"
                                      r"[2-9] RRQs before a slot \(tftp-max 4\)", r.reason)
                         for r in waits)
    assert any(not r.reason.startswith("1 RRQ ") for r in waits)
    assert run.slots["tftp1"].orphans > 0
    outcomes = {s.outcome for s in run.servers}
    assert outcomes <= {"ok", "failed"}
    failed = [s for s in run.servers if s.outcome == "failed"]
    for s in failed:
        assert "no TFTP slot: 6 RRQs unanswered" in s[6]


def test_http_workers_queue_then_keepalive_holds_them():
    # 2 workers, keep-alive 5 s, 3 clients connect at 0 and each transfers for 1 s: A and B
    # get workers at once; C waits until A's idle connection lets go, at 1 + 5 = 6 s.
    from netbootsim.services.slots import HttpWorkers

    env = simpy.Environment()
    pool = HttpWorkers(env, 2, backlog=10, keepalive=5.0)
    got = {}

    def client(name):
        req, syns, waited = yield from pool.connect()
        got[name] = (env.now, syns)
        yield env.timeout(1.0)
        pool.hold_then_release(req)

    for name in "abc":
        env.process(client(name))
    env.run()
    assert got == {"a": (0.0, 1), "b": (0.0, 1), "c": (6.0, 1)}


def test_http_full_backlog_drops_syns_until_ipxe_gives_up():
    # 1 worker held for 100 s, backlog 1: the second client waits in the backlog; the third
    # finds it full, re-sends SYNs at .25, .75, 1.75, 3.75, 7.75 and gives up at 15.75 s.
    from netbootsim.services.slots import HttpWorkers

    env = simpy.Environment()
    pool = HttpWorkers(env, 1, backlog=1, keepalive=100.0)
    got = {}

    def client(name, hold):
        req, syns, waited = yield from pool.connect()
        got[name] = (req is not None, syns, env.now)
        if req is not None:
            yield env.timeout(hold)
            pool.hold_then_release(req)

    env.process(client("a", 1.0))
    env.process(client("b", 1.0))
    env.process(client("c", 1.0))
    env.run(until=50)
    assert got["c"] == (False, 6, pytest.approx(15.75))
    assert pool.dropped_syns == 6


def test_failed_fetches_do_not_count_in_the_line_rate_bound_and_the_report_says_so():
    # At tftp-max 4 with 20 servers fetching 8 + 32 MiB, kernels get through but duplicate
    # RRQs clog the slots and initrd fetches give up: those moved no bytes, so the bound's
    # bytes are exactly the successful fetches' wire bytes.
    from netbootsim.plan.summary import summarize
    from netbootsim.protocols import tftp_plan
    from netbootsim.report.content import build_context

    topo = rack(20, server_link=LinkSpec(1e9 / 8, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10e9 / 8, 50e-6))])
    svc = Service("tftp1", "tftp", "boot", retransmit=1.95, max_sessions=4)
    prof = get_profile("ipxe-2019-qemu")
    sizes = {"kernel": 8 * 2**20, "initrd": 32 * 2**20}
    grp = Group("g", "pxe", prof, tuple(sizes.items()), svc)
    run = simulate(topo, [grp], [(s, "g") for s in topo.servers()], name="t", seed=1)
    summary, servers, phases, _ = summarize(run, scenario="t", question="", seed=1,
                                            mode="flow", notes=[])
    fetched = phases[phases.phase.str.startswith("fetch:") & (phases.outcome == "ok")]
    failed = phases[phases.phase.str.startswith("fetch:") & (phases.outcome == "failed")]
    assert len(fetched) and len(failed)  # both kinds occur
    expect = sum(tftp_plan(sizes[p.split(":")[1]], prof.tftp, 0.0, ()).wire_bytes
                 for p in fetched.phase)
    assert summary["line_rate_bound"]["bytes"] == expect
    # ... and the bound says it leaves out what the servers not ready still needed
    not_ready = int((servers.outcome != "ok").sum())
    assert 0 < not_ready == summary["line_rate_bound"]["not_ready"]
    headline = dict(build_context(summary, servers, phases)["headline"])
    assert f"bytes carried only: {not_ready} not ready" in headline["Line-rate lower bound"]
