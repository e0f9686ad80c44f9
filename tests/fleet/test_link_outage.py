"""A link that goes down under a running transfer (the flow engine's outage law).

The small scenario (one server, ``boot1``, 1 µs links: RTT 4 µs), its server link at
1 Gb/s so the 8 MiB kernel takes ~70 ms alone; the link goes down halfway through the
kernel's fetch. Alone on its path, a flow moves at a bound that does not depend on how
many bytes are left, so a stall shifts every later time by exactly the stall
(:mod:`netbootsim.protocols.recovery` for the timers):

- TFTP: iPXE resends at 0.25, 0.75, 1.75, 3.75 and 7.75 s after the loss and gives up
  at 15.75 s (its generic timer from 0.25 s, doubling, failing past 10 s);
- HTTP: the mirror's RTO is RTT + 200 ms = 0.200004 s, doubling: resends at 1, 3, 7,
  15, 31, 63, 127, ... RTOs after the loss; after it the window starts again from one
  segment, which at a 4 µs RTT is 1538 B / 4 µs = 385 MB/s, above the 125 MB/s line:
  the flow is back at line rate at once.
"""

from __future__ import annotations

import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.protocols import TcpParams
from netbootsim.protocols.recovery import (
    first_resend,
    resends,
    tcp_reset_at,
    tcp_restart_schedule,
    tcp_rto_waits,
)

RTO = 0.2 + 4e-6  # TCP_RTO_MIN + the path's round trip


def outage_run(server: str, faults=(), engine: str = "flow", nics: int = 1,
               stages=None, profile: str | None = None) -> tuple:
    sc = scenario(servers=1)
    if profile is not None:
        sc["fleet"][0]["profile"] = profile
    sc["fleet"][0]["server"] = server
    sc["topology"]["server_link"]["bandwidth"] = "1Gbps"
    sc["topology"]["nics"] = nics
    sc["run"]["engine"] = engine
    if faults:
        sc["faults"] = list(faults)
    if stages is not None:
        sc["fleet"][0]["stages"] = stages
    res = simulate_scenario(sc)
    return res, res.phases.set_index("phase")


def kernel_midpoint(server: str, engine: str = "flow", nics: int = 1,
                    profile: str | None = None) -> tuple[float, float]:
    _, ph = outage_run(server, engine=engine, nics=nics, profile=profile)
    start, end = ph.loc["fetch:kernel", ["start", "end"]]
    return (start + end) / 2, end


def down(link: str, at: float, duration: float | None = None) -> dict:
    f = {"kind": "link-down", "target": link, "at": f"{at!r}s"}
    if duration is not None:
        f["duration"] = f"{duration!r}s"
    return f


# ------------------------------------------------------------------------- the law
def test_linux_gives_up_after_924_6_seconds():
    # ip-sysctl.rst: tcp_retries2 = 15 "corresponds to ... about 924.6 seconds" from a
    # 200 ms RTO: 0.2 × (2^10 - 1) = 204.6 s of doubling to 102.4 s, then six waits at
    # the 120 s ceiling = 720 s
    waits = tcp_rto_waits(0.0)
    assert len(waits) == 16 and waits[9] == pytest.approx(102.4) and waits[10:] == [120.0] * 6
    assert sum(waits) == pytest.approx(924.6)
    sends, gave_up = resends(0.0, waits)
    assert len(sends) == 15 and gave_up == pytest.approx(924.6)


def test_first_resend_while_a_path_is_up():
    waits = [0.25, 0.5, 1, 2, 4, 8]  # iPXE's timer: resends at 0.25, 0.75, 1.75, 3.75, 7.75
    assert first_resend(10.0, waits, lambda t: t >= 11.0) == 11.75
    assert first_resend(10.0, waits, lambda t: True) == 10.25
    assert first_resend(10.0, waits, lambda t: t >= 17.76) is None  # past 7.75: gave up
    # iPXE's keep-alive every 15 s from the loss: the first at or after both the drop
    # and the path being up again
    assert tcp_reset_at(0.0, 924.6, 10.0) == 930.0
    assert tcp_reset_at(0.0, 924.6, 1000.0) == 1005.0
    assert tcp_reset_at(0.0, 924.6, None) is None


def test_restart_from_one_segment_to_ssthresh_then_one_more_per_round_trip():
    # MSS 1000 (φ = 1090 / 1000 wire bytes per payload byte), RTT 1 s; 8000 B in
    # flight: ssthresh 4000 B. Windows per round trip: 1000, 2000, 4000 (ssthresh),
    # 5000, 6000 (= rwnd), as bounds × φ
    tcp = TcpParams(mss=1000, init_cwnd=10, rwnd=6000)
    phi = tcp.wire_factor
    first, changes = tcp_restart_schedule(tcp, 1.0, float("inf"), flight=8000)
    assert first == pytest.approx(1000 * phi)
    assert [t for t, _ in changes] == [1, 2, 3, 4]
    assert [b for _, b in changes] == pytest.approx([2000 * phi, 4000 * phi, 5000 * phi,
                                                     6000 * phi])
    # cut short once the bound passes the line rate (2180 < 2500 < 4360)
    _, changes = tcp_restart_schedule(tcp, 1.0, 2500.0, flight=8000)
    assert [b for _, b in changes] == pytest.approx([2000 * phi, 4000 * phi])


