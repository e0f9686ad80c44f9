"""Checks of the lifecycle events (``events``: replace, reprovision, demand).

Each field belongs to its kinds (:class:`.schema.LifeEvent`); a field another kind
uses, or a kind without its fields, is an error at that field. The servers and groups
named must exist and be of the right sort: a ``replace`` fails a server of the fleet
and hands it to a server of a ``standby`` group that boots the same way (its NIC's
firmware starts the boot), used by no other event; a ``reprovision`` reboots servers
of a group that is not standby, into images and services the scenario declares; a
``demand`` draws from a standby group, never more servers than it has, along a curve
in time order. Event names are unique and have no ``:`` (records name an event's
stages ``<event>:<stage>``). Events are simulated in single runs only: with
``run.replications`` or ``run.until_ci`` they are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import suggest

__all__ = ["event_checks", "EVENT_FIELDS"]

Issue = tuple[tuple, str]

#: The fields each kind takes, besides ``kind`` and ``name``.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "replace": ("at", "node", "standby"),
    "reprovision": ("at", "group", "count", "script", "images", "server", "stages"),
    "demand": ("group", "curve"),
}
#: The fields a kind cannot do without, and what each is for.
_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "replace": (("node", "the server that fails"),
                ("standby", "the standby server that takes its place")),
    "reprovision": (("group", "the group whose servers reboot"),),
    "demand": (("group", "the standby pool the servers come from"),
               ("curve", "the servers wanted over time")),
}


def _users(field: str) -> str:
    return " or ".join(repr(k) for k, fs in EVENT_FIELDS.items() if field in fs)


def event_checks(parts, servers: Sequence[tuple[str, str]]) -> list[Issue]:
    """Every problem of ``parts.events`` against the placed ``servers`` (server, group)."""
    issues: list[Issue] = []
    groups = {g.name: g for _, g in parts.fleet}
    group_of = dict(servers)
    sizes: dict[str, int] = {}
    for _server, gname in servers:
        sizes[gname] = sizes.get(gname, 0) + 1
    standby = {n for n, g in groups.items() if g.power_on.policy == "standby"}
    run = parts.run
    if parts.events and run is not None and (run.replications > 1 or run.until_ci is not None):
        field = "replications" if run.replications > 1 else "until_ci"
        issues.append((("run", field), "lifecycle events are simulated in single runs only "
                       "(their replications are not pooled yet): drop the events, or run "
                       "once per seed"))
    names: dict[str, int] = {}
    used: dict[str, tuple[int, str]] = {}  # a standby server or a pool -> (event, group)
    for i, ev in parts.events:
        p = ("events", i)
        name = ev.name or f"{ev.kind}-{i + 1}"
        if ":" in name:
            issues.append(((*p, "name"), f"{name!r}: no ':' in an event's name (records "
                                         "name its stages <event>:<stage>)"))
        if name in names:
            issues.append(((*p, "name"), f"duplicate event name {name!r} (first: "
                                         f"events[{names[name]}])"))
        names.setdefault(name, i)
        for field in sorted(ev.model_fields_set - {"kind", "name"}):
            if field not in EVENT_FIELDS[ev.kind]:
                issues.append(((*p, field), f"not used by a {ev.kind} event; {field} is for "
                                            f"{_users(field)}"))
        missing = False
        for field, what in _REQUIRED[ev.kind]:
            if getattr(ev, field) is None:
                issues.append(((*p, field), f"required by a {ev.kind} event ({what})"))
                missing = True
        if missing:
            continue
        if ev.kind != "demand" and "at" not in ev.model_fields_set:
            issues.append(((*p, "at"), f"required by a {ev.kind} event (when it happens)"))
        elif parts.run is not None and ev.kind != "demand" and ev.at >= parts.run.until:
            issues.append(((*p, "at"), f"{ev.at:g} s is not before the run's horizon "
                                       f"(run.until = {parts.run.until:g} s): it would "
                                       "never happen"))
        if ev.kind == "replace":
            issues += _replace(p, ev, i, group_of, groups, standby, used)
        elif ev.kind == "reprovision":
            issues += _reprovision(p, ev, groups, standby, sizes, parts)
        else:
            issues += _demand(p, ev, i, groups, standby, sizes, used,
                              (parts.run.until if parts.run is not None else None,))
    return issues


def _server(p: tuple, field: str, server: str, group_of: dict[str, str]) -> list[Issue]:
    if server in group_of:
        return []
    return [((*p, field), f"{server!r} is not a server of the fleet"
                          f"{suggest(server, sorted(group_of))}")]


def _replace(p: tuple, ev, i: int, group_of: dict[str, str], groups: dict, standby: set,
             used: dict) -> list[Issue]:
    issues = _server(p, "node", ev.node, group_of) + _server(p, "standby", ev.standby,
                                                              group_of)
    if issues:
        return issues
    node_group, spare_group = group_of[ev.node], group_of[ev.standby]
    if node_group in standby:
        issues.append(((*p, "node"), f"{ev.node} is a standby server (group {node_group}): "
                                     "it is never up to fail; name a server of the fleet"))
    if spare_group not in standby:
        issues.append(((*p, "standby"), f"{ev.standby} is of group {spare_group}, which is "
                                        "powered on with the fleet; a standby server is of a "
                                        "group with power_on: {policy: standby}"))
    elif groups[spare_group].boot != groups[node_group].boot:
        issues.append(((*p, "standby"), f"{ev.standby} boots by {groups[spare_group].boot} "
                                        f"(group {spare_group}) and {ev.node} by "
                                        f"{groups[node_group].boot}: its firmware would not "
                                        "boot the node's way"))
    if ev.standby in used:
        issues.append(((*p, "standby"), f"{ev.standby} is already the standby of "
                                        f"events[{used[ev.standby][0]}]"))
    elif spare_group in used:
        issues.append(((*p, "standby"), f"{ev.standby} is in the pool of a demand "
                                        f"(events[{used[spare_group][0]}])"))
    used.setdefault(ev.standby, (i, spare_group))
    return issues


def _reprovision(p: tuple, ev, groups: dict, standby: set, sizes: dict, parts
                 ) -> list[Issue]:
    issues: list[Issue] = []
    if ev.group not in groups:
        return [((*p, "group"), f"unknown fleet group {ev.group!r}"
                                f"{suggest(ev.group, sorted(groups))}; groups: "
                                f"{', '.join(sorted(groups)) or 'none'}")]
    if ev.group in standby:
        issues.append(((*p, "group"), f"{ev.group} is a standby group: its servers are up "
                                      "only when an event asks; reprovision a group of the "
                                      "fleet"))
    if ev.count is not None and ev.count > sizes.get(ev.group, 0):
        issues.append(((*p, "count"), f"{ev.count} servers, but group {ev.group} has "
                                      f"{sizes.get(ev.group, 0)}"))
    g = groups[ev.group]
    changed = ev.boot_changes()
    if ev.images is not None and g.boot != "pxe" and (ev.script or g.script) is not None:
        who = "this event's" if ev.script is not None else f"group {g.name}'s"
        issues.append(((*p, "images"), f"not fetched: {who} script runs, and images are "
                                       "what iPXE's default script fetches (give a script "
                                       "that fetches them, or no images)"))
    if ev.script is not None and g.boot == "pxe":
        issues.append(((*p, "script"), f"group {g.name} boots by pxe: its PXE ROM runs no "
                                       "iPXE script (give images)"))
    # the reboot's group, checked as a fleet group is: its problems at the event's fields
    return issues + _as_group(p, g.model_copy(update=changed), set(changed), parts)


def _as_group(p: tuple, g, fields: set[str], parts) -> list[Issue]:
    """The problems a fleet group ``g`` would have, at ``p``'s ``fields`` only."""
    from dataclasses import replace

    from .checks import static_checks
    from .fleet_checks import fleet_checks

    alone = replace(parts, fleet=[(0, g)], group_refs=[(0, g)], faults=[], fault_refs=[],
                    events=[], costs=None)
    return [((*p, *path[2:]), msg) for path, msg in static_checks(alone) + fleet_checks(alone)
            if path[:2] == ("fleet", 0) and len(path) > 2 and path[2] in fields]


