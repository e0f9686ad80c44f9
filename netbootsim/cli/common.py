"""What several commands share: scenario flags, printing warnings, the progress bar.

Wording lives here once, so ``run``, ``compare``, ``sweep`` and ``validate`` say the same
thing about ``--strict``, ``--force``, ``--max-memory`` and ``--set``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from .. import memguard

__all__ = ["STRICT_HELP", "FORCE_HELP", "MAX_MEMORY_HELP", "add_scenario_flags",
           "add_pool_flags", "say",
           "ProgressBar", "simulated", "max_memory"]

#: ``--strict``, as every command that loads a scenario words it.
STRICT_HELP = ("refuse the scenario's warnings too (values outside their plausible range, "
               "lint warnings of its scripts): exit 2")
#: ``--force``, as every command that writes an output directory words it.
FORCE_HELP = ("write into a directory holding files netbootsim did not write (deleting "
              "none and replacing only outputs it wrote there before)")
#: ``--max-memory``.
MAX_MEMORY_HELP = ("the memory a run may use, e.g. 8GB or 16GiB (default: what this "
                   "process may use now: the machine's available memory, or a cgroup or "
                   "address-space limit). A run estimated to need more is refused before it "
                   "starts; a run that grows past it is stopped, with nothing written")


def add_scenario_flags(p: argparse.ArgumentParser, *, force: bool = True,
                       overrides: bool = True) -> None:
    """``--set``, ``--strict``, ``--max-memory`` (and ``--force``) on a command's parser."""
    if overrides:
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                       help="override a scenario field, e.g. --set run.seed=7 (repeatable)")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    p.add_argument("--max-memory", metavar="SIZE", help=MAX_MEMORY_HELP)
    if force:
        p.add_argument("--force", action="store_true", help=FORCE_HELP)


def add_pool_flags(p: argparse.ArgumentParser) -> None:
    """``--jobs`` and ``--dask``: where a study's or a sweep's runs execute."""
    p.add_argument("--jobs", metavar="J",
                   help="processes running at once (default: the machine's cores); the "
                        "results are the same for any J")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster: a scheduler's tcp://HOST:PORT, or 'local' "
                        "for a LocalCluster of --jobs workers")


def max_memory(args: argparse.Namespace) -> float | None:
    """``--max-memory`` in bytes (``None`` when not given); bad text: InputError."""
    return memguard.parse_limit(getattr(args, "max_memory", None))


def simulated(now: float) -> str:
    """The bar's clock: ``"simulated 1.62 s"``, ``"simulated 59.3 s"``, ``"1:02:03"``.

    Hundredths below 10 s (a packet-engine run may take a minute of wall time for 3 s
    of simulated time), tenths below an hour, then hours, minutes and seconds.
    """
    if now < 10:
        return f"simulated {now:.2f} s"
    if now < 3600:
        return f"simulated {now:.1f} s"
    minutes, seconds = divmod(int(now), 60)
    return f"simulated {minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def say(line: str) -> None:
    """A scenario's warning, on stderr."""
    print(line, file=sys.stderr)


class ProgressBar:
    """``progress(done, total, now)`` as a bar: servers finished, and the simulated clock.

    The simulation calls it each time a server finishes and every few tens of thousands
    of steps (:data:`netbootsim.fleet.simulate.WATCH_EVERY`), so the simulated clock
    moves on while no server finishes: a run whose servers all finish at its end (a
    rack sharing one link, on the packet engine a minute of wall time) still shows it
    advancing. There is no time-left estimate: neither the servers finished so far nor
    the simulated time tell when a run ends (a storm finishes 1 server of 4,000, then
    the rest at once). Shown after 2 s of running, on stderr; made at the first call
    (when the total is known) and closed by :meth:`close`.
    """

    #: What the bar shows: ``quickstart: 12/40 servers finished |###   | 00:04 elapsed,
    #: simulated 3.1 s`` (tqdm's ``bar_format``; it puts ", " before the postfix).
    FORMAT = "{desc}: {n_fmt}/{total_fmt} servers finished |{bar}| {elapsed} elapsed{postfix}"

    def __init__(self, name: str, enabled: bool = True):
        self.name = name
        self.enabled = enabled
        self.bar = None
        self._next = -math.inf  # wall-clock instant (monotonic) of the next call passed on

    def __call__(self, done: int, total: int, now: float) -> None:
        """Show ``done`` of ``total`` servers finished at simulated time ``now``."""
        if not self.enabled:
            return
        # a storm calls this per server finished: hand tqdm (which redraws at most every
        # 0.5 s) one call per 0.1 s of wall time, and the last
        tick = time.monotonic()
        if tick < self._next and done < total:
            return
        self._next = tick + 0.1
        if self.bar is None:
            from tqdm import tqdm

            # miniters=0: every call may redraw (at most every 0.5 s), also one where no
            # server finished and only the simulated clock moved
            self.bar = tqdm(total=total, desc=self.name, bar_format=self.FORMAT,
                            delay=2.0, file=sys.stderr, leave=False, mininterval=0.5,
                            miniters=0)
        self.bar.n = done
        self.bar.set_postfix_str(simulated(now), refresh=False)
        self.bar.update(0)

    def close(self) -> None:
        """Close the bar, if one was shown."""
        if self.bar is not None:
            self.bar.close()