# --------------------------------------------------------------------------- TFTP
def test_tftp_resumes_at_the_client_resend_after_the_link_is_back():
    # down for 1 s from the kernel's midpoint t: iPXE's resends at t + 0.25 and
    # t + 0.75 are lost, the one at t + 1.75 gets through: 1.75 s later than without
    t, end = kernel_midpoint("tftp1")
    res, ph = outage_run("tftp1", [down("tor01--r01s001", t, 1.0)])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(end + 1.75, abs=1e-9)
    row = ph.loc["outage:kernel"]
    assert (row.start, row.end) == pytest.approx((t, t + 1.75))
    assert "resend 3 of the TFTP retry timer, same path" in row.reason
    assert res.servers.outcome.tolist() == ["ok"]


def test_tftp_gives_up_after_15_75_seconds():
    t, _ = kernel_midpoint("tftp1")
    res, ph = outage_run("tftp1", [down("tor01--r01s001", t, 20.0)])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 15.75, abs=1e-9)
    assert ph.loc["fetch:kernel", "outcome"] == "failed"
    reason = res.servers.reason.iloc[0]
    assert "TFTP timeout: link tor01--r01s001 down" in reason
    assert "5 resends unanswered in 15.75 s" in reason


# --------------------------------------------------------------------------- HTTP
def test_http_resumes_at_the_mirrors_retransmission():
    # down 1 s: the RTO expiries at 1 and 3 RTOs are lost, the one at 7 RTOs
    # (1.400028 s) gets through, at line rate at once
    t, end = kernel_midpoint("http1")
    _, ph = outage_run("http1", [down("tor01--r01s001", t, 1.0)])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(end + 7 * RTO, abs=1e-9)
    assert ph.loc["outage:kernel", "end"] == pytest.approx(t + 7 * RTO, abs=1e-12)


def test_a_lacp_member_down_moves_the_transfer_to_the_other_after_one_rto():
    # two links per server; the kernel is hashed onto "#2". Its going down moves the
    # transfer to the other member: the first retransmission (1 RTO) goes that way
    t, end = kernel_midpoint("http1", nics=2)
    _, ph = outage_run("http1", [down("tor01--r01s001#2", t, 30.0)], nics=2)
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(end + RTO, abs=1e-9)
    assert ph.loc["outage:kernel", "reason"].endswith("resend 1 of the TCP retransmission, "
                                                      "on another path")
    # the member it was not on: nothing happens
    _, ph = outage_run("http1", [down("tor01--r01s001", t, 30.0)], nics=2)
    assert ph.loc["fetch:kernel", "end"] == end and "outage:kernel" not in ph.index


def test_the_mirror_drops_the_connection_and_ipxe_hears_it_at_a_keepalive():
    # down 1000 s from t: the sender gives up ~924.6 s after (its RTO is a few ms over
    # the 200 ms floor), the link is back at t + 1000; iPXE's keep-alives go every 15 s
    # from t: the first at or after t + 1000 is t + 67 × 15 = t + 1005. The 2019 ROM
    # has no HTTP watchdog, so nothing ends the fetch before
    t, _ = kernel_midpoint("http1", profile="ipxe-2019-qemu")
    res, ph = outage_run("http1", [down("tor01--r01s001", t, 1000.0)],
                         profile="ipxe-2019-qemu")
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 1005.0, abs=1e-9)
    assert (f"fetch:kernel: connection reset: link tor01--r01s001 down at {t:g} s, the "
            "sender dropped it after 15 retransmissions") in res.servers.reason.iloc[0]


def test_ipxes_http_watchdog_ends_a_fetch_without_data_for_120_seconds():
    # today's iPXE closes an HTTP connection idle 120 s (HTTP_WATCHDOG_SECONDS): the
    # same outage ends the fetch at t + 120, long before the sender gives up
    t = 1.04
    res, ph = outage_run("http1", [down("tor01--r01s001", t, 1000.0)])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 120.0, abs=1e-9)
    assert ("no data for 120 s (iPXE's HTTP watchdog): link tor01--r01s001 down at "
            "1.04 s") in res.servers.reason.iloc[0]
    # an outage the mirror's retransmission outlives within 120 s does not: down 60 s,
    # its resends at 0.2 × (2^k - 1) s: the 9th, at 102.2 s, is the first after 60 s
    _, ph = outage_run("http1", [down("tor01--r01s001", t, 60.0)])
    assert ph.loc["outage:kernel", "end"] == pytest.approx(t + 511 * RTO, abs=1e-9)


