r"""Guest serial consoles: bytes from QEMU's stdout into timestamped text fragments.

iPXE ends lines with ``\r\n``, and the 2019 snapshot redraws its download progress
with backspaces (``" 20%\b\b\b\b    \b\b\b\b 38%"``, seen on this machine), other
builds with ``\r``. So the byte stream is split on ``\r``, ``\n`` and ``\b``; every
fragment that is not blank is kept with the host time (seconds since the run start,
``time.monotonic()``) at which its **first byte** was read. A fragment therefore
ends at the time of the next one: ``tftp://.../initrd...`` is stamped when the
download starts, `` 38%`` when 38 % were reached, `` ok`` when it finished. ANSI
escape sequences (colours, screen clears) are removed from the text.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import IO

__all__ = ["ConsoleSplitter", "ConsoleReader"]

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_SEP = re.compile(rb"[\r\n\b]")


class ConsoleSplitter:
    r"""Incremental splitter: feed byte chunks with their arrival time, get fragments.

    Example:
        >>> s = ConsoleSplitter()
        >>> s.feed(b"a 1%\ra 2", 0.5)
        [(0.5, 'a 1%')]
        >>> s.feed(b"%\r\nok\n", 0.75)
        [(0.5, 'a 2%'), (0.75, 'ok')]
    """

    def __init__(self) -> None:
        self._buf = b""
        self._t: float | None = None

    def feed(self, data: bytes, t: float) -> list[tuple[float, str]]:
        """Add ``data`` read at time ``t``; return the fragments it completed."""
        out: list[tuple[float, str]] = []
        pos = 0
        for m in _SEP.finditer(data):
            piece = data[pos:m.start()]
            if piece and self._t is None:
                self._t = t
            self._buf += piece
            self._emit(out)
            pos = m.end()
        rest = data[pos:]
        if rest:
            if self._t is None:
                self._t = t
            self._buf += rest
        return out

    def flush(self) -> list[tuple[float, str]]:
        """Return the unterminated tail, if any (at end of stream)."""
        out: list[tuple[float, str]] = []
        self._emit(out)
        return out

    def _emit(self, out: list[tuple[float, str]]) -> None:
        if self._buf:
            text = _clean(self._buf)
            if text.strip():
                out.append((self._t if self._t is not None else 0.0, text))
        self._buf = b""
        self._t = None


def _clean(raw: bytes) -> str:
    return _ANSI.sub("", raw.decode("utf-8", errors="replace")).replace("\x1b", "")


class ConsoleReader(threading.Thread):
    r"""Thread reading one guest's console, writing ``<seconds>\t<text>`` lines to a log.

    Args:
        stream: QEMU's stdout (binary, unbuffered pipe).
        log_path: the ``console-<guest>.log`` to write.
        t0: ``time.monotonic()`` of the run start.
        on_line: called with ``(t, text)`` for every fragment, from this thread.
        raw_path: also write the console bytes unchanged here (None: don't).
    """

    def __init__(self, stream: IO[bytes], log_path: os.PathLike | str, t0: float,
                 on_line: Callable[[float, str], None],
                 raw_path: os.PathLike | str | None = None):
        super().__init__(daemon=True, name=f"console-{log_path}")
        self._fd = stream.fileno()
        self._log_path = log_path
        self._t0 = t0
        self._on_line = on_line
        self._raw_path = raw_path
        self.lines: list[tuple[float, str]] = []

    def run(self) -> None:  # noqa: D102 - threading API
        splitter = ConsoleSplitter()
        raw = open(self._raw_path, "wb") if self._raw_path is not None else None  # noqa: SIM115
        with open(self._log_path, "w", encoding="utf-8") as log:
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except OSError:
                    data = b""
                if raw is not None:
                    raw.write(data)
                    raw.flush()
                    if not data:
                        raw.close()
                t = time.monotonic() - self._t0
                frags = splitter.feed(data, t) if data else splitter.flush()
                for ft, text in frags:
                    self.lines.append((ft, text))
                    log.write(f"{ft:.6f}\t{text}\n")
                    self._on_line(ft, text)
                log.flush()
                if not data:
                    return
