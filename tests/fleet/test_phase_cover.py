"""A ready server's phases cover its boot: no wait goes unrecorded.

The report splits the time by phase and the slow tail gives each slow server's seconds
per phase; both trust that a server's phases (nested ones left out, only what lies after
its power-on) add up to its boot time, ready − power-on. Each case below makes a server
wait somewhere other than in a transfer: for an edge cache's fill another request
started, for a service that is down (the client's retries), for a link down on the way,
for a TFTP slot whose queue served its first RRQ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.report.spread import phase_seconds


def gaps(res) -> np.ndarray:
    """Each ready server's boot time less the seconds its phases account for."""
    s = res.servers[res.servers.outcome == "ok"]
    at = pd.Series(s.power_on.to_numpy(float),
                   index=pd.MultiIndex.from_arrays([s.replication, s.server]))
    covered = phase_seconds(res.phases, since=at).sum(axis=1).reindex(at.index)
    return (s.ready - s.power_on).to_numpy(float) - covered.fillna(0.0).to_numpy(float)


def coalesced_edge() -> dict:
    # four servers miss the cold edge at about the same instant: the first one's request
    # starts the fill, the other three wait for it (edge-wait)
    sc = scenario(servers=4)
    sc["fleet"][0]["count"] = 4
    sc["topology"]["hosts"].append({"name": "cache1"})
    sc["services"]["edge1"] = {"kind": "http", "host": "cache1", "model": "nginx",
                               "origin": "http1", "coalesce": True}
    sc["fleet"][0]["server"] = "edge1"
    return sc


def service_down() -> dict:
    # the mirror is down from 0.5 s to 3 s; DHCP ends at about 1 s: the kernel's SYNs go
    # unanswered until 3 s (down-wait)
    sc = scenario(servers=2)
    sc["fleet"][0]["count"] = 2
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0.5s",
                     "duration": "2.5s"}]
    return sc


def link_down() -> dict:
    # the mirror moves to a host of its own, boot2, whose link is down from 0 s to 3 s:
    # DHCP (on boot1) ends at about 1 s, the kernel's SYNs are retried until the link is
    # back at 3 s (down-wait)
    sc = scenario(servers=2)
    sc["fleet"][0]["count"] = 2
    sc["topology"]["hosts"].append({"name": "boot2"})
    sc["services"]["http1"]["host"] = "boot2"
    sc["faults"] = [{"kind": "link-down", "target": "tor01--boot2", "at": "0s",
                     "duration": "3s"}]
    return sc


def tftp_queue() -> dict:
    # 30 servers fetch over TFTP from dnsmasq capped at 2 sessions
    sc = scenario(servers=30)
    sc["fleet"][0].update({"count": 30, "server": "tftp1"})
    sc["services"]["tftp1"] = {"kind": "tftp", "host": "boot1", "model": "dnsmasq",
                               "max_sessions": 2}
    return sc


def down_then_worker() -> dict:
    # the mirror is down until 3 s and has one worker: each server waits for it to come
    # back (down-wait), then for the worker (http-wait), one after the other
    sc = service_down()
    sc["fleet"][0]["count"] = sc["topology"]["servers"] = 4
    sc["services"]["http1"]["workers"] = 1
    return sc


def edge_with_a_worker() -> dict:
    # the coalesced edge with one worker: edge-wait, then http-wait at the edge
    sc = coalesced_edge()
    sc["services"]["edge1"]["workers"] = 1
    return sc


def failed_fill_then_origin() -> dict:
    # the origin is down from 0.5 s to 20.5 s: the edge's fill (and the coalesced waits
    # on it) fail after iPXE's 15.75 s of SYNs; the script falls back to the origin
    # itself, retried until it is back (down-wait)
    sc = coalesced_edge()
    sc["fleet"][0]["count"] = sc["topology"]["servers"] = 3
    sc["fleet"][0].pop("images")
    sc["fleet"][0]["script"] = ("#!ipxe\ndhcp\nkernel http://edge1/kernel || "
                                "kernel http://http1/kernel\ninitrd http://http1/initrd\nboot\n")
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0.5s",
                     "duration": "20s"}]
    return sc


