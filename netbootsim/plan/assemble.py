"""From a built scenario to a fleet run: the one place scenario text meets the model.

:func:`fleet_inputs` turns the validated sections into :mod:`netbootsim.fleet`'s
plain inputs (services with their model defaults, DHCP specs, groups with their
lifecycle and link faults, fault windows); :func:`run_built` simulates them and
summarises the run. ``netbootsim run`` and :func:`netbootsim.api.simulate_scenario`
both go through here, so a scenario means the same thing to both. Everything that
could refuse a scenario is checked by its validation (:mod:`netbootsim.scenario`), so
a validated scenario always assembles: ``netbootsim validate`` and ``netbootsim run``
accept and refuse the same files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import memguard
from ..dist import Dist
from ..errors import InputError
from ..fleet import (
    DhcpSpec,
    FaultWindows,
    FleetRun,
    Group,
    Install,
    LinkFaults,
    Service,
    Stage,
    Window,
    random_inputs,
    simulate,
)
from ..fleet.balance import LbSpec
from ..fleet.events import Demand, LifeEvent, Replace, Reprovision
from ..fleet.san import SanBootSpec, SanSpec
from ..fleet.spec import TLS_HANDSHAKE_RTTS, DnsSpec, OrchestratorSpec, PowerPolicy, TlsSpec
from ..profiles import Profile, ProfileMix, get_profile, tuned
from ..protocols.san import SAN_KINDS, os_timers
from ..runtime import reclaim_if_large
from ..scenario.api_checks import scenario_dir
from ..services.provisioning import DEFAULT_UNKNOWN, Provisioner, load_inventory
from ..services.registry import API, DHCP, KINDS
from ..streams import Streams

__all__ = ["FleetInputs", "fleet_inputs", "run_built", "scope_notes", "delivery_notes",
           "SCOPE_NOTES",
           "random_block", "left_out"]

#: What every report says about the model's scope.
SCOPE_NOTES = [
    "Servers power on, start their firmware (POST and the ROM's start, as their profile "
    "has them), do DHCP when the scenario has a DHCP service "
    "(iPXE's or the PXE ROM's schedule, dnsmasq's ping check, pools per relay subnet, "
    "ProxyDHCP), and run their boot path: the PXE ROM's TFTP, a chainload to iPXE, or "
    "iPXE's script in the interpreter (kernel/initrd over TFTP or HTTP, scripts from a "
    "provisioning API); TFTP session caps (RRQ retries on iPXE's timer, orphan "
    "transfers at dnsmasq's tftp-max) and HTTP worker caps (keep-alive holds a worker, "
    "then backlog, then dropped SYNs) are modelled; then the stage's OS phase (image "
    "streamed to disk, work time), with stage timeouts and on-failure policies.",
]

#: The scope note of each engine.
ENGINE_NOTES = {
    "flow": "Flow engine: lock-step TFTP and window-limited TCP share host NICs max-min "
            "fairly (a lock-step flow beside TCP flows at a host NIC also waits a round of "
            "its queue per block); at switch and router ports (FIFO) flows of different "
            "round trips share by window / (RTT + queue delay), and a full drop-tail "
            "buffer trims the fastest to a common rate; which flows the losses hit, and "
            "their recoveries, are left out (run.engine: packet models them; "
            "docs/validation.md compares the two).",
    "packet": "Packet engine: TFTP and TCP (Linux NewReno + SACK sender, iPXE receiver) "
              "packet by packet through drop-tail switch ports (run.buffer) and per-flow "
              "fair host NICs; DHCP and ARP broadcasts flooded per L2 domain; utilisation "
              "and bottlenecks from the links' byte counters (a link ≥ 95 % busy over a "
              "sample interval counts as saturated); a service's disk rate is a fair queue "
              "in front of its NIC.",
}


def engine_mode(run) -> str:
    """The summary's ``engine.mode``: ``packet``, ``incremental`` or ``full-recompute``."""
    if run.engine == "packet":
        return "packet"
    return "full-recompute" if run.full_recompute else "incremental"


