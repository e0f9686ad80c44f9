"""Firmware profiles: every value says what it rests on; bad files are one line FILE:LINE."""

import json
import math
import re
from pathlib import Path

import pytest

from netbootsim.dist import DistError, LogNormal, Uniform
from netbootsim.profiles import (
    BASES,
    PROFILE_DIR,
    PROFILES,
    VALUES,
    ProfileMix,
    _Profiles,
    load_profile,
    parse_mix,
    profile_names,
)

SOURCES = Path(__file__).resolve().parents[2] / "docs" / "sources.md"
SERVER_CLASSES = ("server-uefi", "server-bios", "server-uefi-arm64", "server-coreboot-uefi")


def test_every_value_of_every_profile_says_what_it_rests_on():
    keys = set(re.findall(r"^- \*\*\[([a-z0-9-]+)\]\*\*", SOURCES.read_text(), re.M))
    for p in PROFILES.values():
        assert set(p.basis) == set(VALUES), p.name
        for name, b in p.basis.items():
            assert b.basis in BASES, (p.name, name)
            assert set(b.keys) <= keys, (p.name, name, b.keys)
            if b.basis == "published":  # a published value cites its source by key
                assert b.keys, (p.name, name)
            if b.basis == "measured":  # lab traces or a lab document
                assert b.fitted_from or b.keys, (p.name, name)
            varies = not isinstance(p.value(name), (int, float, str, bool, type(None)))
            assert (b.spread is not None) == varies, (p.name, name)


def test_server_classes_carry_their_post_and_platform():
    uefi = PROFILES["server-uefi"]
    # lognormal by median and p95: sigma = ln(300/180) / z95 = 0.5108256 / 1.6448536
    assert uefi.post == LogNormal("time", 180.0, 300.0)
    assert uefi.post.sigma == pytest.approx(math.log(300 / 180) / 1.6448536269514722)
    assert (uefi.basis["post"].basis, uefi.basis["post"].spread) == ("published", "assumed")
    assert "linuxboot-book-208" in uefi.basis["post"].keys
    assert PROFILES["server-coreboot-uefi"].post == Uniform("time", 57.0, 93.0)
    assert PROFILES["server-bios"].basis["post"].basis == "assumed"
    platforms = {n: PROFILES[n].platform for n in SERVER_CLASSES}
    assert platforms == {"server-uefi": "uefi", "server-bios": "bios",
                         "server-uefi-arm64": "uefi-arm64", "server-coreboot-uefi": "uefi"}
    for n in SERVER_CLASSES:  # a PXE client: the PXE spec's 4/8/16/32 s DISCOVERs
        assert PROFILES[n].firmware == "pxe" and PROFILES[n].dhcp_discover_end == 32.0
    # EDK2's PXE client: 1480 - 8 - 4 = 1468-byte blocks, windowsize 4
    assert (uefi.tftp.blksize, uefi.tftp.windowsize) == (1468, 4)


def test_the_qemu_profiles_keep_their_values_and_have_no_separate_post():
    q = PROFILES["ipxe-2019-qemu"]
    assert q.post == 0.0 and q.rom_start == pytest.approx(2.223) and q.calibrated
    assert q.basis["post"].basis == "measured" and q.platform is None
    for p in PROFILES.values():
        if p.name not in SERVER_CLASSES:
            assert p.post == 0.0 and p.platform is None, p.name


def _bad(tmp_path, old: str, new: str, name: str = "server-uefi") -> tuple[Path, str]:
    text = (PROFILE_DIR / f"{name}.yaml").read_text()
    assert text.count(old) == 1, old
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new))
    return path, path.read_text()


def _line(text: str, start: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(start))