def origin_down_under_edge() -> dict:
    # the coalesced edge's origin is down from 0.5 s to 3 s: the fill the first miss
    # starts at about 1 s waits for it (edge-origin/down-wait, that server's, nested in
    # its edge-fill), the other three wait for the fill (edge-wait)
    sc = coalesced_edge()
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0.5s",
                     "duration": "2.5s"}]
    return sc


def san_outage() -> dict:
    # a diskless boot whose target is down from 1.1 s to 8 s during the loader's reads:
    # the outage lies inside san-read:loader (san-outage:loader, nested)
    from test_san import outage_scenario
    return outage_scenario(1, "1.1s", "6.9s")


@pytest.mark.parametrize("make, wait", [(coalesced_edge, "edge-wait:"),
                                        (service_down, "down-wait:"),
                                        (link_down, "down-wait:"),
                                        (tftp_queue, "tftp-wait:"),
                                        (down_then_worker, "http-wait:"),
                                        (edge_with_a_worker, "http-wait:"),
                                        (failed_fill_then_origin, "edge-wait:"),
                                        (origin_down_under_edge, "edge-origin/down-wait:"),
                                        (san_outage, "san-outage:loader")])
def test_a_ready_servers_phases_add_up_to_its_boot(make, wait):
    res = simulate_scenario(make())
    assert res.summary["completed"] >= 1  # (the TFTP cap fails some: what they waited
    # for before failing lies in their failed phases)
    waits = res.phases[res.phases.phase.str.startswith(wait)]
    assert len(waits) and (waits.seconds > 0).all()  # the case does make servers wait
    assert np.abs(gaps(res)).max() < 1e-9


def test_the_waits_say_what_held_them():
    ph = simulate_scenario(service_down()).phases
    w = ph[ph.phase == "down-wait:kernel"]
    # both servers' DHCP ends near 1 s; the mirror answers at 3 s: each waits ~2 s
    assert (w.endpoint == "http1").all() and (w.end == 3.0).all()
    assert set(w.reason) == {"retried until it answered (http1 down)"}
    ph = simulate_scenario(link_down()).phases
    w = ph[ph.phase == "down-wait:kernel"]
    assert (w.end == 3.0).all()
    assert set(w.reason) == {"retried until it answered (a link down on the way to http1)"}
    ph = simulate_scenario(coalesced_edge()).phases
    w = ph[ph.phase == "edge-wait:kernel"]
    fill = ph[ph.phase == "edge-fill:kernel"]
    assert len(fill) == 1 and len(w) == 3 and set(w.endpoint) == {"edge1"}
    assert (w.end == fill.end.iat[0]).all()  # the waiters go on when the fill ends
    assert set(w.reason) == {"for edge1's fill from http1"}
    # what the edge's own request to its origin met is the server's whose miss started
    # the fill, inside its edge-fill; the edge's host boots nothing and has no records
    res = simulate_scenario(origin_down_under_edge())
    ph = res.phases
    assert set(ph.server) <= set(res.servers.server)
    w = ph[ph.phase == "edge-origin/down-wait:kernel"]
    fill = ph[ph.phase == "edge-fill:kernel"]
    assert len(w) == 1 and len(fill) == 1 and w.server.iat[0] == fill.server.iat[0]
    assert (w.endpoint.iat[0], w.end.iat[0]) == ("http1", 3.0)
    assert fill.start.iat[0] == w.start.iat[0] and fill.end.iat[0] > 3.0
    assert w.reason.iat[0] == "retried until it answered (http1 down)"
    # a queued RRQ served before the client re-sent it waited too (left out before)
    ph = simulate_scenario(tftp_queue()).phases
    w = ph[ph.phase.str.startswith("tftp-wait:")]
    assert (w.reason == "1 RRQ before a slot (tftp-max 2)").any()
