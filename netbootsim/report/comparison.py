"""What a comparison page says: runs side by side, as plain data for the templates.

:func:`build_compare_context` turns finished runs (each one's summary and frames) into
the dict ``COMPARE_MARKDOWN`` and ``COMPARE_HTML`` render:

- **the answer** in one sentence (which run readies its servers soonest, by how much,
  and what held the slowest back; or which ones lose servers, and why);
- **the shared question** stated once: the words every run's question shares, with
  what differs between them shown beside each run ("what differs");
- **one table** of headline numbers (intervals when a run was replicated), each
  makespan as a ratio to the first run's, the deadline's share when a run has one, and
  **what held each run back**: its most saturated resource or, when none saturated,
  the phase its servers spent longest in and its mechanism (``TFTP lock-step: 5.0 ms ×
  46,862 blocks``);
- **the failure reasons** of every run, with when they struck;
- **time by phase** in boot order (the DHCP exchange marked as part of ``dhcp``).

Every number comes from the runs' own summaries and frames.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import pandas as pd

from . import fmt
from .content import (
    MAX_FAILURE_ROWS,
    cost_rows,
    held_back,
    interval,
    not_ready,
    phase_order,
    replicated,
)
from .spread import NESTED_PREFIXES, failure_times, nested_in, replication_count

__all__ = ["Run", "CONTRAST_WORDS", "shared_question", "contrast", "answer",
           "build_compare_context"]


@dataclass
class Run:
    """One finished run of a comparison.

    Attributes:
        name: the run's name (a variant's, or the scenario file's stem).
        summary: its ``summary.json``.
        servers: its ``servers.csv`` (a ``replication`` column when replicated).
        phases: its ``phases.csv``.
        report: its own report, relative to the comparison page (``name/report.html``).
    """

    name: str
    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    report: str = ""
    fleet: int = field(init=False)

    def __post_init__(self) -> None:
        n = int(self.summary.get("servers") or len(self.servers))
        self.fleet = n // max(1, replication_count(self.servers))

    @property
    def all_ready(self) -> bool:
        """Every server of every replication got ready."""
        return bool(self.summary.get("servers")) and \
            int(self.summary.get("completed") or 0) == int(self.summary.get("servers") or 0)

    @property
    def makespan(self) -> float | None:
        """The makespan compared: the replications' mean when replicated."""
        iv = interval(self.summary, "makespan")
        return iv[0] if iv else fmt.number(self.summary.get("makespan"))

    @property
    def ready_share(self) -> float:
        """Share of its servers (server-runs) that got ready."""
        n = int(self.summary.get("servers") or 0)
        return int(self.summary.get("completed") or 0) / n if n else 0.0


def _words(text: str) -> list[str]:
    return text.split()