@pytest.mark.parametrize("old,new,field,msg", [
    ("p95: 300s", "p95: 100s", "measured.post.value.p95", "must be above the median"),
    ("median: 180s", "median: -180s", "measured.post.value.median", "must be > 0"),
    ("dist: lognormal", "dist: lognormale", "measured.post.value.dist",
     "unknown distribution"),
    (", spread: assumed", "", "measured.post.spread", "says what its spread rests on"),
    ("300s}, basis: published, spread", "300s}, basis: proven, spread", "measured.post.basis",
     "'proven': give one of measured, published, assumed"),
    ("post: {value:", "post: {vaule: 1s, value:", "measured.post.vaule", "unknown key"),
])
def test_a_bad_post_is_one_line_naming_file_line_and_field(tmp_path, old, new, field, msg):
    path, text = _bad(tmp_path, old, new)
    with pytest.raises(ValueError) as e:
        load_profile(path)
    line = _line(text, "  post:")  # the entry is one flow mapping on one line
    assert str(e.value).startswith(f"{path}:{line}: {field}: "), str(e.value)
    assert msg in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("old,new,start,field,msg", [
    ("platform: {value: uefi,", "platform: {value: efi,", "  platform:",
     "fixed.platform.value", "platform must be one of bios, uefi, uefi-arm64"),
    ("rom_start: {value: 0s, basis: assumed, ", "rom_start: {value: 0s, ", "  rom_start:",
     "measured.rom_start.basis", "give one of"),
    ("build: {value: all, basis: assumed, source: \"unused: the UEFI PXE client runs no "
     "iPXE script\"}", "build: {value: all, basis: assumed}", "  build:",
     "fixed.build.source", "says where it comes from"),
    ("rom_start: {value: 0s,", "rom_start: {value: 0s, spread: assumed,", "  rom_start:",
     "measured.rom_start.spread", "only a distribution has a spread"),
    ("tftp_blksize: {value: 1468,", "tftp_blksize: {value: 1468.5,", "  tftp_blksize:",
     "fixed.tftp_blksize.value", "must be an integer"),
])
def test_other_bad_values_name_their_line_and_field(tmp_path, old, new, start, field, msg):
    path, text = _bad(tmp_path, old, new)
    with pytest.raises(ValueError) as e:
        load_profile(path)
    assert str(e.value).startswith(f"{path}:{_line(text, start)}: {field}: "), str(e.value)
    assert msg in str(e.value)


def test_a_missing_value_and_an_unknown_one_are_named(tmp_path):
    path, text = _bad(tmp_path, "  rom_start:", "  rom_strat:")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:"
                                         rf"{_line(text, '  rom_strat:')}: "
                                         r"measured\.rom_strat: unknown measured value"):
        load_profile(path)


def test_parse_mix_and_the_names_it_gives():
    mix = parse_mix({"mix": [{"weight": 0.7, "profile": "server-uefi"},
                             {"weight": 0.3, "profile": "server-bios"}]})
    assert mix == ProfileMix(((0.7, "server-uefi"), (0.3, "server-bios")))
    assert profile_names(mix) == ((("mix", 0, "profile"), "server-uefi"),
                                  (("mix", 1, "profile"), "server-bios"))
    assert profile_names("pxe-rom") == (((), "pxe-rom"),)
    assert mix.spec() == {"mix": [{"weight": 0.7, "profile": "server-uefi"},
                                  {"weight": 0.3, "profile": "server-bios"}]}


@pytest.mark.parametrize("raw,sub,msg", [
    ({"mix": [{"weight": 0.5, "profile": "a"}, {"weight": 0.4, "profile": "b"}]},
     ("mix",), "the weights sum to 0.9, not 1"),
    ({"mix": [{"weight": 0, "profile": "a"}, {"weight": 1, "profile": "b"}]},
     ("mix", 0, "weight"), "must be a number > 0"),
    ({"mix": [{"weight": 0.5, "profile": "a"}, {"weight": 0.5, "profile": "a"}]},
     ("mix",), "named twice"),
    ({"mix": [{"weight": 1.0}]}, ("mix", 0), "'profile' missing"),
    ({"mix": []}, ("mix",), "non-empty"),
    ({"mix": [{"weight": 1.0, "profile": "a"}], "x": 1}, ("x",), "unknown field 'x'"),
])
def test_a_bad_mix_names_the_part_that_is_wrong(raw, sub, msg):
    with pytest.raises(DistError) as e:
        parse_mix(raw)
    assert e.value.sub == sub and msg in e.value.msg