@dataclass
class FleetInputs:
    """Everything :func:`netbootsim.fleet.simulate` takes besides topology and members."""

    groups: list[Group] = field(default_factory=list)
    services: dict[str, Service] = field(default_factory=dict)
    dhcp: list[DhcpSpec] = field(default_factory=list)
    images: dict[str, float] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)
    faults: FaultWindows = field(default_factory=FaultWindows)
    provisioners: dict[str, Provisioner] = field(default_factory=dict)
    orchestrators: dict[str, OrchestratorSpec] = field(default_factory=dict)
    dns: dict[str, DnsSpec] = field(default_factory=dict)
    lbs: dict[str, LbSpec] = field(default_factory=dict)
    events: list[LifeEvent] = field(default_factory=list)
    san: dict[str, SanSpec] = field(default_factory=dict)
    engine: str = "flow"
    #: Wi-Fi access points -> their stations' PHY rates (Mb/s), and the association time
    wifi: dict[str, list[float]] = field(default_factory=dict)
    associate: float = 0.0


def _tls(tls) -> TlsSpec | None:
    """A service's TLS termination (``None``: its CPU is not counted)."""
    return None if tls is None else TlsSpec(tls.cores, tls.handshake, tls.cipher_rate)


def _service(name: str, svc) -> Service:
    """A TFTP, HTTP or API service, with the behaviour constants of its model."""
    if svc.kind == "api":
        return Service(name, "api", svc.host, service_time=svc.service_time,
                       concurrency=svc.concurrency, script=svc.script, https=svc.https,
                       trusted=svc.trusted)
    return Service(name, svc.kind, svc.host,
                   block_cost=getattr(svc, "block_cost", 0.0) or 0.0,
                   disk_rate=getattr(svc, "disk_rate", None) or math.inf,
                   max_sessions=getattr(svc, "max_sessions", None),
                   **({"recv_buffer": svc.recv_buffer} if svc.kind == "tftp" else {}),
                   workers=getattr(svc, "workers", None),
                   https=getattr(svc, "https", False), trusted=getattr(svc, "trusted", True),
                   **({"origin": svc.origin, "cache": svc.cache or math.inf,
                       "inactive": svc.inactive,
                       "coalesce": svc.coalesce, "fallback": svc.fallback,
                       "tls": _tls(svc.tls), "tcp_cc": svc.tcp_cc}
                      if svc.kind == "http" else {}),
                   **KINDS[svc.kind].model(svc.model).behaviour())


def _dhcp(name: str, svc) -> DhcpSpec:
    """A DHCP service; its ping check waits as long as its model's (0: ``ping: false``)."""
    model = DHCP.model(svc.model)
    return DhcpSpec(name, svc.host, service_time=svc.service_time,
                    ping=(model.ping if svc.ping else 0.0), deaf_ping=model.deaf_ping,
                    ping_window=model.ping_window, ping_share=model.ping_share,
                    queue=model.queue,
                    no_pxedhcp=svc.no_pxedhcp, ipv6_ra=svc.ipv6_ra, pool=svc.pool,
                    proxy=svc.proxy, boot_files=tuple(sorted(svc.boot_files.items())),
                    script=svc.script, user_class_check=svc.user_class_check,
                    dns=None if svc.dns is None else tuple(svc.dns))


def _provisioner(name: str, svc, origin) -> Provisioner:
    """An API's inventory and compiled templates (validation checked both).

    Raises:
        InputError: the inventory file can no longer be read (it was when validated).
    """
    try:
        inventory = load_inventory(svc.inventory, scenario_dir(origin))
    except ValueError as e:
        raise InputError([origin.problem(("services", name, "inventory"), str(e))]) from None
    return Provisioner(inventory, svc.templates, svc.unknown or DEFAULT_UNKNOWN, name=name)


def _windows(f) -> list[Window]:
    """The fault's window, or with ``every`` its ``times`` windows (a flapping link)."""
    if f.every is None:
        return [Window(f.at, f.at + f.duration if f.duration is not None else math.inf)]
    return [Window(f.at + k * f.every, f.at + k * f.every + f.duration)
            for k in range(f.times)]