def _demand(p: tuple, ev, i: int, groups: dict, standby: set, sizes: dict, used: dict,
            parts_until: tuple[float | None]) -> list[Issue]:
    if ev.group not in groups:
        return [((*p, "group"), f"unknown fleet group {ev.group!r}"
                                f"{suggest(ev.group, sorted(groups))}; groups: "
                                f"{', '.join(sorted(groups)) or 'none'}")]
    issues: list[Issue] = []
    if ev.group not in standby:
        issues.append(((*p, "group"), f"{ev.group} is powered on with the fleet; a demand "
                                      "draws from a group with power_on: {policy: standby}"))
    spares = sorted(k for k, (_, g) in used.items() if g == ev.group and k != ev.group)
    if ev.group in used:
        issues.append(((*p, "group"), f"{ev.group} is already the pool of "
                                      f"events[{used[ev.group][0]}]"))
    elif spares:
        issues.append(((*p, "group"), f"{spares[0]} of {ev.group} is the standby of "
                                      f"events[{used[spares[0]][0]}]: a pool is not also "
                                      "a replacement's standby"))
    used.setdefault(ev.group, (i, ev.group))
    if not ev.curve:
        issues.append(((*p, "curve"), "give at least one step ({at: <time>, servers: <n>})"))
    last = None
    until = parts_until[0]
    for j, point in enumerate(ev.curve):
        if until is not None and point.at >= until:
            issues.append(((*p, "curve", j, "at"), f"{point.at:g} s is not before the run's "
                           f"horizon (run.until = {until:g} s): it would never happen"))
        if last is not None and point.at < last:
            issues.append(((*p, "curve", j, "at"), f"{point.at:g} s is before the step "
                                                   f"before it ({last:g} s): give the curve "
                                                   "in time order"))
        last = point.at
        if point.servers > sizes.get(ev.group, 0):
            issues.append(((*p, "curve", j, "servers"), f"{point.servers} servers wanted, "
                           f"but the pool {ev.group} has {sizes.get(ev.group, 0)}"))
    return issues
