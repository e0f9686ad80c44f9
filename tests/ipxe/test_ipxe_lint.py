"""``netbootsim ipxe check``: the static lint (netbootsim.ipxe.lint) on the corpus of
realistic scripts (tests/data/ipxe/corpus/good: clean) and of one-mistake scripts
(corpus/bad: the first line says ``# expect: LINE substring``), then rule by rule."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from netbootsim.cli import main
from netbootsim.ipxe import COMMANDS, SPECS, parse_script
from netbootsim.ipxe.lint import MAX_SCRIPT_BYTES, Finding, check_file, check_text
from netbootsim.ipxe.spec import BUILDS

CORPUS = Path(__file__).resolve().parents[1] / "data/ipxe/corpus"
GOOD = sorted((CORPUS / "good").glob("*.ipxe"))
BAD = sorted((CORPUS / "bad").glob("*.ipxe"))
_EXPECT = re.compile(r"# expect: (\d+) (.+)$")


def errors_of(findings):
    return [f for f in findings if f.severity == "error"]


def test_corpus_size():
    assert len(GOOD) >= 10 and len(BAD) >= 15


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_scripts_check_clean(path, capsys):
    findings = check_file(path)
    assert errors_of(findings) == []
    assert findings == []  # not even a warning: these are the examples to copy
    parse_script(path.read_text(), path.name)  # and the interpreter takes them
    assert main(["ipxe", "check", str(path)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_scripts_report_their_line(path, capsys):
    m = _EXPECT.search(path.read_text().split("\n", 1)[0])
    assert m, f"{path.name}: the first line must say '# expect: LINE substring'"
    line, text = int(m.group(1)), m.group(2)
    found = errors_of(check_file(path))
    assert [(f.line, text in f.message) for f in found] == [(line, True)], found
    assert main(["ipxe", "check", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:{line}: error: ") and text in out


def test_several_files_unreadable_ones_and_no_traceback(tmp_path, capsys):
    missing = tmp_path / "missing.ipxe"
    rc = main(["ipxe", "check", str(GOOD[0]), str(missing), str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 2 and err == ""
    assert out.splitlines() == [f"{missing}: error: cannot read: No such file or directory",
                                f"{tmp_path}: error: cannot read: Is a directory"]
    with pytest.raises(SystemExit) as e:  # argparse: exit 2 with a one-line reason
        main(["ipxe", "check", "--build", "nosuch", str(GOOD[0])])
    assert e.value.code == 2 and "invalid choice: 'nosuch'" in capsys.readouterr().err


def test_files_that_are_not_scripts_are_one_line_each(tmp_path, capsys):
    # a binary (NUL bytes), text that is not UTF-8, a file over the 1 MiB limit, a FIFO:
    # one line each, exit 2, never the raw bytes line by line
    binary = tmp_path / "ipxe.efi"
    binary.write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 40)
    latin = tmp_path / "latin1.ipxe"
    latin.write_bytes("#!ipxe\necho caf\u00e9\n".encode("latin-1"))
    big = tmp_path / "big.ipxe"
    big.write_text("#!ipxe\n" + "echo x\n" * (MAX_SCRIPT_BYTES // 7))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc = main(["ipxe", "check", str(binary), str(latin), str(big), str(fifo), str(GOOD[0])])
    out = capsys.readouterr().out.splitlines()
    assert rc == 2
    assert out == [
        f"{binary}: error: not a text file (a NUL byte at byte 3)",
        # byte 15: '#!ipxe', a newline, 'echo caf' (15 bytes), then latin-1's 0xE9
        f"{latin}: error: not a text file (not UTF-8: invalid continuation byte at byte 15)",
        f"{big}: error: {big.stat().st_size:,} bytes: larger than 1 MiB, the limit for a "
        "script file",
        f"{fifo}: error: cannot read: not a regular file"]
    assert MAX_SCRIPT_BYTES == 2**20
    at_limit = tmp_path / "at-limit.ipxe"  # exactly 1 MiB is still read
    at_limit.write_text("#!ipxe\n" + "#" * (MAX_SCRIPT_BYTES - 8) + "\n")
    assert check_file(at_limit) == []


def lint(*lines, build=None):
    text = "#!ipxe\n" + "\n".join(lines) + "\n"
    return [(f.line, f.severity, f.message) for f in check_text(text, "t.ipxe", build)]


def test_expansion_never_changes_the_argument_count():
    # iPXE splits on whitespace before expanding: ${v} is one argument even if it holds
    # spaces, and "${a b}" is two tokens whatever it expands to
    assert lint("set v a b", "iseq ${v} x", "iseq ${a b}", "echo ${v} ${v}") == []
    assert lint("iseq ${v}") == [(2, "error", "'iseq' takes 2 arguments, got 1 (usage: iseq "
                                  "<value1> <value2>)")]
    assert lint("sleep ${delay}", "chain --timeout ${t} x") == []  # not literal: unchecked


def test_goto_labels_fixed_and_computed():
    assert lint(":a", "goto a", "goto b") == [(4, "error", "goto b: no label ':b' in this script")]
    assert lint(":install", "goto instal") == [
        (3, "error", "goto instal: no label ':instal' in this script; did you mean ':install'?")]
    assert lint(":a", "goto ${x}") == [(3, "warning", "goto ${x}: computed label; not checked")]
    # goto ${t} after choose t: every item of that menu needs its label instead
    found = lint("menu", "item a A", "item b B", "choose t && goto ${t}", ":a",
                 "menu --name other", "item -m other c C", "choose -m other u")
    assert found == [(4, "warning", "item 'b' has no ':b' label, but line 5 does 'goto ${t}' "
                      "with the choice")]
    assert lint(":a", ":a") == [(3, "warning", "label ':a' is already defined at line 2; "
                                 "goto always finds the first")]
    assert lint("menu", "item a A", "choose --default b t") == [
        (4, "warning", "choose --default b: no 'item b' in this script")]


def test_options_like_getopt():
    assert lint("echo hello -n", "echo -n -- -x", "kernel -nk x", "prompt -k a -t 0 hi",
                "item --key=0x1b --default x X", "chain --name=x --autofree y") == []
    assert lint("chain -a --bogus x")[0][2].startswith("unknown option --bogus for 'chain'")
    assert lint("chain -ax y")[0][2].startswith("unknown option -x for 'chain'")
    assert lint("kernel -n") == [(2, "error", "option -n of 'kernel' needs an argument")]
    assert lint("echo --help") == [(2, "warning", "'echo --help' prints the usage and fails")]
    assert lint("chain --${o} x") == [(2, "warning", "'chain': option '--${o}' is computed; "
                                       "options and arguments not checked")]


def test_commands_known_only_to_the_lint_and_time():
    # iPXE commands the simulator does not run are still checked (tables from source)
    assert lint("vcreate --tag 12 net0", "ntp pool.ntp.org", "ifstat", "colour -b 4 1",
                "nslookup ip boot.example.com", "certstat", "help me please") == []
    assert lint("vcreate --tag x net0") == [(2, "error", '"x": invalid integer value')]
    assert lint("vdestroy") == [(2, "error", "'vdestroy' takes 1 argument, got 0 (usage: "
                                 "vdestroy <VLAN interface>)")]
    assert lint("time iseq a") == [(2, "error", "'iseq' takes 2 arguments, got 1 (usage: "
                                    "iseq <value1> <value2>)")]
    assert lint("${cmd} x") == [(2, "warning", "command name '${cmd}' is computed; not checked")]


def test_build_2019_lacks_newer_commands_options_and_https():
    found = lint("imgverify a a.sig", "params", "choose --retimeout 5 t",
                 "chain https://example.com/x", "chain http://example.com/x",
                 "sanboot iscsi:10.0.0.1::::iqn.x", build="debian-2019")
    assert found == [
        (2, "error", "'imgverify' is not in the debian-2019 build (there: command not found)"),
        (3, "error", "'params' is not in the debian-2019 build (there: command not found)"),
        (4, "error", "option --retimeout of 'choose' is not in the debian-2019 build (added "
         "to iPXE after 2019)"),
        (5, "error", "the debian-2019 build cannot open https: URIs (Operation not supported)")]
    assert main(["ipxe", "check", "--build", "debian-2019", str(CORPUS / "good/signed.ipxe")]) == 2


def test_no_warnings_flag_and_finding_format(tmp_path, capsys):
    script = tmp_path / "w.ipxe"
    script.write_text("#!ipxe\ngoto ${x}\n")
    assert main(["ipxe", "check", str(script)]) == 0
    warning = f"{script}:2: warning: goto ${{x}}: computed label; not checked\n"
    assert capsys.readouterr().out == warning
    assert main(["ipxe", "check", "--no-warnings", str(script)]) == 0
    assert capsys.readouterr().out == ""
    assert str(Finding("f", 0, "error", "m")) == "f: error: m"


def test_every_executed_command_has_a_table_and_builds_are_subsets():
    assert set(COMMANDS) <= set(SPECS)
    for build in BUILDS.values():
        assert build.commands is None or build.commands <= set(SPECS)
    # what the lab ROM has that the simulator runs: all but autoboot and pxebs
    assert BUILDS["debian-2019"].commands - set(COMMANDS) == {"autoboot", "pxebs"}


def test_a_san_root_path_ipxe_cannot_parse_is_an_error_at_its_line():
    # iPXE refuses a root path with fewer than RFC 4173's five fields, or an AoE
    # address that is not e<shelf>.<slot> (net/tcp/iscsi.c, net/aoe.c: EINVAL); a
    # computed one is left to the run
    from netbootsim.ipxe.lint import check_text

    found = check_text("#!ipxe\nsanboot iscsi:array1:6\nsanhook aoe:e1\n"
                       "sanboot iscsi:a::::t aoe:e0.1\nsanboot iscsi:${x}\n", "s.ipxe")
    assert [(f.line, f.severity) for f in found] == [(2, "error"), (3, "error")]
    assert "iscsi:<server>:<protocol>" in found[0].message
    assert "aoe:e<shelf>.<slot>" in found[1].message
