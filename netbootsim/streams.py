"""Named random streams: every draw of a run comes from a stream named for what it draws.

A run has one integer seed (``run.seed``). Each thing that draws random numbers — a
group's firmware times, a service's response times, the loss of a link — asks
:class:`Streams` for a generator by name (``streams.rng("group", "compute",
"rom_start")``). The generator's seed is a :class:`numpy.random.SeedSequence` whose
entropy is the run seed and whose spawn key holds the replication (when there is one)
and the name, hashed to 32-bit words. So

* the same scenario and seed give the same draws, byte for byte, on any machine
  (SHA-256 of the name, not Python's salted ``hash``);
* adding a group, a fault or a service does not change any other stream's draws
  (streams do not share state, and none is drawn "in order" after another);
* replication ``r`` of a run uses the spawn key ``(r, ...)``: the streams of
  ``SeedSequence(seed).spawn(n)[r]`` (NumPy's own way of deriving independent
  children), so replications are independent and any one can be re-run alone.

Use a stream for one purpose only; draw per server (or per port, per request) from it
in a fixed order (server index, request order), never from a generator shared with
another purpose.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams", "name_key"]


def name_key(*names: str | int) -> tuple[int, ...]:
    """The spawn-key words of a stream name: one 32-bit word per part (SHA-256)."""
    out = []
    for part in names:
        digest = hashlib.sha256(str(part).encode("utf-8")).digest()
        out.append(int.from_bytes(digest[:4], "big"))
    return tuple(out)


class Streams:
    """The named random streams of one run (or one replication of it).

    Args:
        seed: the run's seed (a non-negative integer).
        replication: the replication's index (``None``: a single run).
    """

    __slots__ = ("seed", "replication", "_prefix")

    def __init__(self, seed: int, replication: int | None = None):
        if int(seed) < 0:
            raise ValueError(f"seed {seed!r}: must be >= 0")
        self.seed = int(seed)
        self.replication = replication
        self._prefix: tuple[int, ...] = () if replication is None else (int(replication),)

    def sequence(self, *names: str | int) -> np.random.SeedSequence:
        """The seed sequence of the stream ``names``."""
        return np.random.SeedSequence(self.seed, spawn_key=self._prefix + name_key(*names))

    def rng(self, *names: str | int) -> np.random.Generator:
        """A fresh generator for the stream ``names`` (PCG64)."""
        return np.random.Generator(np.random.PCG64(self.sequence(*names)))

    def replica(self, replication: int) -> Streams:
        """The streams of replication ``replication`` of the same run."""
        return Streams(self.seed, replication)

    def __repr__(self) -> str:
        rep = "" if self.replication is None else f", replication={self.replication}"
        return f"Streams(seed={self.seed}{rep})"
