"""Server classes in a fleet: POST before the ROM, a mixed group, boot files per platform."""

import math

import numpy as np
import pytest
import simpy
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.streams import Streams

MIX = {"mix": [{"weight": 0.7, "profile": "server-uefi"},
               {"weight": 0.3, "profile": "server-bios"}]}
FILES = {"bios": "undionly.kpxe", "uefi": "ipxe.efi"}
NBP = {"bios": "fetch:undionly.kpxe", "uefi": "fetch:ipxe.efi"}


def _mixed(servers: int, count: int) -> dict:
    sc = scenario(servers=servers)
    sc["images"]["ipxe.efi"] = {"size": "1MiB"}
    sc["fleet"][0].update(count=count, boot="pxe-chainload-ipxe", rom=MIX, boot_files=FILES)
    return sc


def _nbps(res, group: str = "g") -> dict[str, str]:
    ph = res.phases
    f = ph[(ph.group == group) & ph.phase.isin(list(NBP.values()))]
    return dict(zip(f.server, f.phase, strict=True))


def _posts(res, group: str = "g") -> dict[str, float]:
    ph = res.phases
    f = ph[(ph.group == group) & (ph.phase == "post")]
    return dict(zip(f.server, f.seconds, strict=True))


def test_each_server_of_a_mixed_group_fetches_its_own_platforms_boot_file():
    # Server i of group g runs part which[i] of the mix: the stream group/g/rom, one
    # choice per server with p = (0.7, 0.3). Seed 1 gives [1 0 1 1 0 0 0 0]: servers
    # 1, 3 and 4 are server-bios (option 93 = 0: undionly.kpxe), the rest server-uefi
    # (7: ipxe.efi).
    res = simulate_scenario(_mixed(8, 8))
    assert res.summary["seed"] == 1
    which = Streams(1).rng("group", "g", "rom").choice(2, size=8, p=[0.7, 0.3])
    assert which.tolist() == [1, 0, 1, 1, 0, 0, 0, 0]
    servers = [f"r01s{i:03d}" for i in range(1, 9)]
    want = {s: NBP["bios" if w else "uefi"] for s, w in zip(servers, which, strict=True)}
    assert _nbps(res) == want
    assert (res.servers.outcome == "ok").all()
    # ... and waits its own POST: draw i of its profile's stream group/g/rom/<profile>/post,
    # lognormal(ln 180 s, ln(300/180) / z95), before anything else of the server.
    sigma = math.log(300 / 180) / 1.6448536269514722
    draws = {p: Streams(1).rng("group", "g", "rom", p, "post").lognormal(math.log(180), sigma, 8)
             for p in ("server-uefi", "server-bios")}
    posts = _posts(res)
    for i, (s, w) in enumerate(zip(servers, which, strict=True)):
        assert posts[s] == pytest.approx(draws["server-bios" if w else "server-uefi"][i],
                                         abs=1e-9)
    ph = res.phases
    first = ph[ph.phase != "power-on"].sort_values("start").groupby("server").first()
    assert (first.phase == "post").all()


def test_the_mixed_draws_are_reproducible_and_unmoved_by_another_group():
    one = _mixed(12, 6)
    a, b = simulate_scenario(one), simulate_scenario(one)
    assert a.servers.equals(b.servers) and a.phases.equals(b.phases)
    two = _mixed(12, 6)
    two["fleet"].append({"name": "h", "count": 6, "boot": "pxe-chainload-ipxe",
                         "rom": MIX, "boot_files": FILES, "images": ["kernel", "initrd"],
                         "server": "http1"})
    c = simulate_scenario(two)
    assert _nbps(c, "g") == _nbps(a, "g")
    assert _posts(c, "g") == pytest.approx(_posts(a, "g"), abs=0)
    # the other group draws from its own streams (group/h/rom...): other POST times
    assert not np.isin(list(_posts(c, "h").values()), list(_posts(a, "g").values())).any()