def shared_question(questions: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """The question the runs share, stated once, and what differs per run.

    The words every question starts with and ends with are shared; what lies between
    is the run's own. When the shared words are fewer than half of the shortest
    question, there is no shared question: each run keeps its own (``("", {run:
    question})``). The shared text marks the varying part with ``…``.

    Returns:
        ``(shared, {run: what differs})``; ``{}`` when every question is the same.
    """
    texts = [(n, " ".join(_words(q))) for n, q in questions]
    if len({q for _, q in texts}) <= 1:
        return (texts[0][1] if texts else ""), {}
    if any(not q for _, q in texts):
        return "", {n: q for n, q in texts if q}
    words = [_words(q) for _, q in texts]
    shortest = min(len(w) for w in words)
    pre = 0
    while pre < shortest and all(w[pre] == words[0][pre] for w in words):
        pre += 1
    post = 0
    while post < shortest - pre and all(w[-1 - post] == words[0][-1 - post] for w in words):
        post += 1
    if pre + post < shortest / 2:
        return "", dict(texts)
    head = " ".join(words[0][:pre])
    tail = " ".join(words[0][len(words[0]) - post:]) if post else ""
    shared = " ".join(x for x in (head, "…", tail) if x)
    return shared, {n: " ".join(w[pre:len(w) - post]) for (n, _), w in
                    zip(texts, words, strict=True)}


#: Most words a run's "what differs" may change against another's for the answer to
#: contrast the two ("HTTP instead of TFTP").
CONTRAST_WORDS = 3


def contrast(a: str, b: str) -> tuple[str, str] | None:
    """The words ``a`` has where ``b`` has others, when that is all that differs.

    ``contrast("HTTP, behind 20 ms", "TFTP, behind 20 ms")`` is ``("HTTP", "TFTP")``
    (punctuation kept off the words). ``None`` when more than :data:`CONTRAST_WORDS`
    words differ on either side, or nothing does.
    """
    wa, wb = [w.strip(",.;:") for w in a.split()], [w.strip(",.;:") for w in b.split()]
    ops = [op for op in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes()
           if op[0] != "equal"]
    if not ops:
        return None
    mine = [w for _, i1, i2, _, _ in ops for w in wa[i1:i2]]
    theirs = [w for _, _, _, j1, j2 in ops for w in wb[j1:j2]]
    if not mine or not theirs or max(len(mine), len(theirs)) > CONTRAST_WORDS:
        return None
    return " ".join(mine), " ".join(theirs)


def answer(runs: list[Run], differs: dict[str, str] | None = None) -> str:
    """The comparison's answer in one sentence.

    When every run readies every server: the slowest run (by makespan, replications'
    means) against the run whose "what differs" (``differs``) changes fewest of its words
    (at most :data:`CONTRAST_WORDS`; "HTTP instead of TFTP"), the fastest of those, else
    against the fastest run; and what held the slowest back. Otherwise the run that readies most
    against the one that readies least, with the latter's commonest failure reason.
    """
    if len(runs) < 2:
        return ""
    differs = differs or {}
    if all(r.all_ready for r in runs):
        timed = [r for r in runs if r.makespan is not None]
        if len(timed) < 2:
            return ""
        fast = min(timed, key=lambda r: (r.makespan, timed.index(r)))
        slow = max(timed, key=lambda r: (r.makespan, -timed.index(r)))
        near = [(c, r) for r in timed if r is not slow and r.makespan < slow.makespan / 1.05
                and (c := contrast(differs.get(r.name, ""), differs.get(slow.name, "")))]
        how = ""
        if near:
            # the fewest words changed, then the fastest
            (mine, theirs), fast = min(near, key=lambda cr: (
                max(len(cr[0][0].split()), len(cr[0][1].split())), cr[1].makespan,
                timed.index(cr[1])))
            how = f"{mine} instead of {theirs}; "
        ratio = slow.makespan / fast.makespan if fast.makespan else math.inf
        what = (f"the {fmt.count(fast.fleet)} servers" if fast.fleet == slow.fleet
                else f"its {fmt.count(fast.fleet)} servers")
        if ratio < 1.05:
            return (f"Every run readies all its servers, within {fmt.percent(ratio - 1)} of "
                    f"each other: {fmt.duration(fast.makespan)} ({fast.name}) to "
                    f"{fmt.duration(slow.makespan)} ({slow.name}).")
        return (f"{fast.name} readies {what} {_times(ratio)} sooner than {slow.name} "
                f"({how}{fmt.duration(fast.makespan)} against "
                f"{fmt.duration(slow.makespan)}): {slow.name} is held back by "
                f"{held_back(slow.summary, slow.phases)}.")
    best = max(runs, key=lambda r: (r.ready_share, -(r.makespan or math.inf), -runs.index(r)))
    worst = min(runs, key=lambda r: (r.ready_share, -(r.makespan or 0.0), runs.index(r)))
    reasons = sorted((worst.summary.get("failures") or {}).items(),
                     key=lambda kv: (-int(kv[1]), str(kv[0])))
    sw = worst.summary
    n, done = int(sw.get("servers") or 0), int(sw.get("completed") or 0)
    reps = replication_count(worst.servers)
    unit = "server-runs" if reps > 1 else "servers"
    lost = n - done
    k = int(reasons[0][1]) if reasons else lost
    who = f"{fmt.count(k)} {unit[:-1] if k == 1 else unit}"
    why = (f": {who} {'fails' if k == 1 else 'fail'} with \"{reasons[0][0]}\"" if reasons
           else f": {who} still booting when the run stopped" if lost else "")
    if best.all_ready:
        first = (f"{best.name} readies all {fmt.count(best.fleet)} servers in "
                 f"{fmt.duration(best.makespan)}")
    else:
        first = (f"No run readies every server; {best.name} readies the most, "
                 f"{fmt.percent(best.ready_share)}")
    if not done:
        got = f"none of its {fmt.count(worst.fleet)} servers"
    elif reps > 1:
        got = (f"only {fmt.percent(worst.ready_share)} of its {fmt.count(worst.fleet)} "
               f"servers ({fmt.count(done)} of {fmt.count(n)} server-runs over {reps} "
               f"replications)")
    else:
        got = f"only {fmt.count(done)} ({fmt.percent(worst.ready_share)}) of its {fmt.count(n)}"
    return f"{first}; {worst.name} readies {got}{why}."


def _times(r: float) -> str:
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def _cell_dur(run: Run, key: str) -> str:
    iv = interval(run.summary, key)
    return fmt.duration_interval(*iv) if iv else fmt.duration(run.summary.get(key))


def _ready_cell(run: Run) -> str:
    s = run.summary
    text = f"{fmt.count(s.get('completed'))}/{fmt.count(s.get('servers'))}"
    reps = replication_count(run.servers)
    if reps > 1:
        text += f" ({reps} replications)"
    return text


def _deadline_cell(run: Run) -> str:
    s = run.summary
    d = fmt.number(s.get("deadline"))
    if d is None:
        return fmt.DASH
    iv = interval(s, "ready_fraction_by_deadline")
    share = fmt.percent_interval(*iv) if iv else fmt.percent(s.get("ready_fraction_by_deadline"))
    return f"{share} by {fmt.duration(d)}"


def _phase_rows(runs: list[Run]) -> list[dict]:
    """Mean seconds per server in each phase, phases in boot order across all runs."""
    frames = []
    for i, r in enumerate(runs):
        if len(r.phases):
            ph = r.phases[["server", "phase", "start", "end"]].copy()
            rep = r.phases["replication"] if "replication" in r.phases.columns else 0
            ph["server"] = f"{i}/" + ph["server"].astype(str) + "/" + pd.Series(
                rep, index=ph.index).astype(str)
            frames.append(ph)
    every = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["server", "phase", "start", "end"])
    order = phase_order(every)
    means = []
    for r in runs:
        ph = r.phases
        n = max(1, int(r.summary.get("servers") or len(r.servers)))
        means.append(ph.groupby("phase")["seconds"].sum() / n if len(ph) else pd.Series(
            dtype=float))
    rows = []
    for p in order:
        vals = [float(m.get(p, math.nan)) for m in means]
        if all(not (v > 0) for v in vals):
            continue  # instants (power-on, boot) and phases no run has
        nested = p.startswith(NESTED_PREFIXES)
        label = f"{p} (part of {nested_in(p)})" if nested else p
        rows.append({"phase": label, "nested": nested_in(p) if nested else None,
                     "cells": [fmt.duration(v) if not math.isnan(v) else fmt.DASH
                               for v in vals]})
    # a nested phase right after the phase it lies in (the DHCP exchange after dhcp)
    out = [r for r in rows if not r["nested"]]
    for r in (r for r in rows if r["nested"]):
        at = next((i + 1 for i, o in enumerate(out) if o["phase"] == r["nested"]), len(out))
        while at < len(out) and out[at]["nested"] == r["nested"]:
            at += 1  # after the ones already placed there
        out.insert(at, r)
    return out


