"""``netbootsim run``: scenario in, commissioning report out.

Loads and validates each scenario (every problem reported at once, exit 2, nothing
written), boots its fleet, and writes ``servers.csv``, ``phases.csv``,
``timeline.csv``, ``summary.json``, ``report.md`` and ``report.html`` into the
scenario's output directory (``run.out``, else ``results/<scenario stem>``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from .. import memguard
from ..errors import InputError
from .assemble import engine_mode, run_built, scope_notes
from .outdir import OutputDir
from .summary import summarize, write_outputs

__all__ = ["add_run_parser", "cmd_run", "run_scenario", "execute", "question_of",
           "STRICT_HELP"]

#: ``--strict``, as every command that loads a scenario words it.
STRICT_HELP = ("refuse the scenario's warnings too (values outside their plausible range, "
               "lint warnings of its scripts): exit 2")


class _progress_bar:
    """A progress bar of servers finished, shown only for runs longer than 2 s (tqdm)."""

    def __init__(self, total: int, name: str):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=name, unit="server", delay=2.0, file=sys.stderr,
                        leave=False, mininterval=0.5)

    def step(self, done: int, total: int, now: float) -> None:
        self.bar.n = done
        self.bar.set_postfix_str(f"t={now:.0f} s", refresh=False)
        self.bar.update(0)

    def close(self) -> None:
        self.bar.close()

def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="simulate scenarios and write their reports")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    p.add_argument("--out", help="output directory (only with one scenario)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                   help="override a scenario field, e.g. --set run.seed=7 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="print only the report paths")
    p.add_argument("--force", action="store_true",
                   help="write into an output directory that holds files netbootsim did not "
                        "write (replacing same-named outputs, deleting nothing else)")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    memguard.add_max_memory_flag(p)
    p.set_defaults(func=cmd_run)


def question_of(path: str) -> str:
    """The question a scenario answers: its opening comment block, ``#`` stripped."""
    lines = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                lines.append(line[1:].strip())
    except OSError:
        return ""
    text = " ".join(x for x in lines if x)
    return text.removeprefix("Question:").strip()


def run_scenario(path: str, overrides: list[str], out: str | None = None,
                 quiet: bool = True, name: str | None = None, *, force: bool = False,
                 strict: bool = False, max_memory: float | None = None,
                 only: frozenset[str] | None = None) -> Path:
    """Load, simulate and write one scenario; return the output directory.

    ``name`` names the run (default: the file's stem): a variant's name. ``force``
    writes into a directory holding files netbootsim did not write (deleting none);
    ``only`` limits the files written (see :func:`~netbootsim.plan.summary.write_outputs`);
    ``strict`` refuses a scenario with warnings; ``max_memory`` (bytes) is the memory
    limit (:mod:`netbootsim.memguard`; ``None``: what the process may use).
    """
    return execute(path, overrides, out, quiet=quiet, name=name, force=force, strict=strict,
                   max_memory=max_memory, only=only)[0]


def execute(path: str, overrides: list[str], out: str | None = None, *, quiet: bool = True,
            name: str | None = None, force: bool = False, strict: bool = False,
            max_memory: float | None = None,
            only: frozenset[str] | None = None) -> tuple[Path, dict, pd.DataFrame]:
    """:func:`run_scenario`, returning ``(output directory, summary, servers frame)``."""
    from ..cli.validate import print_warnings
    from ..scenario import build, load_scenario

    built = build(load_scenario(path, overrides=overrides, name=name, strict=strict,
                                max_memory=max_memory))
    sc = built.scenario
    print_warnings(sc)  # as `netbootsim validate` prints them
    target = Path(out or built.run.out or Path("results") / sc.name)
    with OutputDir(target, "run", force=force, flag="--out" if out else "run.out") as od:
        bar = None if quiet else _progress_bar(len(built.servers), sc.name)
        try:
            run, inputs, wall = run_built(built, progress=bar and bar.step,
                                          watch=memguard.Watch(max_memory, path))
        finally:
            if bar is not None:
                bar.close()
        summary, servers, phases, timeline = summarize(
            run, scenario=sc.name, question=question_of(path), seed=built.seed,
            mode=engine_mode(built.run),
            notes=scope_notes(inputs), warnings=[str(w) for w in sc.warnings])
        tmp = od.staging()
        try:
            write_outputs(tmp, summary, servers, phases, timeline, only=only)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    if not quiet:
        print(f"{sc.name}: {summary['completed']}/{summary['servers']} servers ready, "
              f"makespan {_secs(summary['makespan'])}, p95 {_secs(summary['p95'])} "
              f"({wall:.2f} s wall, "
              + (f"{run.packets:,} packet hops)" if run.packets else
                 f"{run.events} engine events)"), file=sys.stderr)
    return target, summary, servers


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} s"


def cmd_run(args: argparse.Namespace) -> int:
    """Handle ``netbootsim run``."""
    if args.out and len(args.scenarios) > 1:
        raise InputError.single("command line", 0, "--out", "use --out with one scenario only")
    limit = memguard.parse_limit(args.max_memory)
    for path in args.scenarios:
        target = run_scenario(path, args.overrides, args.out, quiet=args.quiet,
                              force=args.force, strict=args.strict, max_memory=limit)
        print(f"report: {target / 'report.html'}")
    return 0