def fleet_inputs(built) -> FleetInputs:
    """The fleet run's inputs from a built (so validated) scenario."""
    sc = built.scenario
    origin = sc.origin
    out = FleetInputs(engine=sc.run.engine, associate=built.topology.associate)
    for _station, (ap, rate) in sorted(built.topology.stations.items()):
        out.wifi.setdefault(ap, []).append(rate)
    for name, svc in sorted(built.services.items()):
        if svc.kind == "dhcp":
            out.dhcp.append(_dhcp(name, svc))
        elif svc.kind == "dns":
            out.dns[name] = DnsSpec(name, svc.host, {
                n.lower().rstrip("."): tuple(t) for n, t in (svc.records or {}).items()},
                svc.order, svc.service_time, svc.forward, svc.ttl, svc.clients_per_query)
        elif svc.kind == "lb":
            out.lbs[name] = LbSpec(name, svc.host, tuple(svc.pool), svc.algorithm,
                                   svc.service_time, svc.check_interval, svc.fall, svc.rise,
                                   svc.mode, svc.max_connections, _tls(svc.tls),
                                   svc.check_timeout, svc.fast_interval, svc.down_interval,
                                   svc.model, KINDS["lb"].models[svc.model].health,
                                   svc.max_fails, svc.fail_timeout, svc.connect_timeout)
        elif svc.kind in SAN_KINDS:
            model = KINDS[svc.kind].models[svc.model]
            b = svc.boot
            out.san[name] = SanSpec(
                name, svc.kind, svc.host, svc.latency, svc.attach, model.attach_rtts,
                model.max_request,
                SanBootSpec(b.loader, b.loader_request, b.os,
                            sum(r.size * r.share for r in b.os_request_mix)
                            if b.os_request_mix else b.os_request, b.os_iops,
                            b.os_read_share,
                            tuple((s.after, s.iops) for s in b.os_iops_curve or ()),
                            tuple((r.size, r.share) for r in b.os_request_mix or ())),
                svc.iops, svc.bandwidth, getattr(svc, "iqn", None),
                getattr(svc, "shelf", 0), getattr(svc, "slot", 0), svc.sessions, svc.array,
                getattr(svc, "wwn", None), svc.queue_depth)
        elif svc.kind == "orchestrator":
            out.orchestrators[name] = OrchestratorSpec(
                name, svc.power_workers, svc.power_latency, svc.power_time,
                svc.step_workers, svc.step_time)
        else:
            out.services[name] = _service(name, svc)
        if svc.kind == "api" and (svc.templates or svc.inventory is not None):
            out.provisioners[name] = _provisioner(name, svc, origin)
    out.images = {n: img.bytes for n, img in built.images.items()}
    out.scripts = {n: img.script for n, img in built.images.items() if img.script is not None}
    group_faults: dict[str, dict[str, float]] = {}
    for f in built.faults:
        if f.kind in ("lacp", "stp") or (f.kind == "link-down" and f.target in built.groups):
            kind = "down" if f.kind == "link-down" else f.kind
            group_faults.setdefault(f.target, {})[kind] = f.duration or 0.0
        elif f.kind == "link-down":
            out.faults.link_down.setdefault(f.target, []).extend(_windows(f))
        elif f.kind == "service-down":
            out.faults.service_down.setdefault(f.target, []).extend(_windows(f))
        elif f.kind == "service-slow":
            out.faults.service_slow.setdefault(f.target, []).extend(
                (w, f.factor or 1.0) for w in _windows(f))
        elif f.kind == "service-error":
            out.faults.service_error.setdefault(f.target, []).extend(_windows(f))
        elif f.kind == "tamper":
            out.faults.tamper.setdefault(f.target, []).extend(_windows(f))
        elif f.kind == "server-fail":
            at = out.faults.server_fail.get(f.target, math.inf)
            out.faults.server_fail[f.target] = min(at, f.at)
        elif f.kind == "loss" and f.target not in built.groups:
            out.faults.link_loss.setdefault(f.target, []).extend(
                (w, f.value or 0.0) for w in _windows(f))
    out.groups = [_group(i, g, out, group_faults.get(g.name, {}), scenario_dir(origin))
                  for i, g in enumerate(sc.fleet)]
    out.events = _events(sc, built.servers, out, group_faults, scenario_dir(origin))
    return out


def _events(sc, servers: list[tuple[str, str]], out: FleetInputs,
            group_faults: dict[str, dict[str, float]], base) -> list[LifeEvent]:
    """The scenario's lifecycle events (:mod:`netbootsim.fleet.events`), named."""
    events: list[LifeEvent] = []
    fleet = {g.name: (i, g) for i, g in enumerate(sc.fleet)}
    for k, ev in enumerate(sc.events):
        name = ev.name or f"{ev.kind}-{k + 1}"
        if ev.kind == "replace":
            events.append(Replace(name, ev.at, ev.node, ev.standby))
        elif ev.kind == "reprovision":
            i, g = fleet[ev.group]
            members = [s for s, gname in servers if gname == ev.group]
            group = _group(i, g.model_copy(update=ev.boot_changes()), out,
                           group_faults.get(g.name, {}), base)
            events.append(Reprovision(name, ev.at, tuple(members[:ev.count or len(members)]),
                                      group))
        else:
            pool = tuple(s for s, gname in servers if gname == ev.group)
            events.append(Demand(name, pool, tuple((p.at, p.servers) for p in ev.curve)))
    return events


