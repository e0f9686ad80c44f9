"""What several commands share: scenario flags, printing warnings, the progress bar.

Wording lives here once, so ``run``, ``compare``, ``sweep`` and ``validate`` say the same
thing about ``--strict``, ``--force``, ``--max-memory`` and ``--set``.
"""

from __future__ import annotations

import argparse
import sys

from .. import memguard

__all__ = ["STRICT_HELP", "FORCE_HELP", "MAX_MEMORY_HELP", "add_scenario_flags", "say",
           "ProgressBar", "max_memory"]

#: ``--strict``, as every command that loads a scenario words it.
STRICT_HELP = ("refuse the scenario's warnings too (values outside their plausible range, "
               "lint warnings of its scripts): exit 2")
#: ``--force``, as every command that writes an output directory words it.
FORCE_HELP = ("write into a directory holding files netbootsim did not write (replacing "
              "same-named outputs, deleting nothing else)")
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


def max_memory(args: argparse.Namespace) -> float | None:
    """``--max-memory`` in bytes (``None`` when not given); bad text: InputError."""
    return memguard.parse_limit(getattr(args, "max_memory", None))


def say(line: str) -> None:
    """A scenario's warning, on stderr."""
    print(line, file=sys.stderr)


class ProgressBar:
    """``progress(done, total, now)`` as a tqdm bar of servers, shown after 2 s of running.

    The bar is made at the first call (that is when the total is known) and closed by
    :meth:`close`.
    """

    def __init__(self, name: str, enabled: bool = True):
        self.name = name
        self.enabled = enabled
        self.bar = None

    def __call__(self, done: int, total: int, now: float) -> None:
        """Advance the bar to ``done`` of ``total`` servers at simulated time ``now``."""
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.name, unit="server", delay=2.0,
                            file=sys.stderr, leave=False, mininterval=0.5)
        self.bar.n = done
        self.bar.set_postfix_str(f"t={now:.0f} s", refresh=False)
        self.bar.update(0)

    def close(self) -> None:
        """Close the bar, if one was shown."""
        if self.bar is not None:
            self.bar.close()
