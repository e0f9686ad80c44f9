"""``netbootsim run``: scenario in, commissioning report out.

Loads and validates each scenario (every problem reported at once, exit 2, nothing
written), boots its fleet, and writes ``servers.csv``, ``phases.csv``,
``timeline.csv``, ``summary.json``, ``report.md`` and ``report.html`` into the
scenario's output directory (``run.out``, else ``results/<scenario stem>``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from .dhcp import DNSMASQ_PING
from .errors import InputError, Problem
from .fleet import DNSMASQ_TFTP_RETRANSMIT, DhcpSpec, Group, Service, simulate
from .profiles import get_profile
from .runner import summarize, write_outputs
from .services import APACHE_KEEPALIVE

__all__ = ["add_run_parser", "cmd_run", "run_scenario"]

#: How long each HTTP server model keeps an idle keep-alive connection: Apache
#: KeepAliveTimeout 5 s, nginx keepalive_timeout 75 s (both documented defaults).
KEEPALIVE = {"apache-prefork": APACHE_KEEPALIVE, "nginx": 75.0}

#: What the transfer-phase fleet leaves out today; every report lists it.
SCOPE_NOTES = [
    "Servers power on, start their firmware (a calibrated profile's ROM start), run "
    "iPXE's dhcp when the scenario has a DHCP service, and fetch their boot files; TFTP "
    "session caps (RRQ retries on iPXE's timer, orphan transfers at dnsmasq's tftp-max) "
    "and HTTP worker caps (keep-alive holds a worker 5 s after the last response, then "
    "backlog, then dropped SYNs) are modelled; scripts and the OS install are not yet "
    "(fleet issue).",
    "Flow-level model: lock-step TFTP and window-limited TCP share links max-min fairly; "
    "queueing and RTT-unfairness are not modelled (packet engine, later issue).",
]


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="simulate scenarios and write their reports")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    p.add_argument("--out", help="output directory (only with one scenario)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                   help="override a scenario field, e.g. --set run.seed=7 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="print only the report paths")
    p.set_defaults(func=cmd_run)


def _groups(built) -> tuple[list[Group], list[Problem]]:
    """Fleet groups from a built scenario; problems the transfer phase cannot run."""
    sc = built.scenario
    origin = sc.origin
    problems: list[Problem] = []
    groups = []
    for i, g in enumerate(sc.fleet):
        svc = built.services[g.server]
        if svc.kind not in ("tftp", "http"):
            problems.append(origin.problem(("fleet", i, "server"),
                                           f"service {g.server!r} is {svc.kind}; boot files "
                                           "come from a tftp or http service"))
            continue
        service = Service(g.server, svc.kind, svc.host,
                          block_cost=getattr(svc, "block_cost", 0.0) or 0.0,
                          disk_rate=getattr(svc, "disk_rate", None) or math.inf,
                          retransmit=(DNSMASQ_TFTP_RETRANSMIT
                                      if getattr(svc, "model", "") == "dnsmasq" else None),
                          max_sessions=getattr(svc, "max_sessions", None),
                          workers=getattr(svc, "workers", None),
                          keepalive=KEEPALIVE.get(getattr(svc, "model", ""), APACHE_KEEPALIVE))
        images = tuple((name, built.images[name].size) for name in g.images)
        groups.append(Group(g.name, g.boot, get_profile(g.profile), images, service,
                            power_on_at=g.power_on.at,
                            per_second=g.power_on.per_second or math.inf,
                            dhcp=_dhcp_spec(built)))
    if sc.faults:
        problems.append(origin.problem(("faults",), "faults are not simulated yet (fleet "
                                       "issue); remove them or run with --set faults=[]"))
    if sc.run.engine != "flow":
        problems.append(origin.problem(("run", "engine"),
                                       f"engine {sc.run.engine!r} is not built yet; use 'flow'"))
    return groups, problems


def _dhcp_spec(built) -> DhcpSpec | None:
    """The scenario's DHCP service (the first by name when there are several)."""
    for name, svc in sorted(built.services.items()):
        if svc.kind == "dhcp":
            return DhcpSpec(name, svc.host, service_time=svc.service_time,
                            ping=DNSMASQ_PING if svc.ping else 0.0,
                            no_pxedhcp=svc.no_pxedhcp, ipv6_ra=svc.ipv6_ra)
    return None


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
                 quiet: bool = True) -> Path:
    """Load, simulate and write one scenario; return the output directory."""
    from .scenario import build, load_scenario

    built = build(load_scenario(path, overrides=overrides))
    groups, problems = _groups(built)
    if problems:
        raise InputError(problems)
    sc = built.scenario
    notes = list(SCOPE_NOTES)
    for prof in sorted({g.profile.name: g.profile for g in groups}.values(),
                       key=lambda p: p.name):
        if not prof.calibrated:
            notes.append(f"Firmware profile {prof.name!r} is not calibrated: its measured "
                         "values (per-block TFTP delay, TCP client latency, ROM start) are "
                         "left at 0; only ipxe-2019-qemu is fitted to lab boots so far.")
    if any(g.dhcp is not None for g in groups):
        notes.append("DHCP: iPXE's DISCOVER schedule, ProxyDHCP wait, dnsmasq's ping check "
                     "and the IPv6 wait are modelled (lab-timed); the legacy PXE ROM's DHCP, "
                     "relays and packet loss are not yet.")
    t0 = time.perf_counter()
    run = simulate(built.topology, groups, built.servers, name=sc.name, seed=built.seed,
                   full_recompute=built.run.full_recompute, until=built.run.until)
    wall = time.perf_counter() - t0
    summary, servers, phases, timeline = summarize(
        run, scenario=sc.name, question=question_of(path), seed=built.seed,
        mode="full-recompute" if built.run.full_recompute else "incremental", notes=notes)
    target = Path(out or built.run.out or Path("results") / sc.name)
    write_outputs(target, summary, servers, phases, timeline)
    if not quiet:
        print(f"{sc.name}: {summary['completed']}/{summary['servers']} servers ready, "
              f"makespan {_secs(summary['makespan'])}, p95 {_secs(summary['p95'])} "
              f"({wall:.2f} s wall, {run.events} engine events)", file=sys.stderr)
    return target


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} s"


def cmd_run(args: argparse.Namespace) -> int:
    """Handle ``netbootsim run``."""
    if args.out and len(args.scenarios) > 1:
        raise InputError.single("command line", 0, "--out", "use --out with one scenario only")
    for path in args.scenarios:
        target = run_scenario(path, args.overrides, args.out, quiet=args.quiet)
        print(f"report: {target / 'report.html'}")
    return 0