def _group(i: int, g, out: FleetInputs, faults: dict[str, float], base) -> Group:
    """A fleet group (``fleet[i]``, validated) as the run takes it."""
    p = ("fleet", i)
    plain = [d for d in out.dhcp if not d.proxy]
    dhcp = next((d for d in out.dhcp if d.name == g.dhcp), None) or \
        (plain[0] if plain else None)
    service = out.services.get(g.server) if g.server else None
    if service is None:  # a group that runs only its own script: any service will do
        service = next(iter(out.services.values()), None)
    # none at all: a group whose own script boots from a SAN target only
    assert service is not None or (g.script is not None and g.boot == "ipxe"), \
        f"{p}: validation lets no group without a service by"
    stages = []
    for st in g.stages:
        install = None
        if st.install is not None:
            via = st.install.server if st.install.server in out.lbs else None
            install = Install(st.install.image, out.images[st.install.image],
                              None if via else out.services[st.install.server],
                              st.install.disk_rate or math.inf, via)
        stages.append(Stage(st.name, st.timeout, st.on_failure, st.retries,
                            st.reboot_after, install, st.work, st.max_in_flight))
    images = tuple((n, out.images[n]) for n in g.images)
    assert images or g.script is not None, f"{p}: validation asks for images or a script"
    profile, profile_mix, rom, rom_mix = _firmwares(g, base)
    return Group(
        g.name, g.boot, profile, images, service,
        power_on_at=g.power_on.at, per_second=g.power_on.per_second or math.inf,
        dhcp=dhcp, stages=tuple(stages) or Group.__dataclass_fields__["stages"].default,
        arch=g.arch, script=g.script, rom=rom, profile_mix=profile_mix, rom_mix=rom_mix,
        boot_files=tuple(sorted(g.boot_files.items())),
        nbp=g.nbp, rack_interval=g.power_on.rack_interval, build=g.build,
        faults=LinkFaults(lacp=faults.get("lacp", 0.0), stp=faults.get("stp", 0.0),
                          down=faults.get("down", 0.0)),
        power=_power_policy(g.power_on, out.orchestrators))


def _power_policy(po, orchestrators: dict[str, OrchestratorSpec]) -> PowerPolicy | None:
    """A group's power-on policy and orchestrator (``None``: neither, its own schedule).

    The orchestrator is the one ``power_on`` names, else the scenario's only one.
    """
    orch = po.orchestrator
    if orch is None and len(orchestrators) == 1:
        (orch,) = orchestrators
    if po.policy is None and orch is None:
        return None
    return PowerPolicy(po.policy, at=po.at, interval=po.interval or 0.0,
                       batch=po.batch or 1, every=po.every or 0.0, window=po.window or 0.0,
                       max_booting=po.max_booting, scope=po.scope or "group",
                       orchestrator=orch)


#: ``tune`` values of a chainload group that are its PXE ROM's, not iPXE's.
_ROM_TUNED = ("post", "dhcp_offer_wait")


def _firmwares(g, base) -> tuple[Profile, tuple, Profile | None, tuple]:
    """A group's iPXE (or only) profile and its PXE ROM's: ``(profile, mix, rom, mix)``.

    Each is one profile or a mix (:class:`~netbootsim.profiles.ProfileMix`: the parts
    as ``(weight, profile)``, the first part standing for the group). ``tune`` changes
    ``profile``, except ``post`` (the firmware that starts at power-on, a chainload's
    ``rom``, holds the machine's POST) and ``dhcp_offer_wait`` (the PXE client's).
    """
    tune = dict(g.tune)
    chain = g.boot == "pxe-chainload-ipxe"
    rom_tune = {k: tune.pop(k) for k in _ROM_TUNED if k in tune} if chain else {}

    def one(ref, changes: dict) -> tuple[Profile, tuple]:
        if isinstance(ref, ProfileMix):
            parts = tuple((w, tuned(get_profile(n), changes, base)) for w, n in ref.parts)
            return parts[0][1], parts
        return tuned(get_profile(ref), changes, base), ()

    profile, profile_mix = one(g.profile, tune)
    rom, rom_mix = one(g.rom or "pxe-rom", rom_tune) if chain else (None, ())
    return profile, profile_mix, rom, rom_mix


