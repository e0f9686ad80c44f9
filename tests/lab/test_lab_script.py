"""``netbootsim lab script``: wrapper, console rendering and output extraction (no QEMU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netbootsim.errors import InputError
from netbootsim.lab.script import (
    END_MARK,
    RC_MARK,
    extract_output,
    parse_file_specs,
    render_console,
    script_config,
    wrapper_script,
)

DATA = Path(__file__).resolve().parents[1] / "data/ipxe"
SCRIPTS = sorted(p.stem for p in DATA.glob("*.ipxe"))


def test_wrapper_chains_the_user_script_then_reports_and_ends():
    lines = wrapper_script("10.1.2.1").splitlines()
    assert lines[0] == "#!ipxe"
    assert lines[2] == (f"chain http://10.1.2.1/user.ipxe && echo {RC_MARK} ok || "
                        f"echo {RC_MARK} ${{errno}}")
    assert lines[-1] == f"echo {END_MARK}"


def test_render_console_applies_cr_backspace_and_strips_ansi():
    raw = (b"\x1bc\x1b[?7l\x1b[2J\x1b[0mBIOS\r\n\n"
           b"Press Ctrl-B...\x08 \x08\x08 \x08\x08 \x08\r\n"
           b"http://h/f... 20%\x08\x08\x08\x08    \x08\x08\x08\x08 ok\r\n"
           b"\x1b[0;1miPXE\x1b[0m\tx\r\nabc\rX")
    assert render_console(raw) == ["BIOS", "", "Press Ctrl-B", "http://h/f... ok",
                                   "iPXE    x", "Xbc"]


def _lines(*text: str) -> list[str]:
    return ["SeaBIOS", "NBS-SCRIPT-BEGIN", "http://192.168.77.1/user.ipxe... ok", *text]


def test_extract_output_ok_failed_and_unfinished():
    res = extract_output(_lines("", "a", "b", "", f"{RC_MARK} ok", END_MARK, "junk"))
    assert (res.lines, res.status, res.ended, res.fetched) == (["a", "b"], "ok", True, True)
    assert res.text() == "a\nb\nstatus: ok\n"
    res = extract_output(_lines("x", "Could not boot: Error 0x00000003", f"{RC_MARK} 0x3",
                                END_MARK))
    assert res.status == "0x3" and res.ended
    assert res.text().endswith("Could not boot: Error 0x00000003\nstatus: failed 0x3\n")
    res = extract_output(_lines("loop", "loop"))  # timed out inside the script
    assert (res.lines, res.status, res.ended) == (["loop", "loop"], None, False)
    assert "status: unknown" in res.text()
    assert extract_output(["SeaBIOS", "No bootable device."]).lines == []


def test_extract_output_user_text_resembling_markers():
    res = extract_output(_lines("http://192.168.77.1/user.ipxe... ok", "NBS-END",
                                f"{RC_MARK} ok", END_MARK))
    assert res.lines == ["http://192.168.77.1/user.ipxe... ok", "NBS-END"] and res.ended


@pytest.mark.parametrize("name", SCRIPTS)
def test_captured_consoles_extract_to_the_expected_output(name):
    raw = (DATA / f"{name}.console.raw").read_bytes()
    res = extract_output(render_console(raw))
    assert res.ended and res.fetched
    assert res.text() == (DATA / f"{name}.console.txt").read_text()


def test_ground_truth_highlights():
    """What the 2019 ROM did with the test scripts (documented in the report)."""
    out = {n: (DATA / f"{n}.console.txt").read_text().splitlines() for n in SCRIPTS}
    assert out["loop"] == ["iteration 1", "iteration 2", "iteration 3", "done after 3",
                           "status: ok"]
    assert out["exit3"][0] == "about to exit" and out["exit3"][-1] == "status: failed 0x3"
    assert "fetch failed 0x2d0c613b" in out["fetch"] and "not reached" not in out["fail"]
    assert out["chains"][:4] == ["mac is set", "nothing not set", "not equal", "equal"]


def test_parse_file_specs_and_config():
    assert parse_file_specs(["a.bin=4KiB", "b=1MiB"]) == {"a.bin": "4KiB", "b": "1MiB"}
    for bad in (["a"], ["a=1KiB", "a=2KiB"], ["user.ipxe=1KiB"], ["=1KiB"]):
        with pytest.raises(ValueError):
            parse_file_specs(bad)
    cfg = script_config("s.ipxe", {"a.bin": "4KiB"}, 30.0)
    assert cfg.case == "http" and cfg.files == {"a.bin": 4096} and cfg.timeout == 30.0
    assert cfg.path is None and not cfg.dhcp.ping and cfg.dhcp.no_pxedhcp
    with pytest.raises(InputError):
        script_config("s.ipxe", {"../x": "1KiB"}, 30.0)
    with pytest.raises(InputError):
        script_config("s.ipxe", {"x": "lots"}, 30.0)


@pytest.mark.parametrize("args", [["missing.ipxe"], ["{s}", "--files", "nosize"],
                                  ["{s}", "--files", "x=huge"], ["{s}", "--timeout", "fast"]])
def test_cli_bad_input_exits_2(args, tmp_path):
    script = tmp_path / "s.ipxe"
    script.write_text("#!ipxe\necho hi\n")
    argv = [a.format(s=script) for a in args]
    res = subprocess.run([sys.executable, "-m", "netbootsim.lab", "script", *argv],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("lab script: ")