def _failure_rows(runs: list[Run]) -> list[dict]:
    """Each run's failure reasons, most servers first, at most MAX_FAILURE_ROWS a run.

    Then one row counts the rest (with those its ``summary.json`` left out itself).
    """
    rows = []
    for r in runs:
        fails = failure_times(r.servers, r.phases)
        when = fails.groupby("reason", sort=False)["time"].agg(["min", "max"]) if len(fails) \
            else pd.DataFrame(columns=["min", "max"])
        n = int(r.summary.get("servers") or 0)
        items = sorted((r.summary.get("failures") or {}).items(),
                       key=lambda kv: (-int(kv[1]), str(kv[0])))
        cut = ((r.summary.get("not_listed") or {}).get("failures") or {})
        more = len(items[MAX_FAILURE_ROWS:]) + int(cut.get("more", 0))
        more_servers = sum(int(c) for _, c in items[MAX_FAILURE_ROWS:]) + \
            int(cut.get("servers", 0))
        for reason, count in items[:MAX_FAILURE_ROWS]:
            first, last = ((when.loc[reason, "min"], when.loc[reason, "max"])
                           if reason in when.index else (None, None))
            rows.append({"run": r.name, "reason": str(reason), "servers": fmt.count(count),
                         "share": fmt.percent(int(count) / n) if n else fmt.DASH,
                         "when": (fmt.duration(first) if first == last else
                                  f"{fmt.duration(first)} – {fmt.duration(last)}")})
        if more:
            rows.append({"run": r.name, "reason": f"… and {fmt.count(more)} more reasons",
                         "servers": fmt.count(more_servers),
                         "share": fmt.percent(more_servers / n) if n else fmt.DASH,
                         "when": fmt.DASH})
    return rows