def delivery_notes(inputs: FleetInputs) -> list[str]:
    """What the run's DNS servers, balancers and edge caches rest on (issue 16's models)."""
    notes = []
    for d in sorted(inputs.dns.values(), key=lambda d: d.name):
        if d.forward is not None:
            notes.append(f"DNS resolver {d.name!r}: {d.service_time * 1e3:g} ms per query "
                         f"(assumed), caches what it forwards to {d.forward!r} for the "
                         "records' TTL (RFC 1035 [rfc1035]) and forwards a name "
                         f"once for up to {d.clients_per_query} clients asking while its "
                         "query is out (BIND's clients-per-query; more are dropped and "
                         "resend); no negative caching, no prefetch.")
            continue
        ttl = f", TTL {d.ttl:g} s" if d.ttl is not None else ""
        notes.append(f"DNS server {d.name!r}: {d.service_time * 1e3:g} ms per query "
                     "(assumed, no published figure), records in "
                     f"{d.order} order{ttl}; iPXE resolves a name for each connection it "
                     "opens (no cache), on its retry timer (net/udp/dns.c).")
    for b in sorted(inputs.lbs.values(), key=lambda b: b.name):
        cap = (f", at most {b.max_connections} connections" if b.max_connections else "")
        if b.health != "passive":
            health = (f"health checks every {b.check_interval:g} s, each failing "
                      f"{b.check_timeout:g} s after it starts when the mirror does not "
                      f"answer, out after {b.fall} failed, back after {b.rise} passed")
        elif b.mode == "l4":
            health = ("no health checks (passive): a connection to a mirror that does not "
                      f"answer fails after {b.connect_timeout:g} s and goes to the next "
                      f"mirror; {b.max_fails} such failure(s) hold the mirror out for "
                      f"{b.fail_timeout:g} s, then one connection tries it again")
        else:
            health = ("no health checks (passive): it never connects to its mirrors, so it "
                      "never learns that one is dead: it keeps sending clients there")
        notes.append(f"Load balancer {b.name!r}: {b.mode}, {b.algorithm}, "
                     f"{b.service_time * 1e3:g} ms per request (assumed, no published "
                     f"figure){cap}; {health} ({_LB_DEFAULTS.get(b.model, b.model)}).")
    for s in sorted(inputs.services.values(), key=lambda s: s.name):
        if s.origin is not None:
            size = "" if math.isinf(s.cache) else f", {s.cache / 2**30:g} GiB kept"
            misses = "one fill for simultaneous misses" if s.coalesce else "a fill per miss"
            evict = ("least recently used objects evicted to make room (nginx's cache "
                     "manager)" if not math.isinf(s.cache) else "nothing evicted for room")
            evict += (f", objects unused for {s.inactive:g} s removed (nginx's inactive, "
                      "10 min by default)")
            notes.append(f"Edge cache {s.name!r}: fills from {s.origin!r} object by object"
                         f"{size}, {misses}; {evict}.")
    if inputs.wifi:
        mix = sorted({r for rates in inputs.wifi.values() for r in rates}, reverse=True)
        n = sorted({len(r) for r in inputs.wifi.values()})
        notes.append(f"Wi-Fi: {len(inputs.wifi)} access point(s) of "
                     f"{'/'.join(str(k) for k in n)} stations at "
                     f"{', '.join(f'{r:g}' for r in mix)} Mb/s (802.11a/g OFDM; iPXE has no "
                     "802.11n). A medium's capacity is Bianchi's DCF saturation throughput "
                     "for the stations transferring, shared equally (the 802.11 anomaly); "
                     f"each station scans and associates for {inputs.associate:g} s "
                     "(iPXE's NET80211_PROBE_GATHER). Not modelled: rate adaptation, "
                     "interference, hidden stations, retries beyond collisions, the PSK's "
                     "PBKDF2 time on the client.")
    ends = [(s.name, s.tls) for s in inputs.services.values() if s.tls is not None]
    ends += [(b.name, b.tls) for b in inputs.lbs.values() if b.tls is not None]
    for name, t in sorted(ends, key=lambda e: e[0]):
        notes.append(f"TLS ends at {name!r}: {t.cores} cores, {t.handshake * 1e3:.3g} ms of "
                     f"one core per full handshake and {t.cipher_rate / 1e9:.3g} GB/s a core "
                     "of bulk cipher (defaults: openssl speed on the lab machine, ECDHE-RSA-"
                     "2048 and AES-128-GCM; public-key and cipher work only, no record "
                     "processing); no session resumption.")
    return notes


