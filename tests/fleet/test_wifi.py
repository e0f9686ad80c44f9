"""Wi-Fi stations: an access point's medium shared as Bianchi's DCF says, association first.

The model (:mod:`netbootsim.net.wifi`) is checked by hand at one station and by its
properties at more; the fleet tests use the small scenario's rack with an access point
on its ToR and stations w001... (rack ``wifi``).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.fleet.world import WIRE_PER_MSDU
from netbootsim.net.wifi import OFDM_RATES, dcf_throughput, frame_time, tau_of
from netbootsim.topology import station_rates


def test_one_station_at_54_mbps_by_hand():
    # One station: no collision (p = 0), tau = 2 / (W + 1) = 2/17. A 1536-byte frame at
    # 54 Mb/s: 16 + 8 x 1536 + 6 = 12,310 bits / 216 bits a symbol -> 57 symbols = 228 us,
    # + 20 us preamble = 248 us; the ACK (14 bytes at 24 Mb/s): 134 bits / 96 -> 2
    # symbols = 8 us + 20 = 28 us. Ts = 248 + 16 (SIFS) + 28 + 34 (DIFS) = 326 us.
    # S = tau x 1500 B / ((1 - tau) x 9 us + tau x 326 us)
    #   = 176.47 B / (7.941 + 38.353) us = 3.8120 MB/s = 30.50 Mb/s.
    assert frame_time(1536, 54) == pytest.approx(248e-6, abs=1e-12)
    assert frame_time(14, 24) == pytest.approx(28e-6, abs=1e-12)
    tau = 2 / 17
    assert tau_of(1) == pytest.approx(tau)
    by_hand = tau * 1500 / ((1 - tau) * 9e-6 + tau * 326e-6)
    assert dcf_throughput([54.0]) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand * 8 / 1e6 == pytest.approx(30.50, abs=0.01)


def test_bianchi_fixed_point_holds():
    # tau solves tau = 2(1-2p)/((1-2p)(W+1) + pW(1-(2p)^m)) with p = 1-(1-tau)^(n-1)
    for n in (2, 5, 10, 50):
        tau = tau_of(n)
        p = 1 - (1 - tau) ** (n - 1)
        rhs = 2 * (1 - 2 * p) / ((1 - 2 * p) * 17 + p * 16 * (1 - (2 * p) ** 6))
        assert tau == pytest.approx(rhs, rel=1e-9)


def test_capacity_falls_with_contention_beyond_two_stations():
    # Bianchi basic access: throughput peaks at a few stations, then collisions eat it
    s = [dcf_throughput([54.0] * n) for n in (2, 5, 10, 20, 50)]
    assert all(a > b for a, b in zip(s, s[1:], strict=False))


@given(st.lists(st.sampled_from(OFDM_RATES), min_size=1, max_size=30))
def test_a_slow_station_drags_the_cell_down(rates):
    # the 802.11 anomaly: equal shares, so the medium carries less than with every
    # station at the fastest rate among them, and no more than with all at the slowest
    got = dcf_throughput(rates)
    assert 0 < got <= dcf_throughput([max(rates)] * len(rates)) * (1 + 1e-12)
    assert got >= dcf_throughput([min(rates)] * len(rates)) * (1 - 1e-12)


def test_station_rates_lay_out_the_mix_by_index():
    assert station_rates(4, [(54.0, 0.5), (24.0, 0.5)]) == (54.0, 54.0, 24.0, 24.0)
    assert station_rates(3, [(54.0, 1.0)]) == (54.0, 54.0, 54.0)


def wifi_scenario(stations=1, servers=1, **wifi) -> dict:
    sc = scenario(servers=servers)
    sc["topology"]["wifi"] = {"stations": stations, **wifi}
    sc["fleet"][0].update(count=stations, racks=["wifi"])
    return sc


def test_a_station_associates_for_a_second_before_dhcp():
    res = simulate_scenario(wifi_scenario())
    ph = res.phases.set_index("phase")
    assert ph.loc["associate", "endpoint"] == "ap"
    assert ph.loc["associate", "end"] - ph.loc["associate", "start"] == pytest.approx(1.0)
    assert ph.loc["dhcp", "start"] == pytest.approx(ph.loc["associate", "end"])
    assert res.servers.outcome.tolist() == ["ok"]


def test_two_stations_share_the_medium_at_the_dcf_throughput_of_two():
    # Two 54 Mb/s stations fetching at once: the medium ("ap:air") is the bottleneck the
    # two share; its capacity is S(2 stations) in the flows' wire bytes, and the
    # line-rate bound's resource (all bytes crossed it).
    res = simulate_scenario(wifi_scenario(stations=2))
    b = res.summary["bottlenecks"][0]
    assert b["resource"] == "ap:air" and b["max_flows"] == 2
    bound = res.summary["line_rate_bound"]
    assert bound["resource"] == "ap:air"
    # the bound's capacity is the last one set; while both transfer it is S(2)
    assert bound["capacity_bps"] / 8 in (pytest.approx(WIRE_PER_MSDU * dcf_throughput([54.0] * 2)),
                                         pytest.approx(WIRE_PER_MSDU * dcf_throughput([54.0])))
    kernel = res.phases[res.phases.phase == "fetch:kernel"]
    # each kernel (8 MiB) at half of ~31.5 Mb/s takes at least 8 MiB / (S(2)/2)
    least = 8 * 2**20 / (dcf_throughput([54.0] * 2) / 2)
    assert ((kernel.end - kernel.start) >= least * 0.999).all()
    assert res.servers.outcome.tolist() == ["ok", "ok"]


def test_a_slow_station_slows_the_fast_one():
    # a 6 Mb/s and a 54 Mb/s station share equally: the fast one's kernel takes about
    # as long as the slow one's, far longer than with two fast stations
    fast = simulate_scenario(wifi_scenario(stations=2))
    mixed = simulate_scenario(wifi_scenario(stations=2, rates=[
        {"rate": "54Mbps", "share": 0.5}, {"rate": "6Mbps", "share": 0.5}]))

    def kernel(res, server):
        k = res.phases[(res.phases.phase == "fetch:kernel") & (res.phases.server == server)]
        return float((k.end - k.start).iloc[0])
    assert kernel(mixed, "w001") > 2.5 * kernel(fast, "w001")
    assert kernel(mixed, "w001") == pytest.approx(kernel(mixed, "w002"), rel=0.05)
    assert not math.isnan(mixed.summary["makespan"])


@pytest.mark.parametrize("change, field, words", [
    (lambda sc: sc["topology"]["wifi"].update(rates=[{"rate": "300Mbps"}]),
     "topology.wifi.rates[0].rate", "not an 802.11a/g OFDM rate"),
    (lambda sc: sc["topology"]["wifi"].update(rates=[{"rate": "54Mbps", "share": 0.5}]),
     "topology.wifi.rates", "add up to 0.5"),
    (lambda sc: sc["topology"]["wifi"].update(stations=0), "topology.wifi.stations", "≥ 1"),
    (lambda sc: sc["run"].update(engine="packet"), "topology.wifi", "flow engine"),
])
def test_bad_wifi_is_refused(change, field, words):
    sc = wifi_scenario()
    change(sc)
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = str(e.value.problems[0])
    assert field in text and words in text, text


def test_wifi_on_a_leaf_spine_is_refused():
    sc = {"topology": {"shape": "leaf-spine", "racks": 2, "servers_per_rack": 2,
                       "oversubscription": 1, "hosts": [{"name": "boot1"}],
                       "wifi": {"stations": 2}},
          "services": {"http1": {"kind": "http", "host": "boot1"}},
          "images": {"kernel": {"size": "1MiB"}},
          "fleet": [{"name": "g", "count": 2, "boot": "ipxe", "images": ["kernel"],
                     "server": "http1"}]}
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    assert "topology.wifi" in str(e.value.problems[0])


def test_groups_pick_stations_by_rack_pattern():
    # a multi-site fleet: 2 sites, each with a rack of 2 servers and 2 stations;
    # "*-wifi" takes the 4 stations, the servers stay for the other group
    sc = scenario(servers=1)
    sc["topology"] = {"shape": "multi-site", "sites": 2, "racks": 1, "servers_per_rack": 2,
                      "wan": {"bandwidth": "1Gbps", "latency": "5ms"},
                      "hosts": [{"name": "boot1"}], "wifi": {"stations": 2}}
    sc["fleet"] = [{**sc["fleet"][0], "name": "kiosks", "count": 4, "racks": ["*-wifi"]},
                   {**sc["fleet"][0], "name": "servers", "count": 4}]
    res = simulate_scenario(sc)
    got = res.servers.set_index("server").group.to_dict()
    assert sorted(s for s, g in got.items() if g == "kiosks") == [
        "s01-w001", "s01-w002", "s02-w001", "s02-w002"]
    assert res.summary["completed"] == 8
    sc["fleet"][0]["racks"] = ["*-wlan"]
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    said = [str(p) for p in e.value.problems]
    assert any("fleet[0].racks[0]" in t and "no rack matches" in t for t in said), said