def build_compare_context(runs: list[Run], changes: dict[str, str] | None = None) -> dict:
    """Everything the comparison templates show, formatted.

    Args:
        runs: the finished runs, in the order given (ratios are to the first one that
            got any server ready).
        changes: what a run changes in the scenario (a variant's overrides), by run
            name; shown as "what differs" where the questions do not differ.

    Returns:
        A dict of strings and row lists; the figure is added by the caller.
    """
    shared, differs = shared_question([(r.name, str(r.summary.get("question") or ""))
                                       for r in runs])
    # the answer contrasts runs by their questions' words, not by override paths
    lead = answer(runs, differs if shared else None)
    if not differs and changes and any(changes.values()):
        differs = {r.name: changes.get(r.name) or "as written" for r in runs}
    base = next((r.makespan for r in runs if r.makespan), None)
    deadline = any(fmt.number(r.summary.get("deadline")) is not None for r in runs)
    rows = []
    for r in runs:
        ratio = fmt.ratio(r.makespan / base) if r.makespan and base else fmt.DASH
        bound = fmt.duration((r.summary.get("line_rate_bound") or {}).get("seconds"))
        cells = {"run": r.name, "report": r.report, "differs": differs.get(r.name, ""),
                 "ready": _ready_cell(r), "failed": fmt.count(r.summary.get("failed")),
                 "p50": _cell_dur(r, "p50"), "p95": _cell_dur(r, "p95"),
                 "p99": _cell_dur(r, "p99"), "makespan": _cell_dur(r, "makespan"),
                 "ratio": ratio, "deadline": _deadline_cell(r), "bound": bound,
                 "cost": (cost_rows(r.summary) or {}).get("total", fmt.DASH),
                 "held": held_back(r.summary, r.phases)}
        rows.append(cells)
    replicated_any = any(replicated(r.summary) for r in runs)
    return {
        "answer": lead,
        "shared": shared,
        "own_questions": bool(differs) and not shared and not changes,
        "differs": bool(differs) and (bool(shared) or bool(changes)),
        "rows": rows,
        "deadline": deadline,
        "cost": any(r.summary.get("costs") for r in runs),
        "replicated": replicated_any,
        "failures": _failure_rows(runs),
        "phases": _phase_rows(runs),
        "lifecycle": _lifecycle_rows(runs),
        "names": [r.name for r in runs],
    }


#: What each kind of lifecycle event is compared by (``summary["lifecycle"]``).
_EVENT_MEASURE = {"replace": ("time_to_restore", "time to restore service"),
                  "reprovision": ("time_to_capacity", "time until all are ready again"),
                  "demand": ("max_lag", "capacity's largest lag behind the demand")}


def _lifecycle_rows(runs: list[Run]) -> list[dict]:
    """One row per lifecycle event any run has, in time order: its measure in each run."""
    names: dict[str, tuple[float, str]] = {}
    for r in runs:
        for name, e in (r.summary.get("lifecycle") or {}).items():
            names.setdefault(name, (fmt.number(e.get("at")) or 0.0, str(e.get("kind"))))
    rows = []
    for name, (_at, kind) in sorted(names.items(), key=lambda kv: (kv[1][0], kv[0])):
        key, what = _EVENT_MEASURE.get(kind, ("done", "done"))
        cells = []
        for r in runs:
            e = (r.summary.get("lifecycle") or {}).get(name)
            value = fmt.number(e.get(key)) if e else None
            missing = not_ready(e) if e else []
            cells.append(fmt.DASH if e is None else
                         fmt.duration(value) + (f" ({', '.join(missing)})" if missing else "")
                         if value is not None else ", ".join(missing) or fmt.DASH)
        rows.append({"event": name, "kind": kind, "what": what, "cells": cells})
    return rows
