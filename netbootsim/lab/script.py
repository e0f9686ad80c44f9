r"""``netbootsim lab script FILE.ipxe``: run an iPXE script in the real ROM, print its console.

The ground truth for an iPXE script interpreter: the user's script is served over
HTTP as ``user.ipxe`` by the lab's HTTP server (``lab/http.yaml``-like setup, fast
DHCP), next to the synthetic files named with ``--files name=SIZE``. The ROM's DHCP
boot file is a small wrapper (:func:`wrapper_script`)::

    #!ipxe
    echo NBS-SCRIPT-BEGIN
    chain http://192.168.77.1/user.ipxe && echo NBS-SCRIPT-RC ok ||
        echo NBS-SCRIPT-RC ${errno}        (one line)
    echo NBS-END

so the user's script runs as a **chained child** of the wrapper. iPXE semantics
(core/exec.c, image/script.c [ipxe-src]) that follow from this and that the wrapper relies on:

* ``exit [n]`` ends only the child script; the wrapper continues. ``exit 0`` (or
  reaching the end) makes ``chain`` succeed; ``exit n`` with n ≠ 0, or any line whose
  status is non-zero, ends the child and makes ``chain`` fail with that status.
* ``${errno}`` (a built-in setting of this 2019 ROM: the last error) then holds
  the status, printed in hex: ``0x3`` for ``exit 3``, ``0x2d0c613b`` for a missing
  file; the wrapper prints ``ok`` instead when ``chain`` succeeded. After a failure
  the wrapper's ``chain`` itself prints ``Could not boot: <error>``; that line is
  kept as the last output line (it is what the screen shows).
* ``chain --replace`` or booting a real kernel from the user's script never
  returns, so the markers never come and the run ends at ``--timeout`` (exit 1).

The guest is stopped as soon as ``NBS-END`` appears. The console bytes are rendered
as a terminal would show them (``\r``, ``\b`` redraws applied, ANSI colours removed,
see :func:`render_console`; long lines stay wrapped at 80 columns as the ROM's
console wrapped them) and the lines the user's script produced — after the
``http://.../user.ipxe... ok`` line of the wrapper's ``chain``, before
``NBS-SCRIPT-RC`` — are printed (:func:`extract_output`), then ``status: ...``.

Exit status: 0 the script ran (whatever its own status), 1 the guest did not reach
the markers (timeout, crash) or the lab could not start, 2 bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import LabConfig, parse_config
from .runner import Markers, run_lab

__all__ = ["BEGIN_MARK", "END_MARK", "RC_MARK", "USER_SCRIPT", "ScriptOutput", "extract_output",
           "parse_file_specs", "render_console", "run_script", "wrapper_script"]

#: Printed by the wrapper before it chains the user's script.
BEGIN_MARK = "NBS-SCRIPT-BEGIN"
#: Printed by the wrapper after the user's script: ``NBS-SCRIPT-RC ok`` or ``... <errno>``.
RC_MARK = "NBS-SCRIPT-RC"
#: Printed by the wrapper last; the harness stops the guest when it sees it.
END_MARK = "NBS-END"
#: Name under which the user's script is served.
USER_SCRIPT = "user.ipxe"
_SPEC = re.compile(r"^([^=\s]+)=(\S+)$")
#: CSI sequences (colours, clears) and two-byte escapes such as SeaBIOS's ``ESC c``.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[ -/]*[0-~])")


def wrapper_script(server_ip: str, user: str = USER_SCRIPT) -> str:
    """The ROM's boot script: chain ``user`` over HTTP, print its status and ``NBS-END``.

    ``&&`` and ``||`` have equal precedence, left to right: on success ``echo ... ok``
    runs and the ``||`` branch is skipped; on failure the ``&&`` branch is skipped
    (status unchanged) and the ``||`` branch prints ``${errno}``.
    """
    return ("#!ipxe\n"
            f"echo {BEGIN_MARK}\n"
            f"chain http://{server_ip}/{user} && echo {RC_MARK} ok || "
            f"echo {RC_MARK} ${{errno}}\n"
            f"echo {END_MARK}\n")


def render_console(raw: bytes) -> list[str]:
    r"""The lines a terminal shows for ``raw`` serial output.

    ANSI escape sequences are removed; ``\r`` returns to column 0, ``\b`` moves one
    column left, printable characters overwrite; ``\n`` ends the line. Trailing
    spaces are stripped; an unterminated last line is kept.

    Example:
        >>> render_console(b"a 1%\b\b\b\b    \b\b\b\b ok\r\n\x1b[0;1mB\x1b[0m\r\n")
        ['a ok', 'B']
    """
    text = _ESCAPE.sub("", raw.decode("utf-8", errors="replace"))
    lines: list[str] = []
    cur: list[str] = []
    col = 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(cur).rstrip())
            cur, col = [], 0
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        elif ch == "\t":
            col = (col // 8 + 1) * 8
        elif ch < " " or ch == "\x7f":
            continue
        else:
            if col >= len(cur):
                cur.extend(" " * (col - len(cur) + 1))
            cur[col] = ch
            col += 1
    if "".join(cur).strip():
        lines.append("".join(cur).rstrip())
    return lines


@dataclass
class ScriptOutput:
    """What the user's script printed, and how it ended.

    Attributes:
        lines: console lines of the user's script (wrapper lines excluded).
        status: ``ok``, the ``${errno}`` text after a failure, or None if the wrapper
            never printed its status line.
        ended: the wrapper's ``NBS-END`` was seen.
        fetched: the wrapper's download of the user's script was seen.
    """

    lines: list[str] = field(default_factory=list)
    status: str | None = None
    ended: bool = False
    fetched: bool = False

    def text(self) -> str:
        """The lines, then ``status: ...`` (the format of the ``.console.txt`` files)."""
        if self.status is None:
            tail = "status: unknown (the wrapper never printed its status)"
        elif self.status == "ok":
            tail = "status: ok"
        else:
            tail = f"status: failed {self.status}"
        return "\n".join([*self.lines, tail]) + "\n"


def extract_output(lines: list[str], user: str = USER_SCRIPT) -> ScriptOutput:
    """Cut the user's script output out of the rendered console ``lines``.

    It starts after the wrapper's ``http://<server>/<user>... ok`` line (or, if the
    download failed, after ``NBS-SCRIPT-BEGIN``) and ends before ``NBS-SCRIPT-RC``
    (or, when that never came, at the end of the console). Blank lines at either
    end are dropped.
    """
    res = ScriptOutput()
    start = None
    for i, line in enumerate(lines):
        if start is None and line == BEGIN_MARK:
            start = i + 1
        elif start is not None and not res.fetched and re.match(
                rf"^https?://\S+/{re.escape(user)}\.\.\.", line):
            res.fetched, start = True, i + 1
        elif start is not None and line.startswith(RC_MARK + " "):
            res.status = line[len(RC_MARK) + 1:].strip()
            res.lines = lines[start:i]
        elif line.strip() == END_MARK and res.status is not None:
            res.ended = True
            break
    if res.status is None and start is not None:
        res.lines = lines[start:]
    while res.lines and not res.lines[0].strip():
        res.lines.pop(0)
    while res.lines and not res.lines[-1].strip():
        res.lines.pop()
    return res


def parse_file_specs(specs: list[str]) -> dict[str, object]:
    """``name=SIZE`` arguments → the ``files`` mapping of a lab config (sizes unparsed).

    Raises:
        ValueError: a spec is not ``name=SIZE``, a name repeats or is the script's.
    """
    files: dict[str, object] = {}
    for spec in specs:
        m = _SPEC.match(spec)
        if not m:
            raise ValueError(f"--files {spec!r}: expected name=SIZE, e.g. kernel=2MiB")
        name, size = m.groups()
        if name in files or name == USER_SCRIPT:
            raise ValueError(f"--files {spec!r}: name {name!r} is already used")
        files[name] = size
    return files


def script_config(script: str, files: dict[str, object], timeout: float) -> LabConfig:
    """The lab config of a script run: one HTTP guest, fast DHCP, the given files.

    Raises:
        InputError: bad file names or sizes.
    """
    data = {"case": "http", "guests": 1, "seed": 1, "files": files or {"dummy": "1B"},
            "dhcp": {"ping": False, "no_pxedhcp": True, "ipv6_ra": True}}
    cfg = parse_config(data, script)
    return LabConfig(**{**cfg.__dict__, "timeout": timeout})


def run_script(script: Path, out: Path, timeout: float = 60.0,
               files: dict[str, object] | None = None,
               say=lambda _text: None) -> tuple[ScriptOutput, dict]:
    """Run ``script`` in the ROM; return its output and the run record.

    Args:
        script: the user's ``#!ipxe`` script.
        out: run directory (``user.ipxe``, ``boot.ipxe``, ``console-0.raw``, ``output.txt``).
        timeout: seconds the guest may take to reach ``NBS-END``.
        files: synthetic files served next to it, name → size (``2MiB``, ...).
        say: progress lines.

    Raises:
        InputError: bad files.
        LabError: the lab could not be set up.
    """
    cfg = script_config(str(script), files or {}, timeout)
    text = script.read_text(encoding="utf-8", errors="replace")
    record = run_lab(cfg, out, say, boot=wrapper_script(cfg.server_ip),
                     extra={USER_SCRIPT: text}, markers=Markers(done=END_MARK, fail=()))
    raw = (out / "console-0.raw").read_bytes() if (out / "console-0.raw").exists() else b""
    result = extract_output(render_console(raw))
    (out / "output.txt").write_text(result.text())
    return result, record
