"""`netbootsim run`: golden quickstart, determinism, bad input writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from netbootsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path, scenario, *extra):
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--out", str(out), "--quiet", *extra])
    return code, out


#: The quickstart's whole boot up to its first fetch, hand-derived. iPXE's ROM starts in
#: 2.223 s (ipxe-2019-qemu, measured), DISCOVERs at once; dnsmasq (--no-ping) offers at
#: once, but without 175.176 iPXE holds the offer for ProxyDHCP and REQUESTs at its 3 s
#: tick; the ACK costs 0.5 ms per packet plus the round trip, 8 us (2 us per link, 2
#: links each way): the first server's DHCP ends at 2.223 + 3 + 0.5 ms + 8 us =
#: 5.223508 s. dnsmasq takes one packet at a time, so server k (0-based) ends 0.5 ms × k
#: later.
QUICKSTART_DHCP_END = 2.223 + 3 + 0.5e-3 + 8e-6


def test_quickstart_golden(tmp_path):
    # 40 servers × (12 MiB + 80 MiB) over HTTP behind one 10 Gbps link, after their ROM
    # start and DHCP. Wire bytes per server: (12 MiB + 250 B) and (80 MiB + 250 B) in
    # 1448-B segments + 90 B each: 13,379,526 + 89,086,126 B; ×40 = 4,098,626,080 B ->
    # 3.2789 s at 10 Gbps.
    code, out = run(tmp_path, ROOT / "scenarios" / "quickstart.yaml")
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["servers"] == s["completed"] == 40
    bound = 4_098_626_080 / 1.25e9
    assert s["line_rate_bound"]["bytes"] == 4_098_626_080
    assert s["line_rate_bound"]["seconds"] == pytest.approx(bound, rel=1e-12)
    assert s["line_rate_bound"]["resource"] == "boot1->tor01"
    assert s["bottlenecks"][0]["resource"] == "boot1->tor01"
    ph = pd.read_csv(out / "phases.csv")
    assert (ph[ph.phase == "firmware"].seconds == 2.223).all()
    dhcp_end = sorted(ph[ph.phase == "dhcp"].end)
    assert dhcp_end == pytest.approx([QUICKSTART_DHCP_END + 0.5e-3 * k for k in range(40)],
                                     abs=1e-9)
    # the fetches keep the link busy from the first server's first byte: at least the
    # bound after its DHCP; the client's measured TCP delay (1.532 ms a round) and
    # request overhead (0.377 ms a GET) slow the first rounds of slow start a little
    # (the exact case without them: test_quickstart_whole_boot_exact)
    assert 0 < s["makespan"] - (QUICKSTART_DHCP_END + bound) < 0.011
    for name in ("servers.csv", "phases.csv", "timeline.csv", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0


def test_quickstart_whole_boot_exact(tmp_path):
    # The quickstart with the client's measured delays set to 0: the link is saturated
    # from the first server's first data byte to the last byte, so the makespan is its
    # DHCP end, the bound, and the round trips no other flow covers: that first fetch's
    # SYN + GET (1.5 RTT) and the last one's last byte (0.5 RTT) = 2 RTT = 16 us (the
    # servers' staggered DHCP ends, 0.5 ms apart, stagger their kernel fetches, so
    # every other gap between a kernel and an initrd is covered by someone's data).
    code, out = run(tmp_path, ROOT / "scenarios" / "quickstart.yaml", "--set",
                    "fleet[0].tune={tcp_client_delay: 0s, http_request_overhead: 0s, "
                    "http_client_rate: null}")
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["makespan"] == pytest.approx(QUICKSTART_DHCP_END + 4_098_626_080 / 1.25e9
                                          + 16e-6, abs=1e-9)


def test_same_seed_byte_identical(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    scenario = str(ROOT / "scenarios" / "quickstart.yaml")
    assert main(["run", scenario, "--out", str(a), "--quiet"]) == 0
    assert main(["run", scenario, "--out", str(b), "--quiet"]) == 0
    for f in sorted(p.name for p in a.iterdir()):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_full_recompute_gives_same_summary_numbers(tmp_path):
    code, out = run(tmp_path, ROOT / "scenarios" / "quickstart.yaml")
    fast = json.loads((out / "summary.json").read_text())
    code, out2 = run(tmp_path / "x", ROOT / "scenarios" / "quickstart.yaml",
                     "--set", "run.full_recompute=true")
    ref = json.loads((out2 / "summary.json").read_text())
    for key in ("makespan", "p50", "p95", "p99", "mean"):
        assert fast[key] == pytest.approx(ref[key], abs=1e-9)


def test_bad_scenario_exit_2_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "scenarios" / "quickstart.yaml").read_text()
                   .replace("size: 80MiB", "size: 80"))
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "netbootsim", "run", str(bad), "--out",
                        str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    line = p.stderr.strip().splitlines()[0]
    assert line.startswith(f"{bad}:") and "images.initrd.size" in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_fault_on_a_node_that_is_no_link_is_refused(tmp_path):
    bad = tmp_path / "faulty.yaml"
    bad.write_text((ROOT / "scenarios" / "quickstart.yaml").read_text()
                   + "faults:\n  - {kind: link-down, target: boot1, at: 1s, duration: 5s}\n")
    code, out = run(tmp_path, bad)
    assert code == 2 and not out.exists()


def test_compare_two_scenarios(tmp_path):
    # quickstart against itself with the boot link at 5 Gbps instead of 10: the same
    # bytes through half the capacity, so the second's fetches (after the same ROM start
    # and DHCP, QUICKSTART_DHCP_END) take about twice as long as the first's.
    slow = tmp_path / "slow.yaml"
    slow.write_text((ROOT / "scenarios" / "quickstart.yaml").read_text()
                    .replace("bandwidth: 10Gbps", "bandwidth: 5Gbps"))
    out = tmp_path / "cmp"
    assert main(["compare", str(ROOT / "scenarios" / "quickstart.yaml"), str(slow),
                 "--out", str(out)]) == 0
    md = (out / "compare.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| [quickstart]")
            or line.startswith("| [slow]")]
    # | run | ready | failed | p50 | p95 | p99 | makespan | × first | ... (one question)
    assert len(rows) == 2 and "1.00×" in rows[0]
    fast, slow = (json.loads((out / name / "summary.json").read_text())["makespan"]
                  for name in ("quickstart", "slow"))
    assert 1.95 < (slow - QUICKSTART_DHCP_END) / (fast - QUICKSTART_DHCP_END) < 2.05
    assert float(rows[1].split("|")[8].strip().rstrip("×")) == round(slow / fast, 2)
    assert (out / "quickstart" / "report.html").is_file()
    assert "data:image/png;base64," in (out / "compare.html").read_text()


def test_shipped_tftp_cliff_outcomes(tmp_path):
    # dnsmasq at tftp-max 50 with iPXE's RRQ re-sends: up to the cap everyone boots; at
    # 100 servers the duplicate requests become orphan transfers and half the fleet fails;
    # at 200 none gets through (the dnsmasq storm cliff: coinboot#67, raspberrypi#1120).
    got = {}
    for n in (50, 100, 200):
        out = tmp_path / str(n)
        scenario = ROOT / "scenarios" / "tftp-cliff" / f"{n:03d}-servers.yaml"
        assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
        s = json.loads((out / "summary.json").read_text())
        got[n] = (s["completed"], s["failed"])
        if s["failed"]:
            assert all("no TFTP slot" in reason for reason in s["failures"])
    assert got == {50: (50, 0), 100: (50, 50), 200: (0, 200)}


def test_compare_variants_tftp_vs_http(tmp_path):
    # One scenario, six variants. On the LAN both protocols fill the boot server's
    # 25 Gbps link: from the first byte fetched to the last, both take the line-rate
    # bound within 2 % (the PXE ROM's DHCP ends sooner than iPXE's, which waits for its
    # 3 s tick, so their makespans differ by that). Behind a round trip, TFTP pays it per
    # 1432-byte block: the 64 MiB initrd is 46,862 full blocks + 1 → 46,863 RTTs ≈ 3.9 min
    # at 5 ms, 15.6 min at 20 ms; HTTP pays it per window and stays link-bound.
    out = tmp_path / "cmp"
    assert main(["compare", str(ROOT / "scenarios" / "rack-tftp-vs-http.yaml"),
                 "--out", str(out)]) == 0
    s = {d.name: json.loads((d / "summary.json").read_text()) for d in out.iterdir()
         if d.is_dir()}
    assert sorted(s) == ["ipxe-http-lan", "ipxe-http-rtt20", "ipxe-http-rtt5",
                         "pxe-tftp-lan", "pxe-tftp-rtt20", "pxe-tftp-rtt5"]
    ratio = {rtt: s[f"pxe-tftp-{rtt}"]["makespan"] / s[f"ipxe-http-{rtt}"]["makespan"]
             for rtt in ("lan", "rtt5", "rtt20")}
    for run in ("pxe-tftp-lan", "ipxe-http-lan"):
        ph = pd.read_csv(out / run / "phases.csv")
        first = ph[ph.phase.str.startswith("fetch:")].start.min()
        assert s[run]["makespan"] - first == pytest.approx(
            s[run]["line_rate_bound"]["seconds"], rel=0.02)
    blocks = 64 * 2**20 // 1432 + 1
    for rtt, secs in (("rtt5", 5e-3), ("rtt20", 20e-3)):
        initrd = s[f"pxe-tftp-{rtt}"]["phases"]["fetch:initrd"]["mean"]
        assert initrd == pytest.approx(blocks * secs, rel=0.01)
    assert 25 < ratio["rtt5"] < ratio["rtt20"]
    md = (out / "compare.md").read_text()
    assert "## Time by phase" in md and md.count("> Question:") == 1
