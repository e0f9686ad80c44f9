"""The lab's HTTPS: certificates from ``make_pki``, the server's handshake rows.

No root and no guest: the lab HTTP server on loopback, asked by Python's own TLS client
trusting the lab CA (the rows carry the handshake's times, version and cipher), then by
one that trusts another CA and so refuses the server's certificate (one ``TLS`` row).
"""

from __future__ import annotations

import csv
import http.client
import shutil
import ssl
import subprocess
import threading

import pytest

from netbootsim.lab.httpd import CSV_FIELDS, LabHTTPServer
from netbootsim.lab.tls import FILES, make_pki, sign

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="no openssl command (Debian package openssl)")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_pki(d, "127.0.0.1")
    return d


def test_make_pki_chains(pki):
    assert sorted(p.name for p in pki.iterdir()) == sorted(FILES)

    def verify(ca, leaf):
        return subprocess.run(["openssl", "verify", "-CAfile", str(pki / ca), str(pki / leaf)],
                              capture_output=True, text=True).returncode

    assert verify("ca.crt", "server.crt") == 0
    assert verify("ca.crt", "rogue.crt") != 0  # signed by the rogue CA: not trusted
    assert verify("rogue-ca.crt", "rogue.crt") == 0
    text = subprocess.run(["openssl", "x509", "-in", str(pki / "server.crt"), "-noout",
                           "-text"], capture_output=True, text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in text and "rsaEncryption" in text
    text = subprocess.run(["openssl", "x509", "-in", str(pki / "codesign.crt"), "-noout",
                           "-text"], capture_output=True, text=True, check=True).stdout
    assert "Code Signing" in text and verify("ca.crt", "codesign.crt") == 0


def test_a_signature_verifies_and_a_changed_byte_does_not(pki, tmp_path):
    # what imgverify checks, checked here with openssl: the detached DER signature of
    # the file by the code-signing key, chained to the lab CA
    f = tmp_path / "kernel"
    f.write_bytes(bytes(range(256)) * 64)
    sign(f, pki, tmp_path / "kernel.sig")

    def check() -> int:
        return subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                               "-in", str(tmp_path / "kernel.sig"), "-content", str(f),
                               "-CAfile", str(pki / "ca.crt"), "-purpose", "any",
                               "-out", "/dev/null"], capture_output=True).returncode

    assert check() == 0
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    assert check() != 0


def _serve(tmp_path, pki):
    root = tmp_path / "root"
    root.mkdir()
    (root / "kernel").write_bytes(b"k" * 100_000)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    server = LabHTTPServer(("127.0.0.1", 0), root, tmp_path / "http.csv", tls=ctx)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _client(server, ca):
    """An HTTPS connection to ``server`` trusting the CA certificate ``ca`` only."""
    return http.client.HTTPSConnection(
        "127.0.0.1", server.server_address[1], timeout=10,
        context=ssl.create_default_context(cafile=str(ca)))


def _rows(tmp_path):
    with open(tmp_path / "http.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        assert list(r) == CSV_FIELDS
    return rows


def test_https_rows_carry_the_handshake(tmp_path, pki):
    server = _serve(tmp_path, pki)
    try:
        conn = _client(server, pki / "ca.crt")
        for _ in range(2):  # two requests on one kept-alive connection, one handshake
            conn.request("GET", "/kernel")
            assert len(conn.getresponse().read()) == 100_000
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    rows = _rows(tmp_path)
    assert [(r["conn"], r["seq"], r["status"], r["bytes"]) for r in rows] == [
        ("1", "1", "200", "100000"), ("1", "2", "200", "100000")]
    r = rows[0]
    assert r["tls_version"] in ("TLSv1.2", "TLSv1.3") and r["tls_cipher"]
    assert float(r["tls_start_s"]) <= float(r["tls_done_s"]) <= float(r["received_s"])
    assert rows[1]["tls_done_s"] == r["tls_done_s"]


def test_a_refused_certificate_is_one_tls_row(tmp_path, pki):
    server = _serve(tmp_path, pki)
    try:
        conn = _client(server, pki / "rogue-ca.crt")
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.request("GET", "/kernel")
        conn.close()
        deadline = threading.Event()
        for _ in range(50):  # the handler thread writes its row after the client's alert
            if len(_rows(tmp_path)) == 1:
                break
            deadline.wait(0.05)
    finally:
        server.shutdown()
        server.server_close()
    (row,) = _rows(tmp_path)
    assert row["method"] == "TLS" and row["status"] == "0" and row["bytes"] == "0"
    assert "certificate" in row["path"].lower() or "alert" in row["path"].lower()
