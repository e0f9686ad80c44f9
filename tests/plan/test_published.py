"""Published cases re-created as scenarios (``scenarios/published/``).

Each test runs one shipped scenario through :func:`netbootsim.api.simulate_scenario`
(the pipeline of ``netbootsim run``) and checks the outcome its source reports, with the
band it uses and why in a comment. Where the simulator does not reproduce the published
outcome, one test pins what it does give and a second, ``xfail(strict=True)``, asserts
the published outcome, with the measured numbers in its reason: it starts to pass (and
fails the suite) the day the model reproduces the case, so the table in
``scenarios/published/README.md`` must then be updated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netbootsim.api import simulate_scenario

PUBLISHED = Path(__file__).resolve().parents[2] / "scenarios" / "published"
BECKER = PUBLISHED / "becker-40-safe-100-lose.yaml"
COINBOOT = PUBLISHED / "dnsmasq-tftp-max-50.yaml"
MAAS = PUBLISHED / "maas-15-pulls-25g.yaml"
XCAT = PUBLISHED / "xcat-apache-256-workers.yaml"
VBOX = PUBLISHED / "http-3x-faster-than-tftp-vm.yaml"


def hung(summary: dict) -> int:
    """Servers that never finished booting: failed, or still booting at the deadline."""
    return summary["failed"] + summary["unfinished"]


@pytest.mark.parametrize("path", sorted(PUBLISHED.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_case_opens_with_question_source_and_outcome(path):
    # The first comment block is what reports show as the question: it must say what is
    # asked, where it was published and what outcome the scenario is meant to reproduce.
    head = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        head.append(line)
    assert head[0].startswith("# Question: ")
    assert any(x.startswith("# Source: http") for x in head)
    assert any(x.startswith("# Outcome to reproduce: ") for x in head)


# -- 1. Becker (Beowulf list, 2006): ~40 safe, 100 lose 2-5 ------------------------------


def test_becker_what_the_simulator_gives():
    # Lossless: 40 and 100 nodes all boot; the head node's 1 Gb/s link is the limit
    # (100 x ~4.0 MB on the wire / 125 MB/s ~ 3.2 s). With 1 % loss on the head link the
    # boots are slower (each lost block or ACK waits for the ROM's retry timer, >= 0.25 s)
    # but still none is lost: each transfer's retries are drawn, and it fails only if a
    # block loses all six sends, (1 - 0.99^2)^6 ~ 6e-11 per block here; losses are
    # independent (no capture effect). Measured: 19.3 s with 1 % loss, 0 failed.
    s40 = simulate_scenario(BECKER).summary
    s100 = simulate_scenario(BECKER, overrides=["fleet[0].count=100"]).summary
    lossy = simulate_scenario(BECKER, overrides=["fleet[0].count=100",
                                                 "topology.hosts[0].link.loss=0.01"]).summary
    assert (s40["completed"], hung(s40)) == (40, 0)
    assert (s100["completed"], hung(s100)) == (100, 0)
    assert (lossy["completed"], hung(lossy)) == (100, 0)
    assert s100["makespan"] == pytest.approx(s100["line_rate_bound"]["seconds"], rel=0.05)
    assert lossy["makespan"] > 3 * s100["makespan"]


@pytest.mark.xfail(strict=True, reason=(
    "not reproduced: 0 of 100 lost (40 nodes: makespan 1.30 s; 100: 3.24 s, 0 failed); "
    "with 1 % loss on the head link still 0 of 100 lost (makespan 19.3 s; 5 %: 96.4 s, "
    "0 lost). A transfer fails only when one block loses all six sends, losses are "
    "independent (no capture effect), so the ROM's 15.75 s give-up is almost never "
    "reached. The TFTP socket buffer plays no part: a server with a process per client "
    "reads its port all the time. With a server class's POST spread (rom server-bios, "
    "lognormal median 180 s, p95 300 s; not 2006 nodes') still 0 of 500 server-runs lost "
    "over 5 replications, with or without 1 % loss: spreading only thins the load. "
    "Missing: a loss that sticks to a client (Becker's capture effect), the PXE ROMs' "
    "ARP corner cases (017024), a published loss rate"))
def test_becker_published_outcome():
    # Published: ~40 safe, 100 "likely to lose 2-5" in a power-restore cycle. Band: 0 lost
    # at 40, 2-5 lost at 100 — at the published loss rate, which the source does not
    # give, so the scenario's lossless link.
    s40 = simulate_scenario(BECKER).summary
    s100 = simulate_scenario(BECKER, overrides=["fleet[0].count=100"]).summary
    assert hung(s40) == 0
    assert 2 <= hung(s100) <= 5


# -- 2. frzb/coinboot#67: dnsmasq tftp-max 50 hangs hundreds of nodes --------------------


def test_coinboot_what_the_simulator_gives():
    # Coinboot's path puts only undionly.kpxe (70 KB, 49 blocks) and coinboot.ipxe on
    # TFTP; each transfer lasts 0.3-30 ms (137 us per block on the rigs' Realtek 8168,
    # behind the HTTP pulls on the server's 1 Gb/s port), and stock dnsmasq's DHCP (one
    # 3 s ping check at a time, its socket holding 166 packets) spreads the 300 clients'
    # RRQs: a few wait for one of the 50 slots, none long enough for iPXE to re-send it
    # (0.25 s): their tftp-wait records say one RRQ each; no orphan transfer, no RRQ
    # dropped at the socket buffer (256), and nobody hangs either way. The 300 x 310 MB
    # over the server's 1 Gb/s port end at ~827 s.
    low = simulate_scenario(COINBOOT)
    high = simulate_scenario(COINBOOT, overrides=["services.tftp1.max_sessions=4096"])
    for res in (low, high):
        assert (res.summary["completed"], hung(res.summary)) == (300, 0)
        assert res.summary["makespan"] == pytest.approx(826.8, abs=0.5)
    tftp = low.summary["services"]["tftp1"]
    assert (tftp["orphans"], tftp["dropped_rrqs"]) == (0, 0) and tftp["max_queued"] < 50
    waits = low.phases[low.phases.phase.str.startswith("tftp-wait")]
    assert (waits.seconds < 0.25).all() and \
        (waits.reason == "1 RRQ before a slot (tftp-max 50)").all()


@pytest.mark.xfail(strict=True, reason=(
    "not reproduced: with Coinboot's 1 Gbit/s network and the rigs' Realtek 8168 "
    "(undionly: 137 us per TFTP block) tftp-max 50 hangs 0 of 300 nodes (makespan "
    "826.8 s, as at 4096): stock dnsmasq's DHCP, one 3 s ping check at a time as the "
    "lab measured (lab/dnsmasq-ping, modelled), spreads the clients; a few RRQs wait, "
    "none is re-sent, the socket buffer (256 RRQs) never fills. The orphan-slot cliff "
    "needs TFTP transfers long against iPXE's 0.25 s RRQ retry; on Coinboot's path TFTP "
    "carries two small files (0.3-30 ms each). Missing: what held dnsmasq's 50 slots in "
    "the field, e.g. a measured per-block time of the rigs' vendor PXE ROM (3 ms per "
    "block would hang all 300, 2 ms none). A POST spread (rom server-bios, a server's, "
    "not a rig's) only thins the RRQs: 0 of 1,500 server-runs hang over 5 "
    "replications"))
def test_coinboot_published_outcome():
    # Published: with the default tftp-max 50 "lots of nodes ... seem to be stuck";
    # tftp-max 4096 resolved it. Band: "lots" read as at least 10 % of the 300 nodes hung
    # (failed or unfinished at the 20 min deadline) at 50, none at 4096.
    low = simulate_scenario(COINBOOT).summary
    high = simulate_scenario(COINBOOT, overrides=["services.tftp1.max_sessions=4096"]).summary
    assert hung(low) >= 0.1 * low["servers"]
    assert hung(high) == 0


def test_coinboot_hangs_only_if_each_tftp_block_is_slow():
    # Not the published set-up: what it would take. If every TFTP block cost 3 ms (the
    # order of iPXE's own Realtek driver in ipxe/ipxe#145, 120 s for 80 MB, 1.5 ms; set
    # here through the server's per-block cost, which the lock-step law adds to the
    # client's), the queued clients outlast iPXE's 0.25 s RRQ timer, their duplicate RRQs
    # become orphan transfers holding slots for 15 s, and the nodes fail to get
    # coinboot.ipxe. 4096 slots remove the cliff. (Measured: 300 of 300 fail at 50, 0 at
    # 4096; at 2 ms, with DHCP spreading the clients, none fails.)
    slow = ["services.tftp1.block_cost=3ms"]
    low = simulate_scenario(COINBOOT, overrides=slow)
    high = simulate_scenario(COINBOOT, overrides=[*slow, "services.tftp1.max_sessions=4096"])
    assert hung(low.summary) >= 0.3 * low.summary["servers"]
    assert all("no TFTP slot" in why for why in low.summary["failures"])
    assert low.phases.phase.str.startswith("tftp-wait").any()
    assert hung(high.summary) == 0


# -- 3. MAAS discourse: ~15 concurrent 8 GB pulls saturate 25 Gb/s -----------------------


def _mirror_bottleneck(summary: dict) -> dict | None:
    return next((b for b in summary["bottlenecks"] if b["resource"].startswith("rack1->")),
                None)


def test_maas_15_pulls_saturate_the_mirror_link_10_do_not():
    # Published: ~15 parallel deployments of an 8 GB image saturate 25 Gb/s. The scenario
    # encodes the per-pull rate that claim implies, 208 MB/s of payload (221 MB/s on the
    # wire): 15 x 221 MB/s = 3.32 GB/s > 3.125 GB/s, 14 x 221 = 3.10 GB/s < 3.125.
    # Band: at 15 the mirror's link limits the pulls for >= 90 % of the makespan and the
    # run ends within 5 % of the line-rate bound; at 14 and at 10 it never limits them,
    # and each 8 GB pull takes the disk-bound 8e9 / 208e6 = 38.46 s.
    s15 = simulate_scenario(MAAS).summary
    b15 = _mirror_bottleneck(s15)
    assert s15["completed"] == 15
    assert b15 is not None and b15["max_flows"] == 15
    assert b15["fraction_of_makespan"] >= 0.9
    assert s15["line_rate_bound"]["resource"] == b15["resource"]
    assert 1.0 <= s15["makespan_over_bound"] <= 1.05
    for n in (14, 10):
        res = simulate_scenario(MAAS, overrides=[f"fleet[0].count={n}"])
        assert res.summary["completed"] == n
        assert _mirror_bottleneck(res.summary) is None
        pulls = res.phases[res.phases.phase == "install:os"].seconds
        assert pulls.to_numpy() == pytest.approx(8e9 / 208e6, rel=1e-3)


# -- 4. xCAT: Apache prefork's 256 workers, the first limit near 270 nodes ---------------


def test_xcat_270_nodes_wait_for_apache_workers_250_do_not():
    # Published: 256 simultaneous requests by default; for 270 stateless nodes per service
    # node raise MaxRequestWorkers (to 1000). Each iPXE keep-alive connection holds a
    # prefork worker, so at 270 exactly 270 - 256 = 14 nodes wait for one to fetch their
    # kernel (an http-wait:kernel record each) and still boot; at 250 no kernel fetch
    # waits. After boot the initrd opens its own connection for rootimg: while iPXE's idle
    # connections keep their workers for Apache's 5 s KeepAliveTimeout, those pulls wait
    # too (at 250: 250 - 6 free workers = 244 of them, each at most 5 s). With xCAT's
    # tuning (1000 workers) nothing waits at 270.
    r270 = simulate_scenario(XCAT)
    waits = r270.phases[r270.phases.phase.str.startswith("http-wait:")]
    assert r270.summary["completed"] == 270
    kernel = waits[waits.phase == "http-wait:kernel"]
    assert kernel.server.nunique() == 270 - 256
    # until a worker's node has its initrd and the 5 s keep-alive ends: 10.4-10.7 s
    assert 5.0 < kernel.seconds.min() and kernel.seconds.max() < 15.0
    r250 = simulate_scenario(XCAT, overrides=["fleet[0].count=250"])
    w250 = r250.phases[r250.phases.phase.str.startswith("http-wait:")]
    assert hung(r250.summary) == 0
    assert set(w250.phase) == {"http-wait:rootimg.cpio.gz"}
    assert w250.server.nunique() == 250 - (256 - 250)
    assert w250.seconds.max() <= 5.0 + 1e-9
    res = simulate_scenario(XCAT, overrides=["services.http1.workers=1000"])
    assert hung(res.summary) == 0
    assert not res.phases.phase.str.startswith("http-wait:").any()


@pytest.mark.xfail(strict=True, reason=(
    "partly reproduced: at 270 nodes 14 wait ~10.5 s for a worker (the rootimg pulls up "
    "to 47 s) but 0 fail. In the model "
    "a connection in Apache's listen backlog (511) waits as long as it takes: neither "
    "iPXE's nor the installer's HTTP client times out a request the kernel accepted"))
def test_xcat_published_failures_at_270():
    # Published: raise MaxRequestWorkers "to avoid some nodes provisioning failure when
    # rebooting all nodes" (270 per service node). Band: at least one node fails at 270.
    assert hung(simulate_scenario(XCAT).summary) >= 1


# -- 5. 0xf8.org (2013): HTTP 20 s vs TFTP 57 s in a VirtualBox VM -----------------------


def test_vm_boot_over_http_is_2_to_3_5_times_faster_than_over_tftp():
    # Published: kernel+initrd 20 s over HTTP vs 57 s over TFTP, TFTP/HTTP = 2.85. Band:
    # 2.0-3.5 ("HTTP about 2-3x faster"), because the ratio depends on sizes the post does
    # not give: with our 12 MiB + 64 MiB we get 23.6 s / 9.2 s = 2.57; 5 + 20 MB would give
    # 1.5, 15 + 100 MB 3.2. Both our times are well under the post's: ipxe-2019-qemu's
    # per-block delay (58 us, fitted under QEMU) and its HTTP rate are a QEMU e1000's;
    # VirtualBox's e1000 emulation with the 2013 iPXE was slower per block and per
    # segment (57 - 20 = 37 s of extra TFTP time vs our 14.4 s), and the post's
    # stopwatch includes the VM's BIOS, which our `pxe-rom` start (0 s) does not.
    res = simulate_scenario(VBOX)
    secs = res.servers.set_index("group").seconds
    assert set(res.servers.outcome) == {"ok"}
    ratio = secs["tftp"] / secs["http"]
    assert 2.0 <= ratio <= 3.5
    assert secs["http"] < 20 and secs["tftp"] < 57
