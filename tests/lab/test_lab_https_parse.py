"""HTTPS in the lab's parse: TLS records from a capture, and the committed round-2 traces.

``lab/traces2/https-small-r1`` is a real run (``lab/matrix2/https-small.yaml``: iPXE
v2.0.0-254-g0ab2277c4 built by ``lab build-ipxe``, QEMU TCG, files 64 KiB and 128 KiB
over HTTPS); ``https-rogue-r1`` the same build shown a certificate from a CA it does not
trust. Both keep their whole capture.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from netbootsim.lab.parse import parse_run
from netbootsim.lab.pcap import (
    TLS_CCS,
    TLS_DATA,
    TLS_HANDSHAKE,
    TcpConn,
    TcpSegment,
    TlsRecord,
    tls_records,
)
from netbootsim.records import to_frame

TRACES = Path(__file__).parents[2] / "lab" / "traces2"


def _seg(t, client, seq, payload=b"", flags=0x18):
    return TcpSegment(t, client, flags, seq, 0, 0, len(payload), payload, {})


def _rec(kind, n):
    return bytes([kind, 3, 3]) + n.to_bytes(2, "big") + b"x" * n


def test_tls_records_by_hand():
    # Client ISN 100 (stream from 101), server ISN 500 (from 501). The client's hello
    # (5 + 10 bytes) goes in one segment at t=1; the server's flight, two records of 5+20
    # and 5+4 bytes (54 bytes), is cut 30 | 24 over segments at t=2 and t=3, and the
    # segment at t=3 is sent again at t=4 (a retransmission adds nothing). Then the
    # client's CCS (5+1) at t=5 and its request (5+7) at t=6. Records: hello 1-1; the
    # server's first (bytes 0-24) 2-2; its second (bytes 25-33, first byte in the first
    # segment, last in the second) 2-3; CCS 5-5; data 6-6.
    flight = _rec(TLS_HANDSHAKE, 20) + _rec(TLS_HANDSHAKE, 4)
    conn = TcpConn(("10.0.0.2", 4000), ("10.0.0.1", 443), "m", [
        _seg(0.0, True, 100, flags=0x02), _seg(0.1, False, 500, flags=0x12),
        _seg(1.0, True, 101, _rec(TLS_HANDSHAKE, 10)),
        _seg(2.0, False, 501, flight[:30]), _seg(3.0, False, 531, flight[30:]),
        _seg(4.0, False, 531, flight[30:]),
        _seg(5.0, True, 116, _rec(TLS_CCS, 1)), _seg(6.0, True, 122, _rec(TLS_DATA, 7)),
    ])
    assert tls_records(conn) == [
        TlsRecord(True, TLS_HANDSHAKE, 10, 1.0, 1.0),
        TlsRecord(False, TLS_HANDSHAKE, 20, 2.0, 2.0),
        TlsRecord(False, TLS_HANDSHAKE, 4, 2.0, 3.0),
        TlsRecord(True, TLS_CCS, 1, 5.0, 5.0),
        TlsRecord(True, TLS_DATA, 7, 6.0, 6.0),
    ]


def test_a_hole_ends_the_direction_at_its_first_missing_byte():
    # the server's second segment (bytes 30-53) never captured, the third (from 54) is:
    # only the first record, complete in bytes 0-24, is read
    flight = _rec(TLS_HANDSHAKE, 20) + _rec(TLS_HANDSHAKE, 4) + _rec(TLS_DATA, 3)
    conn = TcpConn(("10.0.0.2", 4000), ("10.0.0.1", 443), "m", [
        _seg(0.0, True, 100, flags=0x02), _seg(0.1, False, 500, flags=0x12),
        _seg(2.0, False, 501, flight[:30]), _seg(3.0, False, 555, flight[54:]),
    ])
    assert tls_records(conn) == [TlsRecord(False, TLS_HANDSHAKE, 20, 2.0, 2.0)]


def _parsed(name: str):
    parsed = parse_run(TRACES / name)
    return to_frame(parsed.records), pd.DataFrame(parsed.details)


def test_the_committed_https_run_parses_as_committed():
    phases, details = _parsed("https-small-r1")
    committed = pd.read_csv(TRACES / "https-small-r1" / "phases.csv", keep_default_na=False)
    assert phases["phase"].tolist() == committed["phase"].tolist() == [
        "dhcp", "dhcp-exchange", "fetch:boot.ipxe", "fetch:kernel", "fetch:initrd"]
    assert phases["start"].tolist() == pytest.approx(committed["start"].tolist(), abs=1e-6)
    https = phases[phases.protocol == "https"]
    assert https.set_index("phase")["bytes"].to_dict() == {"fetch:kernel": 65536,
                                                           "fetch:initrd": 131072}
    assert (https.outcome == "ok").all()
    f = details[details.phase == "fetch:kernel"].set_index("fact")["value"]
    # the handshake is its parts, and the server's Finished to the client's first
    # request (a few ms of the client's own, under the emulator)
    parts = (f.tls_server_flight + f.tls_client_key_exchange + f.tls_client_validate
             + f.tls_client_finish + f.tls_server_finish)
    assert 0 <= f.tls_handshake - parts < 0.010
    assert 0.060 < f.tls_handshake < 0.120  # 78 ms measured (TCG), the client's crypto
    assert f.connection_reused == 0
    assert details[(details.phase == "fetch:initrd")
                   & (details.fact == "connection_reused")].value.tolist() == [1]


def test_the_rogue_certificate_run_is_a_refused_fetch():
    phases, details = _parsed("https-rogue-r1")
    row = phases.set_index("phase").loc["fetch:kernel"]
    assert row["outcome"] == "failed" and row["protocol"] == "https"
    assert "refused the server's certificate" in row["reason"]
    f = details[details.phase == "fetch:kernel"].set_index("fact")["value"]
    assert 0 < f.tls_refused_after < 0.1


def test_the_round_2_section_from_the_committed_traces(tmp_path):
    from netbootsim.lab.round2 import BEGIN, END, cells, fit_handshake, main

    runs = cells(TRACES)
    assert len(runs) == 21 and {r["build"]["describe"] for r in runs} == {
        "v2.0.0-254-g0ab2277c4"}
    https = [r for r in runs if r["case"] == "https" and r["certificate"] != "rogue"]
    a, b = fit_handshake(https)
    # measured: ~78 ms at RTT 0, ~155 ms at RTT 20: about four round trips, not two
    assert 0.06 < a < 0.10 and 3.0 < b < 4.5
    assert [r["ok"] for r in runs if r["certificate"] == "rogue"] == [False, False]
    out = tmp_path / "cal.md"
    out.write_text("# Calibration\n")
    assert main([str(TRACES), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "Fitted over the 10 HTTPS runs" in text