def scope_notes(inputs: FleetInputs) -> list[str]:
    """The report's notes: scope, then what is uncalibrated in this run."""
    notes = list(SCOPE_NOTES) + [ENGINE_NOTES[inputs.engine]] + left_out(inputs)
    notes += delivery_notes(inputs)
    profiles: dict[str, Profile] = {}
    for g in inputs.groups:
        for prof in (g.profile, g.rom, *(p for _, p in g.profile_mix),
                     *(p for _, p in g.rom_mix)):
            if prof is not None:
                profiles.setdefault(prof.name, prof)
    for prof in sorted(profiles.values(), key=lambda p: p.name):
        if not prof.calibrated:
            notes.append(f"Firmware profile {prof.name!r} is not calibrated: its measured "
                         "values (per-block TFTP delay, TCP client latency, ROM start) are "
                         "left at 0; only ipxe-2019-qemu is fitted to lab boots so far.")
        if isinstance(prof.post, Dist) or prof.post > 0:
            b = prof.basis.get("post")
            post = prof.post.describe() if isinstance(prof.post, Dist) else f"{prof.post:g} s"
            rests = "" if b is None else (
                f": {b.basis}" + (f" ({', '.join(b.keys)})" if b.keys else "")
                + (f", its spread {b.spread}" if b.spread else ""))
            notes.append(f"Firmware profile {prof.name!r}: POST and firmware start {post}"
                         f", drawn per server{rests}.")
    for g in inputs.groups:
        if "(tuned:" in g.profile.description:
            notes.append(f"Group {g.name!r}: profile {g.profile.name!r} "
                         f"{g.profile.description[g.profile.description.index('(tuned:'):]} "
                         "— values set by the scenario, not measured.")
    if any(s.kind == "api" for s in inputs.services.values()):
        api = API.model()
        notes.append("Provisioning API: service time and concurrency are assumed "
                     f"({api.service_time * 1e3:g} ms, {api.concurrency} at once unless set), "
                     "not measured.")
    if any(s.https for s in inputs.services.values()):
        notes.append(f"HTTPS: iPXE's TLS 1.2 handshake takes {TLS_HANDSHAKE_RTTS} round "
                     "trips per new connection (measured in the lab with iPXE 2.0); the "
                     "client's own crypto time is not calibrated (measured only under an "
                     "emulator): taken as 0.")
    return notes


def left_out(inputs: FleetInputs) -> list[str]:
    """What this run's times leave out of a whole boot, said plainly (report notes).

    A scenario without a DHCP service starts its servers' clocks at their first fetch
    (plus the firmware's start); a firmware with no POST (``post`` 0) starts its ROM at
    power-on, where a physical server spends minutes first.
    """
    notes = []
    if not inputs.dhcp:
        notes.append("No DHCP service in this scenario: the servers fetch without DHCP, so "
                     "these times leave out iPXE's or the ROM's DHCP exchange (seconds: its "
                     "timers, the server's ping check); add a kind: dhcp service for a whole "
                     "boot.")
    for g in inputs.groups:
        mix = g.profile_mix if g.boot == "ipxe" else (g.rom_mix or g.profile_mix)
        first = g.profile if g.boot == "ipxe" else (g.rom or g.profile)
        if mix or isinstance(first.post, Dist) or first.post > 0:
            continue
        rom = first.rom_start
        lab = ", measured in the lab" if first.calibrated else ""
        start = (f"its ROM start {rom.describe()}{lab}" if isinstance(rom, Dist) else
                 f"its ROM start {rom:g} s{lab}" if rom > 0 else
                 "no ROM start (0: not measured)")
        notes.append(f"Group {g.name!r}: no POST before the boot ROM (firmware "
                     f"{first.name!r}: {start}); a physical server's POST and UEFI or BIOS "
                     "start take minutes before that (profiles server-uefi, server-bios), "
                     "not in these times.")
    for name, t in sorted(inputs.san.items()):
        b = t.boot
        share = b.os_read_share
        os_part = (f"then the OS reads {b.os / 1e6:g} MB in {b.os_iops:g} requests/s of "
                   f"{b.os_request / 1024:g} KiB, {share * 100:g} % of them reads"
                   + (f" (and writes {b.os * (1 - share) / share / 1e6:.4g} MB)"
                      if share < 1 else "") if b.os > 0 else
                   "and the OS reads nothing more from it (boot.os 0: give what your OS "
                   "reads until ready)")
        detect, give_up = os_timers(t.kind)
        who = {"iscsi": "open-iscsi's timers", "aoe": "Linux's AoE driver's timers",
               "fcoe": "the fabric's RSCN, then the FC transport's dev_loss_tmo"}[t.kind]
        notes.append(f"SAN target {name!r} ({t.kind}): a server booting from it reads "
                     f"{b.loader / 1e6:g} MB for its boot loader, one request at a time, "
                     f"{os_part}; every request shares the target's "
                     + (f"{t.iops:g} IOPS" if t.iops is not None else "unlimited IOPS")
                     + ". A target down during the reads: iPXE retries every 5 s or "
                     f"reopens on another path; the OS's initiator finds out after "
                     f"{detect:g} s and gives up after {give_up:g} s ({who}).")
    return notes


