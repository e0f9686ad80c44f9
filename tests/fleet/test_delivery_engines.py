"""The delivery tier on both engines: balancers and edge caches, flow against packet.

The flow engine shares each link's rate by max-min fairness and lays each TCP transfer
out by its laws (slow start, window, RTT); the packet engine sends every segment. Where
the two run the same scenario they must agree on when each server is ready. Each case
puts a bottleneck in the part under test (a balancer's own 1 Gb/s link every byte
crosses twice, an edge's 1 Gb/s link and its fill from the origin) so that the transfers,
not the firmware, make the times compared.

Tolerance: 2 % of the time from the first fetch to the last server ready, on the
makespan and on the mean time to ready (the engines share a link alike in total but not
flow by flow: the packet engine's flows are not equal at every instant).

Where they do not agree (measured 2026-12-05, commit after 722e5d4; marked xfail, strict,
so that a fix shows up here):

* ``l4`` through the balancer's own 1 Gb/s link: the packet engine's makespan is 10.5 %
  longer (1.575 s against 1.426 s). The same four fetches straight from a host behind
  a 1 Gb/s link agree to the millisecond, so the gap comes from the path that crosses
  the balancer's link both ways (its ACKs queue behind data); not analysed further.
* an edge's fill from its origin (a Linux-to-Linux transfer, the Linux window): the
  packet engine fills at about a third of the edge's 1 Gb/s link (8 MiB in 0.222 s
  against the flow engine's 0.071 s; 32 MiB in 0.80 s against 0.29 s), so the
  coalesced case ends 39 % later. The clients' own fetches from the edge agree. The
  fill's Linux window overflows the 25 -> 1 Gb/s step: the packet engine drops 6,865 of
  144,866 packets at tor01->cache1's 512 KiB queue and its TCP recovers slowly; the
  flow engine has no queue to overflow. Which recovery is right for a Linux sender
  (SACK, RACK/TLP) is not analysed yet.
"""

from __future__ import annotations

import copy

import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario

GIG = {"bandwidth": "1Gbps", "latency": "1us"}
SCRIPT = "#!ipxe\ndhcp\nkernel http://lb1/kernel\ninitrd http://lb1/initrd\nboot\n"


def balanced(mode: str, model: str = "haproxy", down: str | None = None) -> dict:
    """4 servers; lb1 on its own host behind a 1 Gb/s link; mirrors http1 and http2."""
    sc = scenario(servers=4)
    sc["fleet"][0]["count"] = 4
    sc["topology"]["hosts"].append({"name": "lbhost", "link": GIG})
    sc["services"]["http2"] = {"kind": "http", "host": "boot1", "model": "nginx"}
    sc["services"]["lb1"] = {"kind": "lb", "host": "lbhost", "mode": mode, "model": model,
                             "pool": ["http1", "http2"]}
    sc["fleet"][0]["script"] = SCRIPT
    if down is not None:
        sc["faults"] = [{"kind": "service-down", "target": down, "at": "0s"}]
    return sc


def edged(coalesce: bool) -> dict:
    """4 servers fetch from edge1 (1 Gb/s link), which fills from http1."""
    sc = scenario(servers=4)
    sc["fleet"][0]["count"] = 4
    sc["topology"]["hosts"].append({"name": "cache1", "link": GIG})
    sc["services"]["edge1"] = {"kind": "http", "host": "cache1", "model": "nginx",
                               "origin": "http1", "coalesce": coalesce}
    sc["fleet"][0]["server"] = "edge1"
    return sc


_GAP = pytest.mark.xfail(strict=True, reason="the engines disagree (module docstring)")
CASES = [
    pytest.param(lambda: balanced("redirect"), id="302 redirector"),
    pytest.param(lambda: balanced("l4", "nginx", down="http1"), id="nginx l4, a dead mirror"),
    pytest.param(lambda: balanced("l4"), id="l4 through its own link", marks=_GAP),
    pytest.param(lambda: edged(True), id="edge, coalesced fill", marks=_GAP),
    pytest.param(lambda: edged(False), id="edge, a fill per miss", marks=_GAP),
]


def _run(sc: dict, engine: str):
    sc = copy.deepcopy(sc)
    sc["run"]["engine"] = engine
    return simulate_scenario(sc)


@pytest.mark.parametrize("make", CASES)
def test_flow_and_packet_engines_agree_on_the_delivery_tier(make):
    sc = make()
    flow, packet = _run(sc, "flow"), _run(sc, "packet")
    assert flow.servers.outcome.tolist() == packet.servers.outcome.tolist() == ["ok"] * 4
    a = flow.servers.set_index("server").ready
    b = packet.servers.set_index("server").ready
    t0 = float(flow.phases[flow.phases.phase.str.startswith("fetch:")].start.min())
    span = float(a.max()) - t0
    assert span > 0.05  # the transfers make the time, not the firmware
    assert abs(float(a.max() - b.max())) <= 0.02 * span
    assert abs(float(a.mean() - b.mean())) <= 0.02 * span
    # the same records of the delivery tier's own (waits, redirects, fills) on both
    kinds = ("upstream-wait:", "redirect:", "edge-fill:")

    def own(res):
        ph = res.phases
        return sorted(ph[ph.phase.str.startswith(kinds)].phase.tolist())
    assert own(flow) == own(packet)