def test_a_mirror_that_dies_under_a_transfer_takes_the_connection_with_it():
    # http1 down from the kernel's midpoint t for good: silent, no reset. Today's iPXE
    # gives up at its watchdog, t + 120; the 2019 ROM waits for ever (unfinished);
    # back after 30 s (a restart: no such connection), the next keep-alive (t + 30
    # rounded up to 15 s steps: t + 30) is answered by a reset
    t, _ = kernel_midpoint("http1")
    res, ph = outage_run("http1", [{"kind": "service-down", "target": "http1",
                                    "at": f"{t!r}s"}])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 120.0, abs=1e-9)
    assert "no data for 120 s (iPXE's HTTP watchdog): http1 down at" in \
        res.servers.reason.iloc[0]
    t19, _ = kernel_midpoint("http1", profile="ipxe-2019-qemu")
    res, _ = outage_run("http1", [{"kind": "service-down", "target": "http1",
                                   "at": f"{t19!r}s"}], profile="ipxe-2019-qemu")
    assert res.servers.outcome.tolist() == ["unfinished"]
    res, ph = outage_run("http1", [{"kind": "service-down", "target": "http1",
                                    "at": f"{t!r}s", "duration": "30s"}])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 30.0, abs=1e-9)
    assert "connection reset: http1 down at" in res.servers.reason.iloc[0]


def test_a_tftp_server_that_dies_under_a_transfer_times_the_client_out():
    # its session is lost: iPXE resends 5 times and gives up 15.75 s after
    t, _ = kernel_midpoint("tftp1")
    res, ph = outage_run("tftp1", [{"kind": "service-down", "target": "tftp1",
                                    "at": f"{t!r}s", "duration": "2s"}])
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(t + 15.75, abs=1e-9)
    assert "TFTP timeout: tftp1 down at" in res.servers.reason.iloc[0]


def test_a_link_down_for_good_leaves_the_server_waiting_until_its_stage_times_out():
    # no path ever again and no HTTP watchdog (the 2019 ROM): iPXE waits for ever; the
    # stage's 60 s timeout ends the attempt and names the outage as the last error
    t, _ = kernel_midpoint("http1", profile="ipxe-2019-qemu")
    res, ph = outage_run("http1", [down("tor01--r01s001", t)],
                         stages=[{"name": "boot", "timeout": "60s"}], profile="ipxe-2019-qemu")
    srv = res.servers.iloc[0]
    assert srv.outcome == "failed" and srv.reason.startswith("timed out after 60 s")
    assert ph.loc["outage:kernel", "reason"].startswith(
        f"link tor01--r01s001 down at {t:g} s for good")
    res, _ = outage_run("http1", [down("tor01--r01s001", t)], profile="ipxe-2019-qemu")
    assert res.servers.outcome.tolist() == ["unfinished"]


# ------------------------------------------------------- against the packet engine
@pytest.mark.parametrize(("server", "duration", "tolerance"), [
    # TFTP: both engines resend at iPXE's timer, from the same loss
    ("tftp1", 1.0, 0.02), ("tftp1", 5.0, 0.02),
    # HTTP: the packet engine's RTO is its measured SRTT (the 1 Gb/s port's queue
    # included) + max(4 RTTVAR, 200 ms), ~9 % above the law's unloaded RTT + 200 ms;
    # the stall grows with it (measured: 1.52 s against 1.40 at 1 s, 27.7 against 25.4
    # at 20 s)
    ("http1", 1.0, 0.12), ("http1", 20.0, 0.12),
])
def test_the_stall_agrees_with_the_packet_engine(server, duration, tolerance):
    stalls = {}
    for engine in ("flow", "packet"):
        t, end = kernel_midpoint(server, engine)
        _, ph = outage_run(server, [down("tor01--r01s001", t, duration)], engine=engine)
        stalls[engine] = ph.loc["fetch:kernel", "end"] - end
    flow, packet = stalls["flow"], stalls["packet"]
    if server == "tftp1":
        assert abs(flow - packet) < tolerance
    else:
        assert abs(flow - packet) / packet < tolerance


def test_a_transfer_back_after_an_outage_keeps_its_lag_member():
    # two links per server, the kernel hashed onto "#2" by its flow key; the boot host's
    # own link goes down 1 s and comes back: the resent data takes the route chosen
    # again by the same key, so the same member ("same path"), 7 RTOs later
    t, end = kernel_midpoint("http1", nics=2)
    _, ph = outage_run("http1", [down("tor01--boot1", t, 1.0)], nics=2)
    assert ph.loc["outage:kernel", "reason"].endswith("same path")
    assert ph.loc["fetch:kernel", "end"] == pytest.approx(end + 7 * RTO, abs=1e-9)
