"""TLS terminated at a service: its handshakes hold CPU cores, its bytes cross its cipher.

The small scenario (one rack; boot1 one hop from the servers: a 4 us round trip), with
http1 serving ``https://`` and the group fetching its kernel and initrd from it. The
client's own crypto time is 0 s (uncalibrated, as without ``tls``); only the server's
side is added here.
"""

from __future__ import annotations

import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.fleet.spec import TLS_HANDSHAKE_RTTS
from netbootsim.services.registry import TLS_SERVER

RTT = 4e-6
SCRIPT = "#!ipxe\ndhcp\nkernel https://{h}/kernel\ninitrd https://{h}/initrd\nboot\n"


def tls_scenario(servers=1, tls=None, host="http1") -> dict:
    sc = scenario(servers=servers)
    sc["fleet"][0]["count"] = servers
    sc["services"]["http1"]["https"] = True
    if tls is not None:
        sc["services"]["http1"]["tls"] = tls
    sc["fleet"][0]["script"] = SCRIPT.format(h=host)
    return sc


def fetches(res, server=None):
    ph = res.phases
    if server is not None:
        ph = ph[ph.server == server]
    ph = ph[ph.phase.str.startswith("fetch:")]
    return dict(zip(ph.phase, (ph.end - ph.start).tolist(), strict=True))


def test_a_new_connection_waits_for_the_servers_handshake_and_a_pooled_one_does_not():
    # One server; a 10 ms handshake on http1's one core, a cipher far above the links:
    # the kernel's fetch (a new connection) is 10 ms longer than without tls, the
    # initrd's (the pooled connection: no handshake) no longer.
    base = fetches(simulate_scenario(tls_scenario()))
    got = fetches(simulate_scenario(tls_scenario(tls={"cores": 1, "handshake": "10ms",
                                                       "cipher_rate": "1000GB/s"})))
    assert got["fetch:kernel"] - base["fetch:kernel"] == pytest.approx(0.010, abs=1e-9)
    assert got["fetch:initrd"] == pytest.approx(base["fetch:initrd"], abs=1e-9)


def test_handshakes_queue_for_the_cores():
    # Two servers, one core, 10 ms a handshake: the second handshake starts when the
    # first frees the core. Its handshake begins at its fetch's start + 4 RTT (the TLS
    # round trips come first); the pool is saturated from then until the first one's
    # ends: (h1 + 10 ms) - h2, as the summary's bottleneck says.
    res = simulate_scenario(tls_scenario(servers=2, tls={"cores": 1, "handshake": "10ms",
                                                          "cipher_rate": "1000GB/s"}))
    k = res.phases[res.phases.phase == "fetch:kernel"].sort_values("start")
    h1, h2 = (k.start + TLS_HANDSHAKE_RTTS * RTT).tolist()
    assert h2 - h1 < 0.010  # (the premise: the second asks while the first holds it)
    pools = {b["resource"]: b for b in res.summary["bottlenecks"]}
    waited = pools["http1:tls-handshakes"]["saturated_seconds"]
    assert waited == pytest.approx(h1 + 0.010 - h2, abs=1e-9)
    assert pools["http1:tls-handshakes"]["max_flows"] == 1


def test_the_bulk_cipher_is_a_shared_rate_the_line_rate_bound_sees():
    # Two servers, one core encrypting 1 MB/s: every HTTPS byte crosses "http1:tls",
    # far slower than the 25 Gb/s links, so it is the bottleneck the two transfers
    # share and the line-rate bound's resource, at 8 Mb/s.
    res = simulate_scenario(tls_scenario(servers=2, tls={"cores": 1,
                                                         "cipher_rate": "1MB/s"}))
    bound = res.summary["line_rate_bound"]
    assert bound["resource"] == "http1:tls" and bound["capacity_bps"] == pytest.approx(8e6)
    assert res.summary["bottlenecks"][0]["resource"] == "http1:tls"
    assert res.summary["makespan"] >= bound["seconds"]


def test_defaults_are_the_lab_measurement():
    # the handshake: one RSA-2048 signature and two X25519 operations on one core
    assert TLS_SERVER.handshake == pytest.approx(1 / 4538.127090 + 2 / 38250.0)
    base = fetches(simulate_scenario(tls_scenario()))
    got = fetches(simulate_scenario(tls_scenario(tls={"cores": 4})))
    assert got["fetch:kernel"] - base["fetch:kernel"] == pytest.approx(
        TLS_SERVER.handshake, rel=1e-3)


def test_an_l4_balancer_that_terminates_tls_pays_instead_of_the_mirror():
    # through lb1 (l4), which terminates TLS with a slow cipher: its cipher is the
    # bottleneck, and the mirror's (fast, also configured) carries nothing
    sc = tls_scenario(servers=2, tls={"cores": 1, "cipher_rate": "1000GB/s"}, host="lb1")
    sc["services"]["lb1"] = {"kind": "lb", "host": "boot1", "pool": ["http1"],
                             "mode": "l4", "tls": {"cores": 1, "cipher_rate": "1MB/s"}}
    res = simulate_scenario(sc)
    assert res.summary["line_rate_bound"]["resource"] == "lb1:tls"
    assert "http1:tls" not in {b["resource"] for b in res.summary["bottlenecks"]}
    assert res.summary["bottlenecks"][0]["resource"] == "lb1:tls"
    assert res.servers.outcome.tolist() == ["ok", "ok"]


