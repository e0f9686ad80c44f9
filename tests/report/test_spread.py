"""The report's spread: per-replication CDFs and their band, the slow tail, failures over time,
intervals in the headline, random inputs, and a cap's saturation span that follows the resource.

The frames are hand-made (two replications of three servers) so every number below is
derived in a comment; the span test runs a two-server TFTP pile-up end to end.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.records import PhaseRecord, to_frame
from netbootsim.report import Run, fmt, write_compare_report, write_report
from netbootsim.report.comparison import contrast, shared_question
from netbootsim.report.content import _saturated, build_context, held_back
from netbootsim.report.spread import (
    GRID,
    cdf_band,
    cdf_points,
    failure_times,
    fleet_over_time,
    ready_by_replication,
    slow_tail,
)

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["server", "group", "rack", "power_on", "ready", "seconds", "outcome", "reason",
           "bytes", "replication"]


def rec(rep, server, phase, start, end, outcome="ok", reason=""):
    return PhaseRecord("t", 1, server, "g", "r01", "boot", phase, 1, start, end, 0.0, "", "",
                       outcome, reason)


def two_replications():
    """Replication 0 powers on at 0 s, replication 1 at 100 s; three servers each.

    rep 0: s1 firmware 2 + fetch:kernel 8 -> ready 10; s2 firmware 2 + fetch 18 -> 20;
           s3 firmware 2, fetch fails at 15 s (no TFTP slot).
    rep 1: s1 firmware 2 + fetch 10 -> ready 12 (since its first power-on, 100 s);
           s2 firmware 20 + fetch 10 -> 30; s3 firmware 2 + fetch 38 -> 40.
    """
    plan = {(0, "s1"): (0.0, 2, 8), (0, "s2"): (0.0, 2, 18), (0, "s3"): (0.0, 2, 13),
            (1, "s1"): (100.0, 2, 10), (1, "s2"): (100.0, 20, 10), (1, "s3"): (100.0, 2, 38)}
    rows, reps = [], []
    for (r, s), (t0, fw, fetch) in plan.items():
        bad = (r, s) == (0, "s3")
        rows += [rec(r, s, "power-on", t0, t0), rec(r, s, "firmware", t0, t0 + fw),
                 rec(r, s, "fetch:kernel", t0 + fw, t0 + fw + fetch,
                     *(("failed", "no TFTP slot") if bad else ()))]
        reps += [r] * 3
    phases = to_frame(rows)
    phases["replication"] = reps
    servers = pd.DataFrame([
        ("s1", "g", "r01", 0.0, 10.0, 10.0, "ok", "", 0.0, 0),
        ("s2", "g", "r01", 0.0, 20.0, 20.0, "ok", "", 0.0, 0),
        ("s3", "g", "r01", 0.0, math.nan, math.nan, "failed", "fetch:kernel: no TFTP slot",
         0.0, 0),
        ("s1", "g", "r01", 100.0, 112.0, 12.0, "ok", "", 0.0, 1),
        ("s2", "g", "r01", 100.0, 130.0, 30.0, "ok", "", 0.0, 1),
        ("s3", "g", "r01", 100.0, 140.0, 40.0, "ok", "", 0.0, 1),
    ], columns=COLUMNS)
    return servers, phases


def summary_of_two(**extra):
    # pooled ready times since each replication's start: 10, 12, 20, 30, 40
    return {"scenario": "two-reps", "question": "", "seed": 1, "servers": 6, "completed": 5,
            "failed": 1, "unfinished": 0, "makespan": 40.0, "p50": 20.0, "p95": 38.0,
            "p99": 39.6, "mean": 22.4, "line_rate_bound": {}, "bottlenecks": [],
            "phases": {}, "failures": {"fetch:kernel: no TFTP slot": 1}, **extra}


def test_ready_times_count_from_each_replications_first_power_on():
    servers, _ = two_replications()
    (r0, d0, n0), (r1, d1, n1) = ready_by_replication(servers)
    assert (r0, list(d0), n0) == (0, [10.0, 20.0], 3)
    assert (r1, list(d1), n1) == (1, [12.0, 30.0, 40.0], 3)


def test_band_is_students_t_over_the_replications():
    # three replications of 10 servers with 5, 6 and 7 ready by t = 1: F = 0.5, 0.6, 0.7;
    # mean 0.6, sd 0.1, t(0.975, 2) = 4.302653: half-width 4.302653 × 0.1 / √3 = 0.248414
    per_rep = [(r, np.full(k, 0.5), 10) for r, k in enumerate((5, 6, 7))]
    mean, lo, hi = cdf_band(per_rep, np.array([0.0, 1.0]))
    assert list(mean) == pytest.approx([0.0, 0.6])
    assert lo[1] == pytest.approx(0.6 - 0.248414, abs=1e-6)
    assert hi[1] == pytest.approx(0.6 + 0.248414, abs=1e-6)
    assert lo[0] == hi[0] == 0.0                      # nobody ready at 0 in any replication
    # one replication: the band is the curve itself, nothing to say how sure
    m1, lo1, hi1 = cdf_band(per_rep[:1], np.array([1.0]))
    assert m1[0] == lo1[0] == hi1[0] == 0.5


def test_cdf_of_a_huge_fleet_is_drawn_on_a_quantile_grid():
    done = np.sort(np.random.default_rng(1).lognormal(4, 0.3, 100_000))
    x, y = cdf_points(done, 100_000)
    assert len(x) == len(y) <= GRID + 1
    assert x[-1] == done[-1] and y[-1] == 1.0        # the last server is always drawn
    exact_x, exact_y = cdf_points(done[:50], 60)       # small: every step, exactly
    assert list(exact_y) == pytest.approx([k / 60 for k in range(51)])
    assert list(exact_x[1:]) == list(done[:50])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=3000), st.integers(0, 50))
def test_grid_cdf_never_lies_above_the_true_one(values, failed):
    # drawn with where="post": the value at t is y of the last point with x <= t; kept
    # levels k are at most ceil((m - 1) / (grid - 1)) apart, so the drawn curve is below
    # the true one by less than that many servers
    done = np.sort(np.array(values))
    m, n, grid = len(done), len(done) + failed, 64
    x, y = cdf_points(done, n, grid=grid)
    t = np.unique(np.concatenate([done, (done[:-1] + done[1:]) / 2, [done[-1] + 1]]))
    drawn = y[np.searchsorted(x, t, side="right") - 1]
    true = np.searchsorted(done, t, side="right") / n
    assert np.all(drawn <= true + 1e-12)
    assert np.all(true - drawn <= (-(-(m - 1) // (grid - 1))) / n + 1e-12)
    assert y[-1] == m / n


def test_failure_times_and_the_fleet_over_time():
    servers, phases = two_replications()
    fails = failure_times(servers, phases)
    # rep 0's s3: firmware 0-2 s, fetch 2-15 s failed: it failed at 15 s
    assert fails[["replication", "server", "time"]].values.tolist() == [[0, "s3", 15.0]]
    # pooled over 6 servers: ready 10, 12, 20, 30, 40; failed 15
    ready, failed = fleet_over_time(servers, phases, np.array([0.0, 10.0, 15.0, 40.0]))
    assert list(ready) == pytest.approx([0, 1 / 6, 2 / 6, 5 / 6])
    assert list(failed) == pytest.approx([0, 0, 1 / 6, 1 / 6])


def test_slow_tail_names_the_phase_each_lost_most_in():
    servers, phases = two_replications()
    tail = slow_tail(servers, phases, limit=4)
    # completed: 5; medians: firmware of 2, 2, 2, 20, 2 = 2 s; fetch of 8, 18, 10, 10, 38 = 10 s
    assert tail.completed == 5
    assert tail.median["phases"] == {"firmware": 2.0, "fetch:kernel": 10.0, "power-on": 0.0}
    got = [(r["replication"], r["server"], r["ready"], r["why"]) for r in tail.rows]
    assert got == [
        (1, "s3", 40.0, ("fetch:kernel", 38.0, 10.0)),   # 28 s over the median fetch
        (1, "s2", 30.0, ("firmware", 20.0, 2.0)),        # 18 s over the median firmware
        (0, "s2", 20.0, ("fetch:kernel", 18.0, 10.0)),
        (1, "s1", 12.0, None),                            # no phase above the median
    ]


def test_report_sections_on_the_hand_made_frames(tmp_path):
    servers, phases = two_replications()
    summary = summary_of_two(
        replications={"n": 2, "confidence": 0.95, "method": {"makespan": "t-interval"},
                      "metrics": {"makespan": {"mean": 412.0, "lo": 398.0, "hi": 431.0,
                                               "half_width": 16.5, "values": [400, 424]},
                                  "p99": {"mean": 39.0, "lo": 30.25, "hi": 47.75}}},
        random={"inputs": [], "loss": []})
    md, html = write_report(tmp_path, summary, servers, phases)
    text = html.read_text(encoding="utf-8")
    # headline intervals in the value's unit: 412 s = 6.9 min [398 s = 6.6, 431 s = 7.2]
    assert "<th>Makespan (first power-on → last ready)</th><td>6.9 min [6.6, 7.2]</td>" in text
    assert "p99 39.0 s [30.2, 47.8] (95 % intervals over 2 replications)" in text
    assert "<th>Replications</th><td>2 independent runs" in text
    # slow tail: the slowest is s3 of replication 1, slow in its fetch
    assert "<td>s3 #1</td>" in text
    assert "fetch:kernel: 38.0 s, +28.0 s over the median 10.0 s" in text
    assert "firmware: 20.0 s, +18.0 s over the median 2.0 s" in text
    # failures over time: one server, at 15 s, in the sentence and the reason's row
    assert "1 server failed at 15.0 s since each replication&#39;s first power-on." in text
    assert ('<td class="n">16.7 %</td><td class="n">15.0 s</td><td class="n">15.0 s</td>'
            in text)                                     # 1 of 6 servers
    assert (tmp_path / "fleet.png").exists()
    # no randomness: the report says the seed changes nothing
    assert "the seed (1) changes nothing" in text
    assert "Thin lines: each of the 2 replications" in text
    mdtext = md.read_text(encoding="utf-8")
    # ready, then firmware and fetch:kernel (power-on takes no time, nobody was late)
    assert ("| s3 #1 | g | 40.0 s | fetch:kernel: 38.0 s, +28.0 s over the median 10.0 s "
            "| 2.0 s | 38.0 s |") in mdtext
    for raw in ("**", "`", "{{", "{%"):
        assert raw not in text.split("<body>", 1)[1].replace("<code>", ""), raw


def test_random_inputs_listed_with_their_streams():
    servers, phases = two_replications()
    ctx = build_context(summary_of_two(random={
        "inputs": [{"input": "compute: ipxe-2019-qemu rom_start", "per": "server",
                    "dist": "lognormal, median 90 s, p95 150 s",
                    "stream": "group/compute/profile/rom_start"}],
        "loss": [{"input": "link boot1->tor01", "per": "packet", "dist": "loss 1.0 %",
                  "stream": "net/laws"}]}), servers, phases)
    head = dict(ctx["headline"])
    assert head["Random inputs"] == "1 drawn value, packet loss on 1 link (see Random inputs)"
    assert [r["stream"] for r in ctx["random"]["rows"]] == ["group/compute/profile/rom_start",
                                                           "net/laws"]
    # an old summary without the block says nothing either way
    assert build_context(summary_of_two(), servers, phases)["random"] is None


def pile_up(**run):
    """Two servers, one TFTP slot (dnsmasq, tftp-max 1), a 400 MiB image each."""
    sc = scenario(servers=2)
    sc["services"]["tftp1"] = {"kind": "tftp", "host": "boot1", "model": "dnsmasq",
                               "max_sessions": 1}
    sc["images"] = {"big": {"size": "400MiB"}}
    sc["fleet"][0].update({"count": 2, "images": ["big"], "server": "tftp1"})
    sc["run"].update(run)
    return simulate_scenario(sc)


def test_slot_saturation_follows_the_resource_not_the_clients():
    # r01s002's DHCP ends at 1.001004 s; it sends RRQs at 1.001004, +0.25 and +0.5 s more
    # (iPXE's retry timer) while r01s001 holds the one slot; the first copy is served when
    # r01s001's transfer ends, the other two copies stay queued. When r01s002's own
    # transfer ends (its last record), each queued copy opens an orphan transfer holding
    # the slot 15 s (dnsmasq's orphan_hold): the slot stays full 2 × 15 s = 30 s longer.
    res = pile_up()
    ph = res.phases
    fetch = ph[(ph.server == "r01s002") & (ph.phase == "fetch:big")].iloc[0]
    first_rrq = ph[(ph.server == "r01s001") & (ph.phase == "fetch:big")].iloc[0].start
    (b,) = res.summary["bottlenecks"]
    assert res.summary["services"]["tftp1"]["orphans"] == 2
    assert b["resource"] == "tftp1:slots"
    assert b["first"] == pytest.approx(first_rrq, abs=1e-9)
    assert b["last"] == pytest.approx(fetch.end + 30.0, abs=1e-9)
    assert b["last"] > ph.end.max() + 29.0           # well past the last client record
    assert b["saturated_seconds"] == pytest.approx(b["last"] - b["first"], abs=1e-9)
    # the share of the makespan counts only the saturation within it
    makespan = res.summary["makespan"]
    assert b["fraction_of_makespan"] == pytest.approx((makespan - first_rrq) / makespan)
    assert b["saturated_in_makespan_seconds"] == pytest.approx(makespan - first_rrq)
    # the report gives both, since the slot stayed full ~30 s after the last ready server
    text = _saturated(b)
    assert text.startswith(f"{fmt.duration(b['saturated_seconds'])} in all, "
                           f"{fmt.duration(makespan - first_rrq)} (") and \
        text.endswith(") of the makespan")


def test_slot_saturation_stops_at_the_horizon():
    # run.until cuts the run at 10 s, while the orphans still hold the slot: the span
    # ends at the horizon, not at the last client record (3.9 s) nor at 33.9 s
    res = pile_up(until="10s")
    (b,) = res.summary["bottlenecks"]
    assert b["last"] == pytest.approx(10.0, abs=1e-9)
    assert res.phases.end.max() < 5.0


# --- comparison pages ---------------------------------------------------------------


def compare_run(name, question, phases_spec, servers=2, protocol="tftp", tftp=None,
                bottlenecks=()):
    """A run whose servers each go through ``phases_spec``: (phase, seconds, bytes) in order."""
    rows, t = [], {}
    for i in range(servers):
        s, t0 = f"s{i}", 0.0
        rows.append(rec(0, s, "power-on", 0.0, 0.0))
        for phase, secs, nbytes in phases_spec:
            if phase == "dhcp-exchange" or phase.startswith("outage:"):
                # inside the phase before it (dhcp, a fetch): ends with it
                rows.append(rec(0, s, phase, t0 - secs, t0))
                continue
            r = rec(0, s, phase, t0, t0 + secs)
            if nbytes:
                r = PhaseRecord("t", 1, s, "g", "r01", "boot", phase, 1, t0, t0 + secs,
                                float(nbytes), protocol, "srv", "ok", "")
            rows.append(r)
            t0 += secs
        t[s] = t0
    phases = to_frame(rows)
    servers_f = pd.DataFrame([(s, "g", "r01", 0.0, end, end, "ok", "", 0.0, 0)
                              for s, end in t.items()], columns=COLUMNS)
    span = max(t.values())
    summary = {"scenario": name, "question": question, "servers": servers,
               "completed": servers, "failed": 0, "makespan": span, "p50": span, "p95": span,
               "p99": span, "bottlenecks": list(bottlenecks), "failures": {},
               "line_rate_bound": {"seconds": 1.0}, "tftp": tftp or {}}
    return Run(name, summary, servers_f, phases, f"{name}/report.html")


def test_compare_page_phases_in_boot_order_and_one_question(tmp_path):
    q = "200 servers fetch a kernel over {} behind 5 ms of round trip. How long?"
    # TFTP: 1 MiB over 1,432-byte blocks = 732 full blocks + 1 short = 733 round trips;
    # 3.665 s / 733 = 5.00 ms per block
    tftp = compare_run("tftp", q.format("TFTP"),
                       [("firmware", 2.0, 0), ("dhcp", 3.0, 0), ("dhcp-exchange", 0.5, 0),
                        ("fetch:kernel", 3.665, 2**20), ("boot", 0.0, 0)],
                       tftp={"blksize": {"g": 1432}, "windowsize": {"g": 1}})
    http = compare_run("http", q.format("HTTP"),
                       [("firmware", 2.0, 0), ("dhcp", 3.0, 0), ("dhcp-exchange", 0.5, 0),
                        ("fetch:kernel", 0.1, 2**20), ("outage:kernel", 0.05, 0),
                        ("boot", 0.0, 0)], protocol="http",
                       bottlenecks=[{"resource": "boot1->tor01", "saturated_seconds": 0.1,
                                     "first": 5.0, "last": 5.1}])
    md, html = write_compare_report(tmp_path, [tftp, http])
    text = md.read_text(encoding="utf-8")
    # the question once, what differs beside each run
    assert text.count("> Question:") == 1
    assert "> Question: 200 servers fetch a kernel over … behind 5 ms of round trip." in text
    assert "| [tftp](tftp/report.html) | TFTP |" in text
    # boot order, not alphabetical; the exchange right after dhcp and marked as in it,
    # the outage in the kernel's fetch after that
    table = text.split("## Time by phase", 1)[1]
    order = [line.split("|")[1].strip() for line in table.splitlines()
             if line.startswith("| ") and not line.startswith("| phase")]
    assert order == ["firmware", "dhcp", "dhcp-exchange (part of dhcp)", "fetch:kernel",
                     "outage:kernel (part of fetch:kernel)"]
    # what held it back, with no resource saturated: the lock-step, per block × blocks
    assert "TFTP lock-step: 5 ms × 733 blocks of 1,432 bytes per server" in text
    # the answer: total times 8.665 s and 5.1 s: 1.7×; the two differ in one word
    assert text.splitlines()[4].startswith(
        "http readies the 2 servers 1.7× sooner than tftp (HTTP instead of TFTP; 5.1 s "
        "against 8.7 s): tftp is held back by TFTP lock-step")
    page = html.read_text(encoding="utf-8")
    assert '<tr class="nested"><td>dhcp-exchange (part of dhcp)</td>' in page
    assert "**" not in page and "`" not in page


def test_compare_deadline_and_failures(tmp_path):
    servers, phases = two_replications()
    a = Run("a", summary_of_two(deadline=25.0, ready_fraction_by_deadline=0.5,
                                question="Q?"), servers, phases, "a/report.html")
    b = compare_run("b", "Q?", [("fetch:kernel", 4.0, 10)])
    md, html = write_compare_report(tmp_path, [a, b])
    text = md.read_text(encoding="utf-8")
    assert "| 50.0 % by 25.0 s |" in text            # the deadline column, a's share
    assert "| a | fetch:kernel: no TFTP slot | 1 | 16.7 % | 15.0 s |" in text
    # b readies all 2; a (2 replications of 3) only 5 of its 6 server-runs, 1 failing
    assert ('b readies all 2 servers in 4.0 s; a readies only 83.3 % of its 3 servers (5 of 6 '
            'server-runs over 2 replications): 1 server-run fails with "fetch:kernel: no TFTP '
            'slot".') in text


def test_slow_tail_blames_a_late_power_on():
    # three servers fetch for 10 s each; s3 is powered on 30 s after the others: it is
    # ready last (40 s) without being slow, and the table says so (power-on 30 s against
    # the median 0 s; its fetch equals the median's)
    phases = to_frame([rec(0, s, "fetch:kernel", t, t + 10.0)
                       for s, t in (("s1", 0.0), ("s2", 0.0), ("s3", 30.0))])
    servers = pd.DataFrame([(s, "g", "r01", t, t + 10.0, 10.0, "ok", "", 0.0, 0)
                            for s, t in (("s1", 0.0), ("s2", 0.0), ("s3", 30.0))],
                           columns=COLUMNS)
    (first, *_) = slow_tail(servers, phases, limit=1).rows
    assert (first["server"], first["ready"], first["boot"], first["why"]) == \
        ("s3", 40.0, 10.0, ("power-on", 30.0, 0.0))
    ctx = build_context(summary_of_two(), servers, phases)
    assert ctx["slow"]["late"] and ctx["slow"]["rows"][0]["why"] == \
        "powered on at 30.0 s, +30.0 s over the median 0 s"


def test_slow_tail_counts_a_wait_for_power_once():
    # a power policy holds s3 30 s before its power comes on: its records are power 0-30 s
    # (the wait) and fetch 30-40 s. The power-on column says 30 s; the phase columns count
    # only what came after it, so its power phase is 0 s there (not 30 s twice) and its
    # boot (10 s) is the sum of its phases. A record straddling the power-on (s2's power
    # 0-5 s, then power-on at 2 s) counts its 3 s after it.
    phases = to_frame([rec(0, "s1", "fetch:kernel", 0.0, 10.0),
                       rec(0, "s2", "power", 0.0, 5.0), rec(0, "s2", "fetch:kernel", 5.0, 12.0),
                       rec(0, "s3", "power", 0.0, 30.0),
                       rec(0, "s3", "fetch:kernel", 30.0, 40.0)])
    servers = pd.DataFrame([(s, "g", "r01", on, ready, ready - on, "ok", "", 0.0, 0)
                            for s, on, ready in (("s1", 0.0, 10.0), ("s2", 2.0, 12.0),
                                                 ("s3", 30.0, 40.0))], columns=COLUMNS)
    tail = slow_tail(servers, phases, limit=3)
    got = {r["server"]: (r["phases"], r["boot"], r["why"]) for r in tail.rows}
    assert got["s3"] == ({"fetch:kernel": 10.0, "power": 0.0}, 10.0, ("power-on", 30.0, 2.0))
    assert got["s2"][0] == {"fetch:kernel": 7.0, "power": 3.0}
    assert tail.median["phases"] == {"fetch:kernel": 10.0, "power": 0.0}


def test_what_held_a_tftp_run_back_counts_its_blocks():
    # 200 servers fetch 12 MiB and 64 MiB over TFTP behind 5 ms of round trip, no resource
    # saturated. 12,582,912 B = 8,786 full 1,432-byte blocks + 1 short = 8,787 blocks;
    # 67,108,864 B = 46,863 full + 1 = 46,864: 55,651 blocks per server, one round trip
    # each; the time per block is the fetches' seconds over the blocks.
    res = simulate_scenario(ROOT / "scenarios" / "tftp-vs-http" / "3-tftp-rtt5.yaml")
    assert res.summary["tftp"] == {"blksize": {"compute": 1432}, "windowsize": {"compute": 1}}
    assert not res.summary["bottlenecks"]
    fetch = res.phases[res.phases.phase.str.startswith("fetch:")]
    per_block = fetch.seconds.sum() / (200 * 55_651)
    assert 5.0e-3 < per_block < 5.1e-3               # the 5 ms round trip and the client
    held = held_back(res.summary, res.phases)
    assert held == (f"TFTP lock-step: {per_block * 1e3:.3g} ms × 55,651 blocks of 1,432 bytes "
                    "per server, one round trip each")
    assert f"No resource saturated; what held it back: {held}." in \
        build_context(res.summary, res.servers, res.phases)["lead"]


def test_shared_question_and_contrast():
    same = [("a", "How long?"), ("b", "How  long?")]
    assert shared_question(same) == ("How long?", {})
    # the words both start and end with are shared; the middle is each run's own
    q = "{} servers fetch a kernel over TFTP. How many are ready?"
    shared, differs = shared_question([("a", q.format(25)), ("b", q.format(200))])
    assert shared == "… servers fetch a kernel over TFTP. How many are ready?"
    assert differs == {"a": "25", "b": "200"}
    # fewer shared words than half the shortest question: no shared question
    assert shared_question([("a", "one two three four"), ("b", "five six seven four")]) == \
        ("", {"a": "one two three four", "b": "five six seven four"})
    assert contrast("HTTP, behind 20 ms.", "TFTP, behind 20 ms.") == ("HTTP", "TFTP")
    assert contrast("HTTP behind 5 ms", "TFTP behind 20 ms") == ("HTTP 5", "TFTP 20")
    assert contrast("a b c d e", "v w x y e") is None     # four words differ
    assert contrast("same", "same") is None
