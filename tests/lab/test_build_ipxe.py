"""``netbootsim lab build-ipxe``: options checked against the tree, bad input, a real build.

The pure parts run on a tiny stand-in tree (the files ``check_source`` looks for, and two
configuration headers shaped like iPXE's). The real build needs an iPXE checkout: set
``NETBOOTSIM_IPXE_SOURCE`` to one (``git clone https://github.com/ipxe/ipxe.git``);
without it that test is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from netbootsim.cli import main
from netbootsim.errors import InputError
from netbootsim.lab.build import (
    DEFAULT_CONFIG,
    build_ipxe,
    check_source,
    config_keys,
    local_headers,
    parse_config_args,
)

GENERAL = """#ifndef CONFIG_GENERAL_H
#define CONFIG_GENERAL_H
#define DOWNLOAD_PROTO_HTTPS\t/* Secure Hypertext Transfer Protocol */
//#define IMAGE_TRUST_CMD\t/* Image trust management commands */
#undef NET_PROTO_IPV6
#include <config/named.h>
#include <config/local/general.h>
#endif
"""
DHCP = """#define DHCP_DISC_START_TIMEOUT_SEC\t1
#define DHCP_DISC_END_TIMEOUT_SEC\t10
#include <config/local/dhcp.h>
"""
# a header without its local override: its macros cannot be set through it
NAMED = "#define NOT_SETTABLE 1\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "ipxe" / "src"
    (src / "config" / "local").mkdir(parents=True)
    (src / "include" / "ipxe").mkdir(parents=True)
    (src / "Makefile").write_text("all:\n")
    (src / "config" / "general.h").write_text(GENERAL)
    (src / "config" / "dhcp.h").write_text(DHCP)
    (src / "config" / "named.h").write_text(NAMED)
    return tmp_path / "ipxe"


def test_config_keys_are_the_macros_of_headers_with_a_local_override(tree):
    keys = config_keys(tree / "src")
    assert keys == {"CONFIG_GENERAL_H": "general.h", "DOWNLOAD_PROTO_HTTPS": "general.h",
                    "IMAGE_TRUST_CMD": "general.h", "NET_PROTO_IPV6": "general.h",
                    "DHCP_DISC_START_TIMEOUT_SEC": "dhcp.h",
                    "DHCP_DISC_END_TIMEOUT_SEC": "dhcp.h"}


def test_options_become_local_headers(tree):
    keys = config_keys(tree / "src")
    opts = parse_config_args(["NET_PROTO_IPV6=on", "DOWNLOAD_PROTO_HTTPS=off",
                              "DHCP_DISC_END_TIMEOUT_SEC=4"], keys)
    assert opts == {**DEFAULT_CONFIG, "NET_PROTO_IPV6": "on", "DOWNLOAD_PROTO_HTTPS": "off",
                    "DHCP_DISC_END_TIMEOUT_SEC": "4"}
    headers = local_headers(opts, keys)
    assert headers["general.h"].splitlines()[1:] == [
        "#undef DOWNLOAD_PROTO_HTTPS",  # the user's off wins over the default on
        "#undef IMAGE_TRUST_CMD", "#define IMAGE_TRUST_CMD",
        "#undef NET_PROTO_IPV6", "#define NET_PROTO_IPV6"]
    assert headers["dhcp.h"].splitlines()[1:] == [
        "#undef DHCP_DISC_END_TIMEOUT_SEC", "#define DHCP_DISC_END_TIMEOUT_SEC 4"]


@pytest.mark.parametrize("item, message", [
    ("NO_SUCH_OPTION=on", "NO_SUCH_OPTION: no configuration header of this iPXE tree"),
    ("NOT_SETTABLE=on", "NOT_SETTABLE: no configuration header"),
    ("DHCP_DISC_END=3", "similar: DHCP_DISC_END_TIMEOUT_SEC, DHCP_DISC_START_TIMEOUT_SEC"),
    ("NET_PROTO_IPV6", "expected KEY=VALUE"),
    ("lower=on", "is not a macro name"),
])
def test_bad_options_are_refused(tree, item, message):
    with pytest.raises(InputError, match=message):
        parse_config_args([item], config_keys(tree / "src"))


def test_the_cli_names_every_platform():
    from netbootsim.cli.lab import PLATFORM_NAMES
    from netbootsim.lab.build import PLATFORMS

    assert PLATFORM_NAMES == tuple(PLATFORMS)


def test_not_an_ipxe_tree(tmp_path):
    with pytest.raises(InputError, match="not an iPXE source tree"):
        check_source(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        check_source(tmp_path / "missing")


@pytest.mark.parametrize("argv, message", [
    (["--source", "{tmp}"], "--source: {tmp}: not an iPXE source tree"),
    (["--source", "{tree}", "--platform", "mips"],
     "--platform: 'mips': not one of bios, efi-x86_64, efi-arm64"),
    (["--source", "{tree}", "--config", "NO_SUCH_OPTION=on"],
     "--config: NO_SUCH_OPTION: no configuration header"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, tree, argv,
                                                            message):
    out = tmp_path / "out"
    fill = {"tmp": str(tmp_path / "empty"), "tree": str(tree)}
    (tmp_path / "empty").mkdir()
    argv = [a.format(**fill) for a in argv]
    assert main(["lab", "build-ipxe", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(**fill) in err
    assert not out.exists()


def test_an_embedded_script_that_is_not_one_is_refused(tree, tmp_path):
    bad = tmp_path / "boot.ipxe"
    bad.write_text("kernel http://x/k\n")  # no #!ipxe line
    with pytest.raises(InputError, match="boot.ipxe"):
        build_ipxe(tree, "bios", tmp_path / "out", embed=bad)
    assert not (tmp_path / "out").exists()


SOURCE = os.environ.get("NETBOOTSIM_IPXE_SOURCE")


@pytest.mark.slow
@pytest.mark.skipif(not SOURCE, reason="no iPXE checkout: set NETBOOTSIM_IPXE_SOURCE to "
                    "one (git clone https://github.com/ipxe/ipxe.git) to build it")
def test_a_real_bios_build_records_its_commit_options_and_hashes(tmp_path):
    out = tmp_path / "build"
    before = _status(SOURCE)
    assert main(["lab", "build-ipxe", "--source", SOURCE, "--out", str(out),
                 "--config", "DHCP_DISC_END_TIMEOUT_SEC=4"]) == 0
    rec = json.loads((out / "build.json").read_text())
    assert len(rec["commit"]) == 40 and rec["platform"] == "bios"
    assert rec["config"] == {**DEFAULT_CONFIG, "DHCP_DISC_END_TIMEOUT_SEC": "4"}
    for name in ("ipxe.lkrn", "8086100e.rom"):
        data = (out / name).read_bytes()
        assert rec["binaries"][name]["bytes"] == len(data) > 50_000
    # a PCI option ROM starts 55 AA; the checkout was not written to
    assert (out / "8086100e.rom").read_bytes()[:2] == b"\x55\xaa"
    assert _status(SOURCE) == before


def _status(source: str) -> str:
    """Every file git sees changed or new in the checkout (ignored ones included)."""
    return subprocess.run(["git", "-C", source, "status", "--porcelain", "--ignored"],
                          capture_output=True, text=True, check=True).stdout


def _fake_build(where: Path, platform: str = "bios") -> Path:
    where.mkdir(parents=True)
    binaries = {"8086100e.rom": {"sha256": "0" * 64, "bytes": 3, "target": "bin/8086100e.rom"}}
    (where / "build.json").write_text(json.dumps({"platform": platform,
                                                  "binaries": binaries, "commit": "c" * 40}))
    (where / "8086100e.rom").write_bytes(b"\x55\xaa\x00")
    return where


def test_a_lab_config_boots_a_builds_rom_and_records_the_build(tmp_path):
    from netbootsim.lab.config import load_config
    from netbootsim.lab.runner import qemu_argv

    _fake_build(tmp_path / "builds" / "b1")
    cfg_file = tmp_path / "lab.yaml"
    cfg_file.write_text("case: http\nipxe: builds/b1\n")  # relative to the config's folder
    cfg = load_config(cfg_file)
    assert cfg.ipxe == str(tmp_path / "builds" / "b1")
    assert f"romfile={tmp_path / 'builds' / 'b1' / '8086100e.rom'}" in " ".join(
        qemu_argv(cfg, 0, "tap0"))
    # without it: Debian's ROM, as before
    cfg_file.write_text("case: http\n")
    assert "romfile=/usr/lib/ipxe/qemu/pxe-e1000.rom" in " ".join(
        qemu_argv(load_config(cfg_file), 0, "tap0"))


@pytest.mark.parametrize("text, message", [
    ("case: http\nipxe: nowhere\n", "lab.yaml:2: ipxe: "),
    ("case: http\nipxe: efi\n", "built for efi-x86_64; SeaBIOS guests boot a BIOS build"),
    ("case: http\nnic: virtio\nipxe: b1\n", "the e1000's (8086100e.rom); nic is 'virtio'"),
])
def test_a_bad_ipxe_build_is_refused_at_its_line(tmp_path, text, message):
    from netbootsim.lab.config import load_config

    _fake_build(tmp_path / "b1")
    _fake_build(tmp_path / "efi", platform="efi-x86_64")
    f = tmp_path / "lab.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        load_config(f)
    assert message in str(e.value)


def _fake_tls(where: Path) -> Path:
    from netbootsim.lab.tls import FILES

    where.mkdir(parents=True)
    for f in FILES:
        (where / f).write_text("x")
    return where


def test_the_https_case_serves_files_over_https_and_the_script_over_http(tmp_path):
    from netbootsim.lab.config import load_config
    from netbootsim.lab.dnsmasq import script_url
    from netbootsim.lab.payload import boot_script

    _fake_build(tmp_path / "b1")
    _fake_tls(tmp_path / "tls")
    f = tmp_path / "lab.yaml"
    f.write_text("case: https\nipxe: b1\ntls: tls\ncertificate: rogue\n")
    cfg = load_config(f)
    assert (cfg.transport, cfg.tls, cfg.certificate) == ("https", str(tmp_path / "tls"),
                                                         "rogue")
    assert script_url(cfg) == "http://192.168.77.1/boot.ipxe"
    assert "imgfetch https://192.168.77.1/kernel || goto nbs_fail" in boot_script(
        f"{cfg.transport}://{cfg.server_ip}", list(cfg.files))


@pytest.mark.parametrize("text, message", [
    ("case: https\n", "lab.yaml:1: ipxe: the https case needs it"),
    ("case: https\nipxe: b1\ntls: nowhere\n", "lab.yaml:3: tls: nowhere: not a 'netbootsim"),
    ("case: http\ntls: tls\n", "lab.yaml:2: tls: only the https case (or transport: https) "
     "serves HTTPS"),
    ("case: https\nipxe: b1\ntls: tls\ncertificate: mine\n",
     "lab.yaml:4: certificate: 'mine' is not one of trusted, rogue"),
])
def test_bad_https_configs(tmp_path, text, message):
    from netbootsim.lab.config import load_config

    _fake_build(tmp_path / "b1")
    _fake_tls(tmp_path / "tls")
    f = tmp_path / "lab.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        load_config(f)
    assert message in str(e.value)


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[2] / "lab" /
                                                         "matrix2").glob("*.yaml")))
def test_the_round_2_configs_load_beside_a_build_and_certificates(tmp_path, name):
    # lab/matrix2/*.yaml name ../../build/ipxe/bios and ../../build/lab-tls, which a
    # clone does not have (made by lab build-ipxe and lab tls): here stand-ins
    from netbootsim.lab.config import load_config

    src = Path(__file__).parents[2] / "lab" / "matrix2" / name
    (tmp_path / "lab" / "matrix2").mkdir(parents=True)
    cfg_file = tmp_path / "lab" / "matrix2" / name
    cfg_file.write_text(src.read_text())
    _fake_build(tmp_path / "build" / "ipxe" / "bios")
    _fake_tls(tmp_path / "build" / "lab-tls")
    cfg = load_config(cfg_file)
    assert cfg.ipxe == str(tmp_path / "build" / "ipxe" / "bios")
    assert cfg.case in ("http", "https")
