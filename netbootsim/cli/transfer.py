"""``netbootsim transfer``: one transfer on one path, to check the laws by hand.

The path is a single link of ``--bandwidth`` with ``--rtt`` split evenly between
the two directions; the transfer runs through the flow engine (not just the
formula), and the law's own answer is printed beside it. ``--rtt`` has no default: a
TFTP transfer waits one round trip per block, so an unstated round trip of 0 would
flatter TFTP by exactly what sets it apart; a given ``--rtt 0`` is said in the output.
"""

from __future__ import annotations

import argparse
import json
import math

from ..errors import InputError, Problem
from ..units import UnitError, format_rate, format_size, format_time, parse_quantity

__all__ = ["add_transfer_parser", "cmd_transfer", "run_transfer"]


def add_transfer_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``transfer tftp`` and ``transfer http``."""
    p = sub.add_parser("transfer", help="one TFTP or HTTP transfer on one link, by the law")
    p.add_argument("protocol", choices=["tftp", "http"])
    p.add_argument("--size", required=True, help="payload size, e.g. 80MiB")
    p.add_argument("--bandwidth", required=True, help="link rate, e.g. 1Gbps")
    p.add_argument("--rtt", required=True,
                   help="round-trip time of a small packet, e.g. 200us (a LAN) or 5ms; "
                        "required: TFTP waits one per block, so 0 would flatter it")
    p.add_argument("--loss", default="0", help="packet loss probability per direction, 0..1")
    p.add_argument("--blksize", default="1432", help="TFTP block size (iPXE asks 1432)")
    p.add_argument("--windowsize", default="1", help="TFTP window, RFC 7440 [rfc7440] (iPXE: 1)")
    p.add_argument("--client-block-delay", default="0s", help="TFTP client time per block")
    p.add_argument("--server-block-cost", default="0s", help="TFTP server time per block")
    p.add_argument("--no-rollover", action="store_true",
                   help="TFTP client cannot wrap block numbers past 65535")
    p.add_argument("--rwnd", default="256KiB", help="TCP receive window (iPXE 2019: 256KiB)")
    p.add_argument("--init-cwnd", default="10",
                   help="TCP initial window, segments (RFC 6928 [rfc6928])")
    p.add_argument("--mss", default="1448", help="TCP payload bytes per segment")
    p.add_argument("--tcp-cc", default="cubic", choices=["cubic", "reno", "bbr"],
                   help="HTTP: the sender's congestion control (Linux's default: cubic); "
                        "matters under --loss")
    p.add_argument("--draws", default="0",
                   help="HTTP with --loss: also draw the transfer's losses this many times "
                        "(seeds --seed, --seed + 1, ...) and print their mean and 5-95 %% "
                        "range; 0: the expected-value law only")
    p.add_argument("--seed", default="0", help="first seed of --draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_transfer)


def _number(value: str, flag: str, *, integer: bool = False, lo: float = 0.0,
            hi: float = math.inf) -> float:
    try:
        x = int(value) if integer else float(value)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise InputError([Problem("command line", 0, flag, f"{value!r} is not {what}")]) from None
    if not lo <= x <= hi or (not integer and not math.isfinite(x)):
        raise InputError([Problem("command line", 0, flag, f"{value!r} must be in [{lo}, {hi}]")])
    return x


def _parse(args: argparse.Namespace) -> dict:
    problems: list[Problem] = []
    out: dict = {}
    for flag, kind in (("size", "size"), ("bandwidth", "rate"), ("rtt", "time"),
                       ("client_block_delay", "time"), ("server_block_cost", "time"),
                       ("rwnd", "size")):
        try:
            out[flag] = parse_quantity(getattr(args, flag), kind)
            if out[flag] < 0:
                raise UnitError(f"{getattr(args, flag)!r} must not be negative")
        except UnitError as e:
            problems.append(Problem("command line", 0, "--" + flag.replace("_", "-"), str(e)))
    numeric = (("loss", False, 0.0, 0.999999), ("blksize", True, 8, 65464),
               ("windowsize", True, 1, 65535), ("init_cwnd", True, 1, 10**6),
               ("mss", True, 1, 65495), ("draws", True, 0, 100_000),
               ("seed", True, 0, 2**63 - 1))
    for flag, integer, lo, hi in numeric:
        try:
            out[flag] = _number(getattr(args, flag), "--" + flag.replace("_", "-"),
                                integer=integer, lo=lo, hi=hi)
        except InputError as e:
            problems.extend(e.problems)
    if "bandwidth" in out and out["bandwidth"] <= 0:
        problems.append(Problem("command line", 0, "--bandwidth", "must be > 0"))
    if problems:
        raise InputError(problems)
    return out


def run_transfer(protocol: str, v: dict, no_rollover: bool = False, cc: str = "cubic"
                 ) -> dict:
    """Run one transfer through the flow engine; return the result as a flat dict.

    HTTP with loss and ``v["draws"]`` > 0: also the drawn law's mean and 5-95 % range
    over that many transfers (seeds ``v["seed"]`` on), each alone on the link.
    """
    import simpy  # here, not at the top: --help stays fast

    from ..net import FlowEngine, Resource
    from ..net.transfer import transfer
    from ..protocols import TcpParams, TftpParams, http_plan, tftp_plan

    env = simpy.Environment()
    engine = FlowEngine(env)
    link = Resource("link", v["bandwidth"])
    rtt, loss = v["rtt"], v["loss"]
    out: dict = {"protocol": protocol, "bytes": v["size"], "bandwidth_bps": v["bandwidth"] * 8,
                 "rtt_s": rtt, "loss": loss}
    if protocol == "tftp":
        params = TftpParams(blksize=int(v["blksize"]), windowsize=int(v["windowsize"]),
                            client_block_delay=v["client_block_delay"],
                            server_block_cost=v["server_block_cost"], rollover=not no_rollover)
        plan = tftp_plan(v["size"], params, rtt, (v["bandwidth"],), loss, loss)
        out.update(blocks=plan.blocks, windows=plan.windows, wire_bytes=plan.wire_bytes,
                   law_seconds=plan.seconds, retry_timeout_s=plan.retry_timeout,
                   fail_probability=plan.fail_probability, lockstep_rate_Bps=plan.rate)
    else:
        params = TcpParams(mss=int(v["mss"]), init_cwnd=int(v["init_cwnd"]), rwnd=v["rwnd"])
        plan = http_plan(v["size"], params, rtt, v["bandwidth"], loss, cc=cc)
        out.update(wire_bytes=plan.wire_bytes, law_seconds=plan.seconds,
                   slow_start_rounds=len(plan.schedule),
                   steady_bound_Bps=plan.schedule[-1][1] if plan.schedule else plan.bound,
                   tcp_cc=cc)
        draws = int(v.get("draws", 0))
        if draws and loss > 0 and rtt > 0:
            import numpy as np

            first = int(v.get("seed", 0))
            got = np.array([http_plan(v["size"], params, rtt, v["bandwidth"], loss, cc=cc,
                                      rng=np.random.default_rng(first + i)).seconds
                            for i in range(draws)])
            out.update(draws=draws, drawn_mean_s=float(got.mean()),
                       drawn_p5_s=float(np.percentile(got, 5)),
                       drawn_p95_s=float(np.percentile(got, 95)))
    box = {}

    def proc():
        box["r"] = yield from transfer(env, engine, [link], plan, protocol)

    env.process(proc())
    env.run()
    result = box["r"]
    out["seconds"] = result.seconds
    out["outcome"] = result.outcome
    out["reason"] = result.reason
    out["goodput_bps"] = (result.bytes * 8 / result.seconds
                          if result.seconds > 0 and result.outcome == "ok" else 0.0)
    return out


def cmd_transfer(args: argparse.Namespace) -> int:
    """Handle ``netbootsim transfer``."""
    v = _parse(args)
    out = run_transfer(args.protocol, v, args.no_rollover, args.tcp_cc)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        line = (f"{args.protocol}: {format_size(out['bytes'])} over {format_rate(v['bandwidth'])}"
                f" at RTT {format_time(v['rtt'])}: {out['seconds']:.6g} s"
                f" ({format_rate(out['goodput_bps'] / 8)} goodput)")
        if out["outcome"] != "ok":
            line += f" — FAILED: {out['reason']}"
        print(line)
        if "drawn_mean_s" in out:
            print(f"drawn losses ({out['draws']} transfers, {args.tcp_cc}): mean "
                  f"{out['drawn_mean_s']:.4g} s, 5-95 % {out['drawn_p5_s']:.4g}-"
                  f"{out['drawn_p95_s']:.4g} s (the line above: the expected-value law)")
        if v["rtt"] == 0:
            waits = (f"TFTP waits one round trip per {int(v['blksize'])}-byte block "
                     f"({out['blocks']:,} here)" if args.protocol == "tftp" else
                     "HTTP waits one round trip per TCP window")
            print(f"note: at RTT 0 no round trip is counted, so this is a lower bound: "
                  f"{waits}; give the path's real --rtt (e.g. 200us on a LAN)")
    return 0
