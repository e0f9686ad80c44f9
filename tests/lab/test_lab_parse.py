"""``netbootsim lab parse`` on committed lab traces (no root, no QEMU).

The traces in tests/data/lab/traces/<case>/ are real runs of ``netbootsim lab run``
(Debian 12, QEMU TCG, the 2019 iPXE ROM, dnsmasq 2.89), files ``kernel: 256KiB,
initrd: 1MiB``, tcpdump ``snaplen: 300`` (whole DHCP message type, cut TFTP/HTTP
payloads), capture gzipped:

* ``tftp``: stock DHCP (dnsmasq ping, ProxyDHCP wait, no IPv6 router);
* ``http``, ``chainload`` (undionly.kpxe over TFTP, then HTTP): fast DHCP
  (``no-ping``, 175.176, RAs);
* ``tftp-4guests``: 4 guests, ``tftp_max: 2``, fast DHCP: all done;
* ``tftp-4guests-max1``: 4 guests, ``tftp_max: 1``: guests 0 and 2 fail (TFTP timeout).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from netbootsim.cli import main
from netbootsim.lab.parse import DETAIL_COLUMNS, parse_run
from netbootsim.lab.pcap import DhcpPacket, _infer_dhcp_kinds, http_exchanges, read_capture
from netbootsim.records import PHASE_COLUMNS

TRACES = Path(__file__).parents[1] / "data" / "lab" / "traces"
CASES = ["tftp", "http", "chainload", "tftp-4guests", "tftp-4guests-max1"]
KIB = 1024

# TFTP blocks of a file = size // 1432 + 1 (the last block is short, possibly empty):
#   boot.ipxe 196 B → 0 + 1 = 1; undionly.kpxe 74213 B = 51 × 1432 + 1181 → 52;
#   kernel 262144 B = 183 × 1432 + 88 → 184; initrd 1048576 B = 732 × 1432 + 352 → 733.
BLOCKS = {"boot.ipxe": 1, "undionly.kpxe": 52, "kernel": 184, "initrd": 733}
SIZES = {"boot.ipxe": 196, "undionly.kpxe": 74213, "kernel": 256 * KIB, "initrd": 1024 * KIB}


@pytest.fixture(scope="module")
def parsed():
    return {case: parse_run(TRACES / case) for case in CASES}


def frames(p):
    phases = pd.DataFrame([{f: getattr(r, f) for f in PHASE_COLUMNS} for r in p.records])
    details = pd.DataFrame([{f: getattr(d, f) for f in DETAIL_COLUMNS} for d in p.details])
    return phases, details


def fact(details, server, phase, name):
    row = details[(details.server == server) & (details.phase == phase) & (details.fact == name)]
    assert len(row) == 1, (server, phase, name)
    return float(row.value.iloc[0])


def test_block_counts_and_blksize(parsed):
    for case in ("tftp", "chainload", "tftp-4guests", "tftp-4guests-max1"):
        phases, details = frames(parsed[case])
        tftp = phases[(phases.protocol == "tftp") & (phases.outcome == "ok")]
        assert len(tftp)
        for r in tftp.itertuples():
            name = r.phase.split(":", 1)[1]
            assert fact(details, r.server, r.phase, "data_blocks") == BLOCKS[name]
            assert fact(details, r.server, r.phase, "blksize") == 1432
            assert r.bytes == SIZES[name]


def test_records_are_simulator_records(parsed):
    phases, _ = frames(parsed["tftp"])
    assert list(phases.columns) == PHASE_COLUMNS
    assert set(phases.run) == {"tftp"} and set(phases.seed) == {1}
    assert set(phases.server) == {"guest0"} and set(phases.group) == {"tftp"}
    assert set(phases.stage) == {"boot"}
    assert list(phases.phase) == ["dhcp", "dhcp-exchange", "fetch:boot.ipxe", "fetch:kernel",
                                  "fetch:initrd"]
    assert set(phases[phases.protocol != ""].endpoint) == {"192.168.77.1"}


def test_phases_ordered_and_not_overlapping(parsed):
    # dhcp-exchange (capture) lies inside dhcp (console); the console stamps a fragment
    # when the host reads its first byte, a few ms late: allow 25 ms
    for case, p in parsed.items():
        phases, _ = frames(p)
        for server, rows in phases.groupby("server"):
            rows = rows.sort_values("start")
            outer = rows[~rows.phase.str.startswith("dhcp-exchange")]
            assert (outer.end >= outer.start).all()
            assert (outer.start.values[1:] >= outer.end.values[:-1]).all(), (case, server)
            for ex in rows[rows.phase.str.startswith("dhcp-exchange")].itertuples():
                console = outer[outer.phase == ex.phase.replace("dhcp-exchange", "dhcp")]
                assert len(console) == 1
                c = console.iloc[0]
                assert c.start - 0.025 <= ex.start and ex.end <= c.end, (case, server)


def test_stock_dhcp(parsed):
    phases, details = frames(parsed["tftp"])
    ex = phases[phases.phase == "dhcp-exchange"].iloc[0]
    dhcp = phases[phases.phase == "dhcp"].iloc[0]
    # dnsmasq's ping check holds the first OFFER ~3 s (DISCOVERs at 0 and 1 s, 2 OFFERs),
    # so iPXE's 2 s ProxyDHCP wait is already over when it arrives
    assert ex.end - ex.start == pytest.approx(3.0068, abs=1e-3)
    assert fact(details, "guest0", "dhcp-exchange", "discover_to_offer") == pytest.approx(
        3.0046, abs=1e-3)
    assert fact(details, "guest0", "dhcp-exchange", "discovers") == 2
    assert fact(details, "guest0", "dhcp-exchange", "offers") == 2
    # whole "Configuring": IPv6 autoconf times out (≈ 16 s in the lab [lab-validation])
    assert dhcp.end - dhcp.start == pytest.approx(16.076, abs=1e-3)


def test_fast_dhcp(parsed):
    for case in ("http", "chainload", "tftp-4guests"):
        phases, details = frames(parsed[case])
        for r in phases[phases.phase.str.startswith("dhcp-exchange")].itertuples():
            # OFFER within 1 ms (no ping), but the REQUEST still leaves ≈ 0.93-1.0 s later
            assert fact(details, r.server, r.phase, "discover_to_offer") < 0.005
            assert 0.9 < fact(details, r.server, r.phase, "offer_to_request") < 1.0
            assert 0.9 < r.end - r.start < 1.0


def test_chainload_names(parsed):
    phases, details = frames(parsed["chainload"])
    assert list(phases.sort_values("start").phase) == [
        "dhcp", "dhcp-exchange", "fetch:undionly.kpxe", "dhcp:undionly",
        "dhcp-exchange:undionly", "fetch:boot.ipxe", "fetch:kernel", "fetch:initrd"]
    assert set(phases.attempt) == {1}
    assert fact(details, "guest0", "fetch:undionly.kpxe", "tsize") == 74213


def test_http_window_of_the_2019_rom(parsed):
    for case in ("http", "chainload"):
        phases, details = frames(parsed[case])
        ph = "fetch:boot.ipxe"
        assert fact(details, "guest0", ph, "connection_reused") == 0
        assert fact(details, "guest0", ph, "client_syn_window") == 65532
        assert fact(details, "guest0", ph, "client_wscale") == 9
        assert fact(details, "guest0", ph, "client_mss") == 1460
        # 512 << 9 = 262144: the 256 KiB TCP_MAX_WINDOW_SIZE of the 2019 snapshot
        assert fact(details, "guest0", ph, "client_window_first") == 256 * KIB
        assert fact(details, "guest0", ph, "client_window_max") == 256 * KIB
        for name in ("kernel", "initrd"):
            assert fact(details, "guest0", f"fetch:{name}", "connection_reused") == 1
        http = phases[phases.protocol == "http"]
        assert dict(zip(http.phase, http.bytes, strict=True)) == {
            f"fetch:{n}": SIZES[n] for n in ("boot.ipxe", "kernel", "initrd")}


def test_pcap_and_http_csv_share_the_time_base():
    # http.csv (monotonic clock) sees each GET after the capture (wall clock) does
    for case in ("http", "chainload"):
        log = pd.read_csv(TRACES / case / "http.csv")
        meta = json.loads((TRACES / case / "run.json").read_text())
        t0 = datetime.fromisoformat(meta["start_utc"]).timestamp()
        cap = read_capture(TRACES / case / "capture.pcap.gz", t0, "192.168.77.1")
        gets = [ex for c in cap.tcp for ex in http_exchanges(c)]
        assert [ex.path for ex in gets] == list(log.path)
        for ex, received in zip(gets, log.received_s, strict=True):
            assert 0 <= received - ex.t_request < 0.005


def test_rrq_retransmissions_at_ipxe_spacing(parsed):
    phases, details = frames(parsed["tftp-4guests-max1"])
    failed = phases[phases.outcome == "failed"]
    assert sorted(zip(failed.server, failed.phase, strict=True)) == [
        ("guest0", "fetch:kernel"), ("guest2", "fetch:initrd")]
    for r in failed.itertuples():
        assert fact(details, r.server, r.phase, "rrq_sent") == 6
        assert fact(details, r.server, r.phase, "transfers_opened") == 0
        offsets = [0.0] + [fact(details, r.server, r.phase, f"rrq_offset_{k}")
                           for k in range(1, 6)]
        gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
        # generic retry timer: 0.25 s doubling; the guest clock runs ≈ 1.6 % slow under
        # TCG, so the 4 s gap is 4.064 s: ±50 ms plus 2 %
        for gap, nominal in zip(gaps, [0.25, 0.5, 1, 2, 4], strict=True):
            assert abs(gap - nominal) <= 0.05 + 0.02 * nominal, (r.server, gaps)
        # then 8 s until the timer's max (10 s) is passed: iPXE gives up, the console
        # shows "Connection timed out" (0x4c126035)
        assert abs((r.end - r.start) - offsets[-1] - 8) <= 0.05 + 0.02 * 8
        assert r.reason == "6 RRQs, no transfer used"
    # guest0's boot.ipxe RRQ was sent twice; dnsmasq answered both copies: the second
    # transfer OACKs a port iPXE has moved on from, 6 times, and holds the only slot
    assert fact(details, "guest0", "fetch:boot.ipxe", "orphan_transfers") == 1
    assert fact(details, "guest0", "fetch:boot.ipxe", "orphan_oacks") == 6


def test_tftp_max2_one_retransmission(parsed):
    phases, details = frames(parsed["tftp-4guests"])
    assert set(phases.outcome) == {"ok"}
    retried = details[(details.fact == "rrq_offset_1")]
    assert len(retried) == 2
    assert ((retried.value - 0.25).abs() <= 0.05).all()


def test_reads_plain_pcap_too(parsed, tmp_path):
    run = tmp_path / "http"
    shutil.copytree(TRACES / "http", run)
    with gzip.open(run / "capture.pcap.gz") as src, open(run / "capture.pcap", "wb") as dst:
        shutil.copyfileobj(src, dst)
    (run / "capture.pcap.gz").unlink()
    assert parse_run(run).records == parsed["http"].records


def test_cli_writes_csvs(tmp_path, capsys):
    assert main(["lab", "parse", str(TRACES / "chainload"), "--out", str(tmp_path)]) == 0
    phases = pd.read_csv(tmp_path / "phases.csv", keep_default_na=False)
    assert list(phases.columns) == PHASE_COLUMNS + ["seconds"]
    assert len(phases) == 8
    details = pd.read_csv(tmp_path / "details.csv", keep_default_na=False)
    assert list(details.columns) == DETAIL_COLUMNS
    assert "fetch:undionly.kpxe" in capsys.readouterr().out


def test_dhcp_types_inferred_when_option_53_is_cut():
    p = [DhcpPacket(0.0, 1, 7, "m", "0.0.0.0", ""), DhcpPacket(1.0, 1, 7, "m", "0.0.0.0", ""),
         DhcpPacket(1.1, 2, 7, "m", "10.0.0.5", ""), DhcpPacket(1.2, 1, 7, "m", "0.0.0.0", ""),
         DhcpPacket(1.3, 2, 7, "m", "10.0.0.5", "")]
    _infer_dhcp_kinds(p)
    assert [x.kind for x in p] == ["DISCOVER", "DISCOVER", "OFFER", "REQUEST", "ACK"]