def test_post_delays_the_whole_boot_by_exactly_its_time():
    # Tuning the ROM's post to a constant: the "post" phase lasts exactly that, and with
    # nothing else changed (one server, no contention) ready moves by exactly the
    # difference: 10 s - 0 s.
    def run(post: str):
        sc = scenario(servers=1)
        sc["images"]["ipxe.efi"] = {"size": "1MiB"}
        sc["fleet"][0].update(boot="pxe-chainload-ipxe", rom="server-uefi",
                              boot_files=FILES, tune={"post": post})
        return simulate_scenario(sc)

    zero, ten = run("0s"), run("10s")
    assert "post" not in set(zero.phases.phase)
    assert _posts(ten) == {"r01s001": pytest.approx(10.0, abs=1e-12)}
    assert ten.servers.ready.iloc[0] - zero.servers.ready.iloc[0] == pytest.approx(10.0,
                                                                                   abs=1e-9)


def test_a_dhcp_server_picks_the_arm64_boot_file_by_option_93():
    # No group boot files: the DHCP server's boot_files by the client's architecture,
    # uefi-arm64 (option 93 = 11) for server-uefi-arm64.
    sc = scenario(servers=2)
    sc["images"]["ipxe-arm64.efi"] = {"size": "1MiB"}
    sc["services"]["dhcp1"]["boot_files"] = {"bios": "undionly.kpxe",
                                             "uefi-arm64": "ipxe-arm64.efi"}
    sc["fleet"][0].update(count=2, boot="pxe-chainload-ipxe", rom="server-uefi-arm64",
                          tune={"post": "1s"})
    res = simulate_scenario(sc)
    ph = res.phases
    assert set(ph[ph.phase.str.startswith("fetch:ipxe")].phase) == {"fetch:ipxe-arm64.efi"}
    assert (res.servers.outcome == "ok").all()


def test_the_group_boot_file_comes_before_the_dhcp_servers():
    from netbootsim.services.dhcp import DhcpClient, DhcpServer, dhcp_client

    def boot_file(arch, group_files, ipxe=False):
        env = simpy.Environment()
        srv = DhcpServer(env, "d", boot_files={"bios": "pxelinux.0", "uefi": "grubx64.efi"},
                         ping=0.0, service_time=0.0)
        c = DhcpClient("c", "lan", [(srv, 0.0, False)], ipxe=ipxe, arch=arch,
                       boot_files=group_files)
        proc = env.process(dhcp_client(env, c))
        env.run()
        return proc.value.boot_file

    assert boot_file("uefi", {}) == "grubx64.efi"
    assert boot_file("uefi", {"uefi": "ipxe.efi"}) == "ipxe.efi"
    assert boot_file("bios", {"uefi": "ipxe.efi"}) == "pxelinux.0"  # not the group's
    assert boot_file("uefi-arm64", {"uefi": "ipxe.efi"}) == ""  # none: PXE-E53 next


def test_a_uefi_servers_pxe_dhcp_waits_for_its_first_discover_timeout():
    # server-uefi's PXE client (EDK2) requests its offer 3.68 s after its DISCOVER (the
    # lab's OVMF runs) instead of when the offer arrives: its ROM dhcp-exchange lasts
    # 3.68 s + x, x the REQUEST/ACK exchange, against 2x acting at once (tune
    # dhcp_offer_wait: 0s; the OFFER costs the same x); the whole boot moves by 3.68 s - x.
    def run(wait: str):
        sc = scenario(servers=1)
        sc["images"]["ipxe.efi"] = {"size": "1MiB"}
        sc["fleet"][0].update(boot="pxe-chainload-ipxe", rom="server-uefi",
                              boot_files=FILES, tune={"post": "0s", "dhcp_offer_wait": wait})
        return simulate_scenario(sc)

    def rom_exchange(res) -> float:
        ph = res.phases
        return float(ph[ph.phase == "dhcp-exchange"].seconds.iloc[0])

    edk2, eager = run("3.68s"), run("0s")
    x = rom_exchange(eager) / 2
    assert 0 < x < 1e-3
    assert rom_exchange(edk2) == pytest.approx(3.68 + x, abs=1e-12)
    assert edk2.servers.ready.iloc[0] - eager.servers.ready.iloc[0] == pytest.approx(
        3.68 - x, abs=1e-9)