def run_built(built, *, name: str | None = None, trace: tuple[str, ...] = (),
              progress: Callable[[int, int, float], None] | None = None,
              watch: Callable[[float], None] | None = None,
              streams: Streams | None = None
              ) -> tuple[FleetRun, FleetInputs, float]:
    """Simulate a built scenario: ``(run, inputs, wall seconds)``.

    ``watch`` is called with the simulated time every few tens of thousands of steps
    and may raise to stop the run (the memory guard, :class:`netbootsim.memguard.Watch`).
    ``streams``: the run's random streams (default ``Streams(seed)``, a single run;
    a replication passes ``Streams(seed, r)``).

    Raises:
        InputError: only if an inventory file became unreadable since validation.
    """
    inputs = fleet_inputs(built)
    t0 = time.perf_counter()
    run = simulate(built.topology, inputs.groups, built.servers,
                   name=name or built.scenario.name, seed=built.seed,
                   full_recompute=built.run.full_recompute, until=built.run.until,
                   engine=built.run.engine, buffer=built.run.buffer,
                   host_queue=built.run.host_queue,
                   services=inputs.services, dhcp=inputs.dhcp, images=inputs.images,
                   scripts=inputs.scripts,
                   faults=inputs.faults, provisioners=inputs.provisioners,
                   orchestrators=inputs.orchestrators, dns=inputs.dns, lbs=inputs.lbs,
                   san=inputs.san, events=inputs.events,
                   trace=trace,
                   progress=progress, watch=watch, streams=streams)
    wall = time.perf_counter() - t0
    reclaim_if_large(memguard.rss())  # a large finished fleet's memory, before the summary
    return run, inputs, wall


#: Whose defaults a balancer model's are (the scope notes say so).
_LB_DEFAULTS = {"haproxy": "HAProxy's defaults", "lvs": "IPVS and keepalived's defaults",
                "nginx": "nginx's defaults"}


def random_block(built, inputs: FleetInputs) -> dict:
    """``summary["random"]``: every input drawn at random, and the links that lose packets.

    ``inputs``: each distribution of the run (:func:`netbootsim.fleet.random_inputs`:
    ``input``, ``per``, ``dist``, ``stream``); ``loss``: each link direction with a loss
    probability, and each loss fault, whose drops are drawn from the engine's stream
    (``net/laws`` on the flow engine, ``net/packets`` on the packet engine).
    """
    stream = "net/packets" if inputs.engine == "packet" else "net/laws"
    loss = []
    for dirs in built.topology.links().values():
        for d in dirs:
            if d.loss > 0:
                loss.append({"input": f"link {d.name}", "per": "packet",
                             "dist": f"lost with probability {d.loss:g}", "stream": stream})
    for name, windows in sorted(inputs.faults.link_loss.items()):
        for _, p in windows:
            loss.append({"input": f"link {name} (loss fault)", "per": "packet",
                         "dist": f"lost with probability {p:g} in the fault's window",
                         "stream": stream})
    return {"inputs": random_inputs(inputs.groups, inputs.services), "loss": loss}
