"""Checks of the groups' power-on policies and of the orchestrators they name.

Each field of ``power_on`` belongs to one policy (:class:`.schema.PowerOn`): a field
given to another policy, or a policy without its fields, is an error at that field, as
is an orchestrator the scenario does not declare, a fleet-wide admission cap two groups
give differently, an orchestrator whose power command would hold its worker for less
time than the power takes to come on, and a schedule whose last power-on falls past
the clock's limit (2**22 s).
"""

from __future__ import annotations

from ..clock import TIME_LIMIT
from ..dist import Dist
from .messages import suggest

__all__ = ["power_checks", "POLICY_FIELDS"]

Issue = tuple[tuple, str]

#: The fields of ``power_on`` each policy takes (``None``: no policy, the schedule).
POLICY_FIELDS: dict[str | None, tuple[str, ...]] = {
    None: ("per_second", "rack_interval"),
    "all-at-once": (),
    "stagger": ("interval",),
    "batches": ("batch", "every"),
    "random": ("window",),
    "per-rack": ("interval",),
    "admission": ("max_booting", "scope"),
    "standby": (),
}
#: The fields a policy cannot do without.
REQUIRED: dict[str | None, tuple[str, ...]] = {
    "stagger": ("interval",), "batches": ("batch", "every"), "random": ("window",),
    "per-rack": ("interval",), "admission": ("max_booting",),
}
#: What a required field is for, in its message.
WHAT = {"interval": "the time between consecutive servers",
        "batch": "how many servers each batch powers on",
        "every": "the time between batches",
        "window": "the window the power-on instants are drawn in",
        "max_booting": "how many servers may boot at once"}
_OPTIONAL = {f for names in POLICY_FIELDS.values() for f in names}


def _users(field: str) -> str:
    names = [("no policy" if p is None else repr(p)) for p, fs in POLICY_FIELDS.items()
             if field in fs]
    return " or ".join(names)


def _last_instant(po, count: int) -> float | None:
    """The last request instant a deterministic schedule gives ``count`` servers."""
    if po.policy == "stagger" and po.interval is not None:
        return po.at + (count - 1) * po.interval
    if po.policy == "batches" and po.batch and po.every is not None:
        return po.at + ((count - 1) // po.batch) * po.every
    if po.policy == "random" and po.window is not None:
        # a distribution of delays: its mean (a draw past 2**22 s is stopped by the run)
        return po.at + (po.window.mean() if isinstance(po.window, Dist) else po.window)
    if po.policy is None and po.per_second is not None:
        return po.at + (count - 1) / po.per_second
    return None


def power_checks(parts) -> list[Issue]:
    """Policies' fields, orchestrator references, fleet-wide caps, orchestrators' times."""
    issues: list[Issue] = []
    kinds = parts.service_kinds
    orchestrators = sorted(n for n, k in kinds.items() if k == "orchestrator")
    fleet_cap: tuple[int, int] | None = None  # (group index, max_booting)
    for i, g in parts.fleet:
        po = g.power_on
        p = ("fleet", i, "power_on")
        given = po.model_fields_set
        for name in sorted(given & _OPTIONAL):
            if name not in POLICY_FIELDS[po.policy]:
                what = "without a policy" if po.policy is None else f"by policy {po.policy!r}"
                issues.append(((*p, name), f"not used {what}; {name} is for "
                                           f"{_users(name)}"))
        for name in REQUIRED.get(po.policy, ()):
            if getattr(po, name) is None:
                issues.append(((*p, name), f"required by policy {po.policy!r} "
                                           f"({WHAT[name]})"))
        last = _last_instant(po, g.count)
        if last is not None and last > TIME_LIMIT:
            field = "per_second" if po.policy is None else \
                {"stagger": "interval", "batches": "every", "random": "window"}[po.policy]
            issues.append(((*p, field), f"the last server of the group would power on at "
                                        f"{last:.0f} s, past 2**22 s ({TIME_LIMIT:.0f} s), "
                                        "where the clock resolves 1 ns"))
        if po.policy == "admission" and po.scope == "fleet" and po.max_booting is not None:
            if fleet_cap is None:
                fleet_cap = (i, po.max_booting)
            elif fleet_cap[1] != po.max_booting:
                issues.append(((*p, "max_booting"), f"the fleet-wide cap is {fleet_cap[1]} "
                               f"(fleet[{fleet_cap[0]}]); every group with scope: fleet "
                               "shares one cap: give the same max_booting"))
        name = po.orchestrator
        if name is not None:
            if name not in kinds:
                issues.append(((*p, "orchestrator"), f"unknown service {name!r}"
                               f"{suggest(name, orchestrators)}; orchestrators: "
                               f"{', '.join(orchestrators) or 'none declared'}"))
            elif kinds[name] != "orchestrator":
                issues.append(((*p, "orchestrator"), f"service {name!r} is a {kinds[name]} "
                                                     "service, not an orchestrator"))
        elif len(orchestrators) > 1:
            issues.append(((*p, "orchestrator"), "the scenario has several orchestrators ("
                           f"{', '.join(orchestrators)}): name the one that powers this "
                           "group on"))
    for name, svc in parts.services.items():
        if getattr(svc, "kind", "") == "orchestrator" and svc.power_time < svc.power_latency:
            issues.append((("services", name, "power_time"),
                           f"{svc.power_time:g} s is shorter than power_latency "
                           f"({svc.power_latency:g} s): a power command holds its worker "
                           "at least until the power comes on"))
    for i, f in parts.faults:
        if f.kind.startswith("service-") and kinds.get(f.target) == "orchestrator":
            issues.append((("faults", i, "target"), f"a {f.kind} fault of an orchestrator "
                           "is not modelled (its power commands and steps are)"))
    return issues