@pytest.mark.parametrize("tls, field, words", [
    ({"cores": 0}, "services.http1.tls.cores", "must be ≥ 1"),
    ({"handshake": "1ms"}, "services.http1.tls.cores", "required field missing"),
    ({"cores": 2, "cipher_rate": "0B/s"}, "services.http1.tls.cipher_rate", ""),
])
def test_bad_tls_is_refused(tls, field, words):
    with pytest.raises(InputError) as e:
        simulate_scenario(tls_scenario(tls=tls))
    text = str(e.value.problems[0])
    assert field in text and words in text, text


def test_tls_on_a_service_without_https_is_refused():
    sc = tls_scenario(tls={"cores": 2})
    sc["services"]["http1"]["https"] = False
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = str(e.value.problems[0])
    assert "services.http1.tls" in text and "https" in text, text


def test_the_packet_engine_sends_through_the_cipher_too():
    # the packet engine: the cipher is a 1 MB/s fair link before the wire, so the
    # 8 MiB kernel takes at least 8 MiB / 1 MB/s = 8.39 s, against well under a second
    # without tls on the 25 Gb/s links
    sc = tls_scenario(tls={"cores": 1, "cipher_rate": "1MB/s"})
    sc["images"]["initrd"] = {"size": "1MiB"}
    sc["run"]["engine"] = "packet"
    got = fetches(simulate_scenario(sc))
    assert got["fetch:kernel"] >= 8 * 2**20 / 1e6
    del sc["services"]["http1"]["tls"]
    assert fetches(simulate_scenario(sc))["fetch:kernel"] < 1.0


def test_the_handshake_is_four_round_trips_as_the_lab_measured():
    # https:// against http:// from the same server with no server-side cost (a
    # zero-time handshake, a cipher far above the links) and the client's time 0: the
    # kernel's fetch (a new connection) is 4 RTT = 16 us longer (iPXE 2.0's handshake,
    # lab round 2); the initrd's (pooled) is not.
    plain = scenario(servers=1)
    plain["fleet"][0]["script"] = SCRIPT.format(h="http1").replace("https://", "http://")
    base = fetches(simulate_scenario(plain))
    got = fetches(simulate_scenario(tls_scenario(tls={"cores": 1, "handshake": "0s",
                                                       "cipher_rate": "1000GB/s"})))
    assert TLS_HANDSHAKE_RTTS == 4
    assert got["fetch:kernel"] - base["fetch:kernel"] == pytest.approx(4 * RTT, abs=1e-12)
    assert got["fetch:initrd"] == pytest.approx(base["fetch:initrd"], abs=1e-12)


def test_the_clients_own_tls_time_lengthens_each_new_connection():
    # The profile's tls_client_time (ipxe-current-bios: 76.42 ms, QEMU TCG's crypto) is
    # added to the handshake's 4 round trips: tuned to 50 ms, the kernel's fetch (a new
    # connection) is 50 ms longer than with 0; the initrd's (the pooled one) no longer.
    base = fetches(simulate_scenario(tls_scenario()))
    sc = tls_scenario()
    sc["fleet"][0]["tune"] = {"tls_client_time": "50ms"}
    got = fetches(simulate_scenario(sc))
    assert got["fetch:kernel"] - base["fetch:kernel"] == pytest.approx(0.050, abs=1e-9)
    assert got["fetch:initrd"] == pytest.approx(base["fetch:initrd"], abs=1e-9)
    from netbootsim.profiles import get_profile

    fitted = get_profile("ipxe-current-bios")
    assert fitted.tls_client_time == pytest.approx(0.07642) and fitted.https
    assert not get_profile("ipxe-2019-qemu").https and get_profile("ipxe-2019-qemu").calibrated


def test_the_clients_bulk_tls_rate_caps_an_https_fetch_and_not_an_http_one():
    # tls_client_rate tuned to 8 MB/s (the lab's emulated AES-GCM: 7.7-8.7 MB/s): the
    # initrd's fetch (32 MiB, the pooled connection, a 25 Gb/s path with a 4 us round
    # trip) takes its wire bytes at 8 MB/s: 32 MiB + 250 B of headers, in segments of
    # the profile's MSS, each with its frame overhead, over 8e6 B/s -> ~4.3 s (against
    # ~11 ms without). The same tune leaves a plain HTTP fetch alone.
    from netbootsim.profiles import get_profile
    from netbootsim.protocols.wire import tcp_wire_bytes

    sc = tls_scenario()
    sc["fleet"][0]["tune"] = {"tls_client_rate": "8MB/s"}
    got = fetches(simulate_scenario(sc))
    mss = get_profile("ipxe-current").tcp.mss
    wire = tcp_wire_bytes(32 * 2**20 + 250, mss)
    assert got["fetch:initrd"] == pytest.approx(wire / 8e6, rel=2e-3)
    base = fetches(simulate_scenario(tls_scenario()))
    assert base["fetch:initrd"] < 0.05
    plain = scenario(servers=1)
    plain["fleet"][0]["script"] = SCRIPT.format(h="http1").replace("https://", "http://")
    untouched = fetches(simulate_scenario(plain))
    plain["fleet"][0]["tune"] = {"tls_client_rate": "8MB/s"}
    assert fetches(simulate_scenario(plain)) == untouched
    # the lab-fitted builds carry it, a real machine's has none (no limit)
    assert get_profile("ipxe-current-bios").tls_client_rate == pytest.approx(8.687e6)
    assert get_profile("ipxe-current-efi").tls_client_rate == pytest.approx(7.706e6)
    assert get_profile("ipxe-current").tls_client_rate == float("inf")
