"""Cross-reference checks: what no single field can check on its own.

Runs after schema validation on whatever parts of the scenario validated, so a typo in
one section does not hide an unknown image in another. References are resolved
against the names the file declares (even in entries that failed validation, so one
bad service does not also make every group using it "unknown").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..profiles import PROFILES, profile_names
from ..protocols.san import SAN_KINDS
from .fleet_checks import fleet_checks
from .messages import suggest
from .schema import (
    Costs,
    Fault,
    FleetGroup,
    Image,
    LifeEvent,
    Run,
    ScenarioModel,
    Service,
    TopologySection,
)
from .source import format_path

__all__ = ["Parts", "split_parts", "static_checks"]

Issue = tuple[tuple, str]

#: Profiles whose firmware fetches over TFTP only (see their description in profiles.py).
TFTP_ONLY_PROFILES = frozenset({"pxe-rom"})
_SERVICE = TypeAdapter(Service)


@dataclass
class Parts:
    """The parts of a scenario that validated, and the names the text declares.

    Attributes:
        topology: the topology section, if valid.
        services: valid services by name.
        images: valid images by name.
        fleet: valid groups with their index.
        faults: valid faults with their index.
        events: valid lifecycle events with their index.
        run: the run section, if valid.
        service_kinds: every declared service name, to its kind text (if any).
        image_names: every declared image name.
    """

    topology: TopologySection | None = None
    services: dict[str, Any] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    fleet: list[tuple[int, FleetGroup]] = field(default_factory=list)
    faults: list[tuple[int, Fault]] = field(default_factory=list)
    events: list[tuple[int, LifeEvent]] = field(default_factory=list)
    run: Run | None = None
    service_kinds: dict[str, Any] = field(default_factory=dict)
    service_hosts: dict[str, str] = field(default_factory=dict)
    image_names: set[str] = field(default_factory=set)
    host_names: set[str] | None = None
    group_refs: list[tuple[int, Any]] = field(default_factory=list)
    fault_refs: list[tuple[int, Any]] = field(default_factory=list)
    costs: Costs | None = None


def _refs(raw: Any, fields: dict[str, Any]) -> SimpleNamespace:
    """The reference fields of an entry that failed validation, where their type is right.

    Lists keep their positions (a wrong-typed item becomes ``None``) so that problems
    name the right index.
    """
    raw = raw if isinstance(raw, dict) else {}
    out = {}
    for key, default in fields.items():
        value = raw.get(key, default)
        if isinstance(default, list):
            out[key] = ([x if isinstance(x, str) else None for x in value]
                        if isinstance(value, list) else [])
        else:
            out[key] = value if isinstance(value, str) else None
    return SimpleNamespace(**out)


def _try(validate, value: Any) -> Any:
    try:
        return validate(value)
    except ValidationError:
        return None


def split_parts(tree: dict, model: ScenarioModel | None) -> Parts:
    """The valid parts: from ``model`` when the whole validated, else piece by piece."""
    raw_services = tree.get("services") if isinstance(tree.get("services"), dict) else {}
    raw_images = tree.get("images") if isinstance(tree.get("images"), dict) else {}
    parts = Parts(
        service_kinds={k: (v.get("kind") if isinstance(v, dict) else None)
                       for k, v in raw_services.items()},
        image_names={str(k) for k in raw_images},
    )
    topo = tree.get("topology")
    if isinstance(topo, dict):
        entries = [h for key in ("hosts", "nodes") if isinstance(topo.get(key), list)
                   for h in topo[key] if isinstance(h, dict)]
        parts.host_names = {h["name"] for h in entries if isinstance(h.get("name"), str)
                            and h["name"] and h.get("kind", "host") == "host"}
    if model is not None:
        parts.topology, parts.run = model.topology, model.run
        parts.services, parts.images = dict(model.services), dict(model.images)
        parts.fleet, parts.faults = list(enumerate(model.fleet)), list(enumerate(model.faults))
        parts.events = list(enumerate(model.events))
        parts.service_hosts = {k: v.host for k, v in model.services.items()}
        parts.group_refs, parts.fault_refs = list(parts.fleet), list(parts.faults)
        parts.costs = model.costs
        return parts
    if isinstance(tree.get("costs"), dict):
        parts.costs = _try(Costs.model_validate, tree["costs"])
    if "topology" in tree:
        parts.topology = _try(TopologySection.model_validate, tree["topology"])
    parts.run = _try(Run.model_validate, tree.get("run", {}))
    for name, raw in raw_services.items():
        if isinstance(name, str) and (svc := _try(_SERVICE.validate_python, raw)):
            parts.services[name] = svc
        if isinstance(raw, dict) and isinstance(raw.get("host"), str):
            parts.service_hosts[str(name)] = raw["host"]
    for name, raw in raw_images.items():
        if isinstance(name, str) and (img := _try(Image.model_validate, raw)):
            parts.images[name] = img
    for key, cls, out in (("fleet", FleetGroup, parts.fleet), ("faults", Fault, parts.faults),
                          ("events", LifeEvent, parts.events)):
        items = tree.get(key)
        for i, raw in enumerate(items if isinstance(items, list) else []):
            if (item := _try(cls.model_validate, raw)) is not None:
                out.append((i, item))
    groups = tree.get("fleet") if isinstance(tree.get("fleet"), list) else []
    valid = dict(parts.fleet)
    for i, raw in enumerate(groups):
        ref = valid.get(i) or _refs(raw, {"name": None, "images": [], "server": None,
                                          "boot": "ipxe", "profile": None})
        if getattr(ref, "profile", "") is None:
            ref.profile = "pxe-rom" if ref.boot == "pxe" else "ipxe-current"
        parts.group_refs.append((i, ref))
    faults = tree.get("faults") if isinstance(tree.get("faults"), list) else []
    valid = dict(parts.faults)
    for i, raw in enumerate(faults):
        parts.fault_refs.append((i, valid.get(i) or _refs(raw, {"kind": None, "target": None})))
    return parts


def _known(names: Iterable[str], limit: int = 12) -> str:
    names = sorted(names)
    if not names:
        return "none declared"
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _duplicates(entries: Iterable[tuple[tuple, str]], what: str) -> list[Issue]:
    seen: dict[str, tuple] = {}
    issues = []
    for path, name in entries:
        if name in seen:
            issues.append((path, f"duplicate {what} {name!r} (first at "
                           f"{format_path(seen[name])})"))
        else:
            seen[name] = path
    return issues


def _case_clashes(entries: Iterable[tuple[tuple, str]], what: str) -> list[Issue]:
    """Names that differ only in case: one URI host names both (DNS is case-insensitive)."""
    seen: dict[str, tuple[tuple, str]] = {}
    issues = []
    for path, name in entries:
        first = seen.setdefault(name.lower(), (path, name))
        if first[1] != name:
            issues.append((path, f"{what} {name!r} differs only in case from {first[1]!r} "
                           f"(at {format_path(first[0])}); URI hosts are case-insensitive, "
                           "so one URI would name both"))
    return issues


def _jitter_checks(topo: TopologySection) -> list[Issue]:
    """A link's jitter at most its latency (a packet's delay is never below 0)."""
    t = ("topology",)
    links = [((*t, name), getattr(topo, name)) for name in
             ("server_link", "host_link", "uplink", "wan")]
    links += [((*t, "wans", i), w) for i, w in enumerate(topo.wans)]
    links += [((*t, "hosts", i, "link"), h.link) for i, h in enumerate(topo.hosts)]
    links += [((*t, "links", i), lk) for i, lk in enumerate(topo.links)]
    if topo.wifi is not None:
        links.append(((*t, "wifi", "uplink"), topo.wifi.uplink))
    issues: list[Issue] = []
    for path, lk in links:
        if lk is None:
            continue
        if lk.jitter > lk.latency:
            issues.append(((*path, "jitter"), f"{lk.jitter:g} s is more than the latency "
                                              f"({lk.latency:g} s): a delay below 0"))
        r = getattr(lk, "reverse", None)
        if r is not None and r.jitter is not None:
            lat = r.latency if r.latency is not None else lk.latency
            if r.jitter > lat:
                issues.append(((*path, "reverse", "jitter"),
                               f"{r.jitter:g} s is more than the latency ({lat:g} s): a "
                               "delay below 0"))
    return issues


def topology_checks(topo: TopologySection) -> list[Issue]:
    """Fields the shape needs, fields it does not use, duplicate names."""
    t = ("topology",)
    issues: list[Issue] = []
    needs = {
        "rack": ("servers",),
        "leaf-spine": ("racks", "servers_per_rack"),
        "remote-site": ("servers", "wan"),
        "multi-site": ("sites", "racks", "servers_per_rack"),
        "custom": (),
    }[topo.shape]
    uses = set(needs) | {
        "rack": set(), "leaf-spine": {"spines", "uplink", "oversubscription"},
        "remote-site": set(), "multi-site": {"wan", "wans"}, "custom": set()}[topo.shape]
    for name in needs:
        if getattr(topo, name) is None:
            issues.append(((*t, name), f"required for shape {topo.shape!r}"))
    if topo.shape == "multi-site" and topo.wan is None and not topo.wans:
        issues.append(((*t, "wan"), "required for shape 'multi-site' (every site's; or "
                                    "wans, the sites' in turn)"))
    if topo.wan is not None and topo.wans:
        issues.append(((*t, "wans"), "give wan (every site's) or wans (the sites' in "
                                     "turn), not both"))
    for name in ("sites", "servers", "racks", "servers_per_rack", "spines", "uplink",
                 "oversubscription", "wan", "wans"):
        if name in topo.model_fields_set and name not in uses and \
                getattr(topo, name) not in (None, []):
            hint = {"servers": "; use racks and servers_per_rack",
                    "servers_per_rack": "; use servers"}.get(name, "")
            issues.append(((*t, name), f"not used by shape {topo.shape!r}{hint}"))
    issues += _jitter_checks(topo)
    if topo.shape == "leaf-spine" and (topo.uplink is None) == (topo.oversubscription is None):
        issues.append(((*t, "uplink"), "give exactly one of uplink and oversubscription"))
    if topo.shape == "custom":
        for i, h in enumerate(topo.hosts):
            if h.attach is None:
                issues.append(((*t, "hosts", i, "attach"),
                               "required for shape 'custom' (there is no default switch)"))
    names = [((*t, "hosts", i, "name"), h.name) for i, h in enumerate(topo.hosts)]
    names += [((*t, "nodes", i, "name"), n.name) for i, n in enumerate(topo.nodes)]
    issues += _duplicates(names, "node name")
    hosts = [(p, n.name) for (p, _), n in zip(names, [*topo.hosts, *topo.nodes], strict=True)
             if getattr(n, "kind", "host") == "host"]
    issues += _case_clashes(hosts, "host name")
    links = [((*t, "links", i, "name"), lk.name) for i, lk in enumerate(topo.links) if lk.name]
    issues += _duplicates(links, "link name")
    return issues


def static_checks(parts: Parts) -> list[Issue]:
    """Every cross-reference problem that needs no built topology."""
    issues: list[Issue] = []
    topo = parts.topology
    if topo is not None:
        issues += topology_checks(topo)
        if topo.wifi is not None and parts.run is not None and parts.run.engine == "packet":
            issues.append((("topology", "wifi"), "Wi-Fi access points need the flow engine "
                           "(their medium's capacity follows the stations transferring); "
                           "run.engine: packet does not model 802.11"))
    if parts.run is not None and parts.run.engine == "packet" and parts.services:
        for name, svc in parts.services.items():
            if getattr(svc, "kind", "") == "http" and getattr(svc, "tcp_cc", "") == "bbr":
                issues.append((("services", name, "tcp_cc"), "the packet engine's TCP "
                               "sender is NewReno (net/packet_tcp.py); bbr is modelled by "
                               "the flow engine only (run.engine: flow)"))
            if getattr(svc, "kind", "") in SAN_KINDS:
                issues.append((("services", name, "kind"), f"{svc.kind} targets need the "
                               "flow engine (their reads are flows sharing the target's "
                               "IOPS, netbootsim/fleet/san.py); run.engine: packet does not "
                               "model SAN reads"))
    for name, svc in (parts.services or {}).items():
        boot = getattr(svc, "boot", None)
        mix = getattr(boot, "os_request_mix", None) or []
        if mix and abs(sum(r.share for r in mix) - 1.0) > 1e-9:
            issues.append((("services", name, "boot", "os_request_mix"),
                           f"the shares add up to {sum(r.share for r in mix):g}, not 1"))
        if mix and "os_request" in boot.model_fields_set:
            issues.append((("services", name, "boot", "os_request"), "give os_request or "
                           "os_request_mix, not both"))
        curve = getattr(boot, "os_iops_curve", None) or []
        for j in range(1, len(curve)):
            if curve[j].after < curve[j - 1].after:
                issues.append((("services", name, "boot", "os_iops_curve", j, "after"),
                               f"{curve[j].after:g} s is before the step before it "
                               f"({curve[j - 1].after:g} s): give the curve in time order"))
        arr = getattr(svc, "array", None)
        if getattr(svc, "kind", "") not in SAN_KINDS or arr is None:
            continue
        other = (parts.services or {}).get(arr)
        targets = sorted(n for n, s in (parts.services or {}).items()
                         if getattr(s, "kind", "") in SAN_KINDS and n != name)
        if other is None or getattr(other, "kind", "") not in SAN_KINDS or arr == name:
            issues.append((("services", name, "array"), f"{arr!r} is not another SAN target"
                           f"{suggest(arr, targets)}; targets: {_known(targets)}"))
        elif other.array is not None:
            issues.append((("services", name, "array"), f"{arr} is backed by {other.array}'s "
                           f"array itself: name {other.array}"))
        elif svc.iops is not None or svc.bandwidth is not None:
            issues.append((("services", name, "array"), f"its IOPS and bandwidth are "
                           f"{arr}'s: give them there, not here"))
    hosts = parts.host_names
    if hosts is not None:
        for name, host in parts.service_hosts.items():
            if host not in hosts:
                issues.append((("services", name, "host"),
                               f"unknown host {host!r}{suggest(host, sorted(hosts))}; "
                               f"hosts: {_known(hosts)}"))
    issues += _case_clashes(((("services", name), name) for name in parts.service_kinds
                             if isinstance(name, str)), "service name")
    issues += _duplicates(((("fleet", i, "name"), g.name) for i, g in parts.group_refs
                           if g.name is not None), "group name")
    for i, g in parts.group_refs:
        p = ("fleet", i)
        for j, image in enumerate(g.images):
            if image is not None and image not in parts.image_names:
                issues.append(((*p, "images", j), f"unknown image {image!r}"
                               f"{suggest(image, sorted(parts.image_names))}; images: "
                               f"{_known(parts.image_names)}"))
        for sub, name in profile_names(g.profile):
            if name not in PROFILES:
                issues.append(((*p, "profile", *sub), f"unknown firmware profile {name!r}"
                               f"{suggest(name, list(PROFILES))}; known: "
                               f"{', '.join(PROFILES)}"))
        kind = parts.service_kinds.get(g.server)
        if g.server is None:
            continue
        if g.server not in parts.service_kinds:
            issues.append(((*p, "server"), f"unknown service {g.server!r}"
                           f"{suggest(g.server, sorted(parts.service_kinds))}; services: "
                           f"{_known(parts.service_kinds)}"))
        elif kind not in ("tftp", "http") and g.server in parts.services:
            issues.append(((*p, "server"), f"service {g.server!r} is a {kind} service; "
                           "images come from a tftp or http service"))
        elif kind == "http" and g.boot == "pxe":
            issues.append(((*p, "server"), f"boot path 'pxe' fetches over TFTP only, but "
                           f"{g.server!r} is an http service"))
        elif kind == "http" and (tftp_only := [
                n for _, n in profile_names(g.profile) if n in TFTP_ONLY_PROFILES
                or (n in PROFILES and PROFILES[n].platform is not None)]):
            issues.append(((*p, "server"), f"profile {tftp_only[0]!r} fetches over TFTP "
                           f"only, but {g.server!r} is an http service"))
    if parts.costs is not None:
        groups = sorted(g.name for _, g in parts.group_refs if g.name is not None)
        for name in parts.costs.servers:
            if name not in groups:
                issues.append((("costs", "servers", name), f"unknown fleet group {name!r}"
                               f"{suggest(name, groups)}; groups: {_known(groups)}"))
        for name in parts.costs.services:
            if name not in parts.service_kinds:
                issues.append((("costs", "services", name), f"unknown service {name!r}"
                               f"{suggest(name, sorted(parts.service_kinds))}; services: "
                               f"{_known(parts.service_kinds)}"))
    for i, f in parts.faults:
        p = ("faults", i)
        if f.kind == "loss" and f.value is None:
            issues.append(((*p, "value"), "required for a loss fault (a probability)"))
        if f.kind != "loss" and f.value is not None:
            issues.append(((*p, "value"), f"not used by a {f.kind} fault"))
    for i, f in parts.fault_refs:
        p = ("faults", i)
        if f.kind in ("service-down", "service-slow", "service-error") and \
                f.target is not None and \
                f.target not in parts.service_kinds:
            issues.append(((*p, "target"), f"unknown service {f.target!r}"
                           f"{suggest(f.target, sorted(parts.service_kinds))}; services: "
                           f"{_known(parts.service_kinds)}"))
    return issues + fleet_checks(parts)
