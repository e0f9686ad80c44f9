"""What a command costs before it does anything: wall time of short commands, imports.

Every ``netbootsim`` command builds the whole argument parser; the command modules import
the libraries their work needs (pandas, matplotlib, scipy, jinja2, networkx, pydantic...)
inside the command, so ``--help`` and a usage error pay for none of them. This script
runs each command below as a new process (``python -m netbootsim ...``, the way the
``netbootsim`` script starts) and keeps the best wall time of ``--repeat``, beside two
references measured in the same run:

- ``python -c pass``: the interpreter's own start-up;
- ``import everything``: importing the modules every command paid for when the command
  modules imported their work at the top (the pipeline, compare, sweep, bench, the
  engine cross-validation, the lab's calibration).

For ``--help`` it also sums ``python -X importtime``'s self times (all imports).

Usage (the table of docs/performance.md, "Start-up")::

    python benchmarks/startup.py --repeat 5

Prints one JSON object and the Markdown rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _measure import machine

ROOT = Path(__file__).resolve().parent.parent

#: ``(label, argv after python)``, in the order of the table.
COMMANDS = [
    ("python -c pass (reference)", ["-c", "pass"]),
    ("import everything (reference)", ["-c", "import netbootsim.plan.run, "
                                       "netbootsim.plan.compare, netbootsim.plan.sweep, "
                                       "netbootsim.plan.bench, netbootsim.plan.validate_engines, "
                                       "netbootsim.lab.calibrate, netbootsim.lab.runner"]),
    ("netbootsim --help", ["-m", "netbootsim", "--help"]),
    ("netbootsim run (usage error)", ["-m", "netbootsim", "run"]),
    ("netbootsim models", ["-m", "netbootsim", "models"]),
    ("netbootsim transfer tftp ...", ["-m", "netbootsim", "transfer", "tftp", "--size", "80MiB",
                                      "--bandwidth", "1Gbps", "--rtt", "200us"]),
    ("netbootsim validate scenarios/quickstart.yaml",
     ["-m", "netbootsim", "validate", "scenarios/quickstart.yaml"]),
]


def wall(argv: list[str], repeat: int) -> float:
    """Best wall time (s) of ``repeat`` runs of ``python ARGV`` in the repository."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - t)
    return best


def import_self_total(argv: list[str]) -> tuple[float, int]:
    """``(seconds, modules)``: the sum of ``-X importtime`` self times, and how many."""
    r = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT,
                       capture_output=True, text=True, check=False)
    total, count = 0, 0
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            head = line.split("|")[0].split(":", 1)[1].strip()
            if head.isdigit():
                total += int(head)
                count += 1
    return total / 1e6, count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    env_path = os.environ.get("PYTHONPATH", "")
    rows = [{"command": label, "best_wall_s": wall(argv, args.repeat)}
            for label, argv in COMMANDS]
    seconds, modules = import_self_total(["-m", "netbootsim", "--help"])
    result = {"machine": machine(), "repeat": args.repeat, "pythonpath": env_path,
              "rows": rows, "help_imports_s": seconds, "help_modules": modules}
    print(json.dumps(result, indent=1))
    ref = rows[0]["best_wall_s"]
    for r in rows:
        print(f"| {r['command']} | {r['best_wall_s']:.3f} s | "
              f"{r['best_wall_s'] / ref:.1f}× |")
    print(f"--help imports: {seconds:.3f} s over {modules} modules (-X importtime self times)")


if __name__ == "__main__":
    main()
