"""Unit tests of the calibration lab that need neither root nor QEMU."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netbootsim.cli.lab import default_out_dir
from netbootsim.errors import InputError
from netbootsim.lab.config import load_config, parse_config
from netbootsim.lab.console import ConsoleSplitter
from netbootsim.lab.dnsmasq import dnsmasq_conf, lease_hook, mac_of
from netbootsim.lab.httpd import LabHTTPServer
from netbootsim.lab.payload import boot_script, write_files
from netbootsim.lab.runner import qemu_argv

ROOT = Path(__file__).resolve().parents[2]


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "lab").glob("*.yaml")
                                        if not p.name.startswith("matrix"))
                         + sorted((ROOT / "lab" / "matrix").glob("*.yaml"))
                         + sorted((ROOT / "lab" / "matrix6").glob("*.yaml"))
                         + sorted((ROOT / "tests/data/lab").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.case in ("tftp", "http", "chainload")
    assert all(size > 0 for size in cfg.files.values())


def test_defaults_and_units():
    cfg = parse_config({"case": "tftp", "files": {"kernel": "2MiB", "initrd": "8MiB"},
                        "timeout": "2min", "memory": "128MiB"}, "x.yaml")
    assert cfg.files == {"kernel": 2 * 1024**2, "initrd": 8 * 1024**2}
    assert cfg.timeout == 120.0 and cfg.memory_mib == 128
    assert cfg.tftp_max == 50 and cfg.accel == "tcg" and cfg.transport == "tftp"
    assert cfg.server_ip == "192.168.77.1"
    assert parse_config({"case": "chainload"}, "x").transport == "http"
    assert parse_config({"case": "chainload", "transport": "tftp"}, "x").transport == "tftp"


def test_bad_config_reports_every_problem_with_file_line_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("case: pxe\n"
                 "guests: 0\n"
                 "files: {kernel: 2MB/s, ../x: 1MiB}\n"
                 "timeout: 120\n"
                 "subnet: 8.8.8.0/24\n"
                 "dhcp: {ping: maybe, foo: true}\n"
                 "colour: blue\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    text = str(e.value)
    for expected in [f"{p}:1: case: 'pxe' is not one of tftp, http, chainload",
                     f"{p}:2: guests: 0 is out of range [1, 64]",
                     f"{p}:3: files.kernel: ",
                     f"{p}:3: files.../x: name must be",
                     f"{p}:4: timeout: 120 has no unit",
                     f"{p}:5: subnet: must be a private /24",
                     f"{p}:6: dhcp.ping: 'maybe' is not true or false",
                     f"{p}:6: dhcp.foo: unknown field",
                     f"{p}:7: colour: unknown field"]:
        assert expected in text, (expected, text)
    assert len(e.value.problems) == 9


def test_the_servers_congestion_control(tmp_path):
    # default cubic (Linux's); an unknown one is refused with the file, line and field
    assert parse_config({"case": "http"}, "x").tcp_cc == "cubic"
    assert parse_config({"case": "http", "tcp_cc": "bbr"}, "x").tcp_cc == "bbr"
    p = tmp_path / "cc.yaml"
    p.write_text("case: http\ntcp_cc: vegas\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert str(e.value) == f"{p}:2: tcp_cc: 'vegas': expected one of cubic, reno, bbr"


def test_transport_conflict_and_missing_case():
    with pytest.raises(InputError, match="transport: case 'http' fixes the transport"):
        parse_config({"case": "http", "transport": "tftp"}, "x")
    with pytest.raises(InputError, match="x: case: missing"):
        parse_config({"guests": 1}, "x")


def test_yaml_syntax_error_and_missing_file(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("case: tftp\nfiles: {kernel: 1MiB\n")
    with pytest.raises(InputError, match=r"broken.yaml:\d+: YAML error"):
        load_config(p)
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_cli_exits_2_on_bad_config(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("case: floppy\n")
    res = subprocess.run([sys.executable, "-m", "netbootsim.lab", "run", str(p)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2
    assert f"{p}:1: case: 'floppy' is not one of" in res.stderr


def test_default_out_dir():
    now = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert default_out_dir(Path("lab/tftp.yaml"), now) == Path("lab/runs/tftp-20250304T050607Z")


# --- dnsmasq ------------------------------------------------------------------------------

def test_dnsmasq_conf_tftp(tmp_path):
    cfg = parse_config({"case": "tftp", "tftp_max": 2, "guests": 4}, "x")
    text = dnsmasq_conf(cfg, tmp_path, tmp_path / "srv")
    lines = text.splitlines()
    for line in ["port=0", "interface=nbs-br0", "bind-interfaces", "log-dhcp", "enable-tftp",
                 "tftp-max=2", "dhcp-match=set:ipxe,175", "dhcp-boot=tag:ipxe,boot.ipxe",
                 f"tftp-root={tmp_path / 'srv'}", f"pid-file={tmp_path / 'dnsmasq.pid'}",
                 f"dhcp-leasefile={tmp_path / 'dnsmasq.leases'}",
                 "dhcp-range=192.168.77.100,192.168.77.149,255.255.255.0,1h"]:
        assert line in lines, line
    # stock DHCP: dnsmasq pings, no 175.176, no RA
    assert "no-ping" not in lines and "enable-ra" not in lines
    assert not any("176" in line for line in lines)


def test_dnsmasq_conf_http_fast_and_chainload(tmp_path):
    cfg = parse_config({"case": "http", "subnet": "10.9.8.0/24",
                        "dhcp": {"ping": False, "no_pxedhcp": True, "ipv6_ra": True}}, "x")
    lines = dnsmasq_conf(cfg, tmp_path, tmp_path).splitlines()
    assert "dhcp-boot=tag:ipxe,http://10.9.8.1/boot.ipxe" in lines
    assert {"no-ping", "dhcp-option=tag:ipxe,encap:175,176,1b", "enable-ra"} <= set(lines)
    cfg = parse_config({"case": "chainload"}, "x")
    lines = dnsmasq_conf(cfg, tmp_path, tmp_path).splitlines()
    assert "dhcp-boot=tag:!chained,undionly.kpxe" in lines
    assert "dhcp-boot=tag:chained,http://192.168.77.1/boot.ipxe" in lines
    assert f"dhcp-script={tmp_path / 'lease-hook.sh'}" in lines
    assert f"dhcp-hostsdir={tmp_path / 'dhcp-hosts'}" in lines


def test_lease_hook_tags_a_mac_once_it_has_a_lease(tmp_path):
    (tmp_path / "dhcp-hosts").mkdir()
    hook = tmp_path / "hook.sh"
    hook.write_text(lease_hook(tmp_path))
    subprocess.run(["sh", str(hook), "del", "52:54:00:77:00:05", "192.168.77.9"], check=True)
    assert list((tmp_path / "dhcp-hosts").iterdir()) == []
    subprocess.run(["sh", str(hook), "add", "52:54:00:77:00:05", "192.168.77.9"], check=True)
    assert (tmp_path / "dhcp-hosts/52-54-00-77-00-05").read_text() == \
        "52:54:00:77:00:05,set:chained\n"


def test_macs_and_qemu_argv():
    assert mac_of(0) == "52:54:00:77:00:00" and mac_of(257) == "52:54:00:77:01:01"
    argv = qemu_argv(parse_config({"case": "tftp"}, "x"), 3, "nbs-tap3")
    assert argv[:3] == ["qemu-system-x86_64", "-name", "nbs-guest3"]
    assert "tap,id=n0,ifname=nbs-tap3,script=no,downscript=no" in argv
    assert ("e1000,netdev=n0,mac=52:54:00:77:00:03,romfile=/usr/lib/ipxe/qemu/pxe-e1000.rom"
            in argv)
    assert argv[argv.index("-accel") + 1] == "tcg" and argv[-2:] == ["-boot", "n"]


# --- console ------------------------------------------------------------------------------

def test_console_splits_on_cr_lf_and_backspace_with_first_byte_times():
    s = ConsoleSplitter()
    out = s.feed(b"\x1b[0;1miPXE\x1b[0m 1.0\r\n", 0.25)
    out += s.feed(b"tftp://h/initrd... 20%\x08\x08\x08\x08    \x08\x08\x08\x08 38%", 1.0)
    out += s.feed(b"\x08\x08\x08\x08    \x08\x08\x08\x08 ok", 2.5)
    out += s.feed(b"\r\nNBS-D", 3.0)
    out += s.feed(b"ONE\r\nPress Ctrl-B\r", 3.5)
    out += s.flush()
    assert out == [(0.25, "iPXE 1.0"), (1.0, "tftp://h/initrd... 20%"), (1.0, " 38%"),
                   (2.5, " ok"), (3.0, "NBS-DONE"), (3.5, "Press Ctrl-B")]


def test_console_flush_returns_unterminated_tail():
    s = ConsoleSplitter()
    assert s.feed(b"a\rb", 1.0) == [(1.0, "a")]
    assert s.flush() == [(1.0, "b")]
    assert s.flush() == []


# --- payload ------------------------------------------------------------------------------

def test_synthetic_files_are_reproducible(tmp_path):
    files = {"kernel": 5000, "initrd": (1 << 22) + 3}
    d1 = write_files(tmp_path / "a", files, seed=1)
    d2 = write_files(tmp_path / "b", files, seed=1)
    d3 = write_files(tmp_path / "c", files, seed=2)
    assert d1 == d2 and d1["kernel"] != d3["kernel"]
    for name, size in files.items():
        data = (tmp_path / "a" / name).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == d1[name]


def test_boot_script():
    text = boot_script("tftp://10.0.0.1", ["kernel", "initrd"])
    lines = text.splitlines()
    assert lines[0] == "#!ipxe"
    assert "imgfetch tftp://10.0.0.1/kernel || goto nbs_fail" in lines
    assert lines.index("echo NBS-DONE") > lines.index("imgfetch tftp://10.0.0.1/initrd "
                                                      "|| goto nbs_fail")
    assert ":nbs_fail" in lines and "echo NBS-FAIL ${errno}" in lines


# --- HTTP server --------------------------------------------------------------------------

@pytest.fixture
def httpd(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "kernel").write_bytes(bytes(range(256)) * 1000)
    (tmp_path / "secret").write_text("no")
    log = tmp_path / "http.csv"
    server = LabHTTPServer(("127.0.0.1", 0), root, log, t0=0.0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server, log
    server.shutdown()
    server.server_close()
    thread.join()


def _rows(log, n):
    """The CSV rows, once ``n`` are there: a row is written just after the last byte is
    sent, so the client may read the response before the row exists."""
    import csv
    import time
    deadline = time.monotonic() + 5
    while True:
        with open(log) as f:
            rows = list(csv.DictReader(f))
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.01)


def test_http_get_keepalive_404_head(httpd):
    server, log = httpd
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request("GET", "/kernel")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == "256000"
    assert r.read() == bytes(range(256)) * 1000
    sock = conn.sock
    conn.request("GET", "/missing")
    r = conn.getresponse()
    assert r.status == 404
    r.read()
    conn.request("GET", "/../secret")
    r = conn.getresponse()
    assert r.status == 404
    r.read()
    conn.request("HEAD", "/kernel")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b""
    assert conn.sock is sock  # same TCP connection throughout: keep-alive
    conn.close()
    rows = _rows(log, 4)
    assert [(r["conn"], r["seq"], r["method"], r["path"], r["status"], r["bytes"])
            for r in rows] == [("1", "1", "GET", "/kernel", "200", "256000"),
                               ("1", "2", "GET", "/missing", "404", "10"),
                               ("1", "3", "GET", "/../secret", "404", "10"),
                               ("1", "4", "HEAD", "/kernel", "200", "0")]
    for row in rows:
        assert float(row["received_s"]) <= float(row["last_byte_s"])
        assert float(row["mono_received"]) == pytest.approx(float(row["received_s"]))


def test_http_new_connection_gets_new_id(httpd):
    server, log = httpd
    for _ in range(2):
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.request("GET", "/kernel", headers={"Connection": "close"})
        conn.getresponse().read()
        conn.close()
    # two connections, two ids; the log rows may land in either order (one thread each)
    assert sorted(r["conn"] for r in _rows(log, 2)) == ["1", "2"]