def test_models_marks_every_profile_value_and_its_source_key(capsys):
    from netbootsim.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for p in PROFILES.values():
        at = next(i for i, ln in enumerate(lines) if ln.startswith(f"firmware      {p.name} "))
        rows = lines[at + 1: at + 1 + len(VALUES)]
        for name, row in zip(VALUES, rows, strict=True):
            b = p.basis[name]
            assert row.startswith(f"  {b.basis:11s} {name}"), row
            assert row.endswith("]")
            for key in b.keys:
                assert key in row.rsplit("[", 1)[1]
    post = next(ln for ln in lines if ln.startswith("  published   post")
                and "lognormal, median 3min, p95 5min (spread assumed)" in ln)
    assert "linuxboot-book-208" in post
    # iPXE's HTTP idle watchdog: today's build 120 s, the 2019 ROM none
    watchdogs = [ln.split()[2:5] for ln in lines if ln.startswith("  published   http_watchdog")]
    assert ["2min", "[ipxe-src]"] in [w[:2] for w in watchdogs]
    assert ["none", "(waits", "for"] in watchdogs


def test_edk2_pxe_clients_wait_for_their_first_discover_timeout():
    # EDK2 chooses an offer when its 4 s DISCOVER timer runs out on a 1 s tick: 3 to 4 s,
    # per server; the lab's OVMF runs (3.67-3.69 s) fall inside
    for n in ("server-uefi", "server-uefi-arm64", "server-coreboot-uefi"):
        assert PROFILES[n].dhcp_offer_wait == Uniform("time", 3.0, 4.0), n
        assert "edk2" in PROFILES[n].basis["dhcp_offer_wait"].keys
    for n in ("server-bios", "pxe-rom", "ipxe-2019-qemu", "ipxe-current"):
        assert PROFILES[n].dhcp_offer_wait == 0.0, n


def test_profiles_load_on_first_use_and_a_file_must_carry_its_own_name(tmp_path):
    # the shipped directory: every file's profile is named as the file (all nine load)
    assert [p.name for p in PROFILES.values()] == list(PROFILES)
    # a copy of one profile under another file name: listed by the stem, refused on use
    src = PROFILE_DIR / "pxe-rom.yaml"
    (tmp_path / "other.yaml").write_text(src.read_text())
    lazy = _Profiles(tmp_path)
    assert list(lazy) == ["other"] and "other" in lazy and "pxe-rom" not in lazy
    with pytest.raises(ValueError, match=r"other\.yaml:1: name: 'pxe-rom' is not the file"):
        lazy["other"]
    with pytest.raises(KeyError):
        lazy["pxe-rom"]


def test_a_profile_says_where_its_measured_values_come_from(tmp_path):
    # the shipped QEMU profile: round 1's runs did not record their host
    assert PROFILES["ipxe-2019-qemu"].measured_on.startswith("host not recorded; QEMU")
    assert PROFILES["pxe-rom"].measured_on == ""  # nothing measured, nothing said
    # calibrate --write names the host the runs' run.json recorded
    from netbootsim.lab.calibrate import Fit, measured_on, write_measured

    run = tmp_path / "http-rtt0-r1"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "host": {"cpu": "Some CPU", "cpus": 8, "kernel": "6.1.0"},
        "versions": {"qemu-system-x86": "1:7.2"}, "config": {"accel": "tcg"}}))

    class Run:
        path = run

    on = measured_on([Run(), Run()])
    assert on == "Some CPU, 8 CPUs, Linux 6.1.0; QEMU 1:7.2 TCG"
    target = tmp_path / "p.yaml"
    target.write_text((PROFILE_DIR / "ipxe-2019-qemu.yaml").read_text())
    write_measured(target, Fit(), on)
    assert load_profile(target).measured_on == on
