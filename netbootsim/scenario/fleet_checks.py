"""Cross-reference checks of the fleet's boot paths, lifecycle and group faults."""

from __future__ import annotations

import re

from ..clock import DEFAULT_HORIZON
from ..dist import DistError
from ..ipxe.spec import BUILDS
from ..profiles import PROFILES, profile_names, tuned
from .messages import suggest
from .power_checks import power_checks
from .schema import EMPIRICAL_BASE

__all__ = ["fleet_checks", "stage_checks"]

Issue = tuple[tuple, str]


def _image(issues: list[Issue], path: tuple, name: str | None, images: set[str]) -> None:
    if name is not None and name not in images:
        issues.append((path, f"unknown image {name!r}{suggest(name, sorted(images))}; "
                             f"images: {', '.join(sorted(images)) or 'none declared'}"))


def _boot_file(issues: list[Issue], path: tuple, platform: str, value: str,
               images: set[str]) -> None:
    """A boot file: an image's name, or (UEFI HTTP boot) an ``http://`` URL of one.

    A BIOS PXE ROM fetches over TFTP only; UEFI HTTPS boot (its certificates enrolled in
    the firmware) is not modelled.
    """
    low = value.lower()
    if not low.startswith(("http://", "https://")):
        _image(issues, path, value, images)
        return
    if low.startswith("https://"):
        issues.append((path, "UEFI HTTPS boot is not modelled (the firmware's trusted "
                             "certificates); give an http:// URL or an image's name"))
    elif platform == "bios":
        issues.append((path, "a BIOS PXE ROM fetches its boot file over TFTP only: an "
                             "http:// boot file is UEFI HTTP boot's (platforms uefi, "
                             "uefi-arm64); give the image's name"))
    else:
        _image(issues, path, value.rsplit("/", 1)[-1], images)


def _service(issues: list[Issue], path: tuple, name: str | None, kinds: dict,
             want: tuple[str, ...]) -> None:
    if name is None:
        return
    if name not in kinds:
        issues.append((path, f"unknown service {name!r}{suggest(name, sorted(kinds))}; "
                             f"services: {', '.join(sorted(kinds)) or 'none declared'}"))
    elif kinds[name] not in want:
        issues.append((path, f"service {name!r} is a {kinds[name]} service; this needs "
                             f"{' or '.join(want)}"))


def stage_checks(issues: list[Issue], p: tuple, stages, images: set[str], kinds: dict,
                 modes: dict | None = None) -> None:
    """Stages at ``(*p, "stages")``, a group's or a reprovision's.

    Unique names, the install's image and http service (or 302 redirector: ``modes``
    gives each balancer's), each on-failure policy's fields.
    """
    modes = modes or {}
    seen: dict[str, int] = {}
    for j, st in enumerate(stages):
        sp = (*p, "stages", j)
        if ":" in st.name:
            issues.append(((*sp, "name"), f"{st.name!r}: no ':' in a stage's name (records "
                                          "name a lifecycle event's stages <event>:<stage>)"))
        if st.name in seen:
            issues.append(((*sp, "name"), f"duplicate stage {st.name!r} (first at "
                                          f"stages[{seen[st.name]}])"))
        seen.setdefault(st.name, j)
        if st.install is not None:
            _image(issues, (*sp, "install", "image"), st.install.image, images)
            _service(issues, (*sp, "install", "server"), st.install.server, kinds,
                     ("http", "lb"))
            if kinds.get(st.install.server) == "lb" and \
                    modes.get(st.install.server) != "redirect":
                issues.append(((*sp, "install", "server"), f"{st.install.server!r} is an l4 "
                               "balancer: an install through one is not modelled; give a "
                               "redirector (mode: redirect) or a mirror"))
        if st.on_failure != "retry" and st.retries:
            issues.append(((*sp, "retries"), "only used with on_failure: retry"))
        if st.on_failure == "reboot" and st.timeout is None:
            issues.append(((*sp, "timeout"), "required with on_failure: reboot (else a "
                                             "failing server reboots for ever)"))


def _fallback_checks(name: str, services: dict, kinds: dict) -> list[Issue]:
    """An edge's ``fallback`` naming a service: an http service, and no loop of edges."""
    p = ("services", name, "fallback")
    svc = services[name]
    issues: list[Issue] = []
    _service(issues, p, svc.fallback, kinds, ("http",))
    if issues:
        return issues
    chain, at = [name], svc.fallback
    while at not in chain:  # down edges hand their clients on, each to its fallback
        chain.append(at)
        nxt = services[at]
        if getattr(nxt, "origin", None) is None or nxt.fallback == "none":
            return []
        at = nxt.origin if nxt.fallback == "origin" else nxt.fallback
        if at not in services:  # its own origin or fallback check reports it
            return []
    return [(p, "fallbacks loop: " + " -> ".join([*chain, at]) + " (with all of them "
                "down a client would be sent round for ever; end the chain at the origin "
                "or with none)")]


def _after_horizon(at: float, until: float) -> str:
    default = " (the default: 7 days)" if until == DEFAULT_HORIZON else ""
    return (f"{at:g} s is after the run's horizon, run.until = {until:g} s{default}: "
            "the group's servers would never power on; give a later run.until")


def _firmware_checks(g, p: tuple, parts) -> list[Issue]:
    """A group's server-class firmware and boot files.

    A server class (a profile with a platform: POST, then the NIC's PXE ROM) starts the
    machine: it is a ``pxe`` group's ``profile`` or a chainload's ``rom``, never the
    iPXE that runs after. Each platform a group's PXE clients can have needs a boot file
    when the group names its own (``boot_files``), unless a DHCP service has one.
    """
    issues: list[Issue] = []
    if g.boot != "pxe":  # profile: the iPXE that runs (after the ROM, in a chainload)
        for sub, name in profile_names(g.profile):
            prof = PROFILES.get(name)
            if prof is not None and prof.platform is not None:
                where = ("rom: " + name if g.boot == "pxe-chainload-ipxe"
                         else "boot: pxe with this profile, or boot: pxe-chainload-ipxe "
                              f"with rom: {name}")
                issues.append(((*p, "profile", *sub), f"{name!r} is a server class (POST, "
                               "then its PXE ROM), not the iPXE that boot path "
                               f"{g.boot!r} runs; give it as {where}"))
    for plat, image in g.boot_files.items():
        _boot_file(issues, (*p, "boot_files", plat), plat, image, parts.image_names)
    if not g.boot_files:
        return issues
    if g.boot == "ipxe":
        issues.append(((*p, "boot_files"), "only used by boot paths 'pxe' and "
                                           "'pxe-chainload-ipxe' (a PXE ROM's boot file)"))
        return issues
    first = g.rom if g.boot == "pxe-chainload-ipxe" else g.profile
    first = "pxe-rom" if first is None else first
    served = {plat for _, svc in parts.services.items()
              if getattr(svc, "kind", "") == "dhcp" for plat in svc.boot_files}
    for _, name in profile_names(first):
        prof = PROFILES.get(name)
        if prof is None:
            continue
        plat = prof.platform or g.arch
        if plat not in g.boot_files and plat not in served:
            issues.append(((*p, "boot_files"), f"no boot file for platform {plat!r} "
                           f"(profile {name!r}); give boot_files.{plat}"))
    return issues


def fleet_checks(parts) -> list[Issue]:
    """Groups' scripts, ROMs, NBPs, DHCP, stages, power-on; DHCP boot files; faults."""
    issues: list[Issue] = []
    images, kinds = parts.image_names, parts.service_kinds
    groups = {g.name for _, g in parts.group_refs if g.name is not None}
    for i, g in parts.fleet:
        p = ("fleet", i)
        if g.server is None and g.script is None:
            issues.append(((*p, "server"), "required (the service the images come from), "
                                           "unless the group gives a script"))
        elif g.server is None and all(k in ("dhcp", "orchestrator") for k in kinds.values()):
            issues.append(((*p, "server"), "no tftp or http service to boot from"))
        if not g.images and (g.script is None or g.boot == "pxe"):
            issues.append(((*p, "images"), "give at least one image"
                           + ("" if g.boot == "pxe" else " (or a script)")))
        if g.rom is not None:
            if g.boot != "pxe-chainload-ipxe":
                issues.append(((*p, "rom"), "only used by boot path 'pxe-chainload-ipxe'"))
            else:
                for sub, name in profile_names(g.rom):
                    if name not in PROFILES:
                        issues.append(((*p, "rom", *sub), f"unknown firmware profile "
                                       f"{name!r}{suggest(name, list(PROFILES))}; known: "
                                       f"{', '.join(PROFILES)}"))
        issues += _firmware_checks(g, p, parts)
        _image(issues, (*p, "nbp"), g.nbp, images)
        if parts.run is not None and g.power_on.at > parts.run.until:
            issues.append(((*p, "power_on", "at"), _after_horizon(g.power_on.at,
                                                                  parts.run.until)))
        tunes = [n for _, n in profile_names(g.profile) if n in PROFILES][:1]
        if g.tune and tunes:
            for key, value in g.tune.items():
                try:
                    tuned(PROFILES[tunes[0]], {key: value}, EMPIRICAL_BASE.get())
                except DistError as e:  # at the line of the part that is wrong
                    issues.append(((*p, "tune", key, *e.sub), e.msg))
                except ValueError as e:
                    msg = str(e).removeprefix(f"{key}: ")
                    issues.append(((*p, "tune", key), msg))
        if g.build is not None and g.build not in BUILDS:
            issues.append(((*p, "build"), f"unknown iPXE build {g.build!r}"
                           f"{suggest(g.build, sorted(BUILDS))}; known: "
                           f"{', '.join(sorted(BUILDS))}"))
        _service(issues, (*p, "dhcp"), g.dhcp, kinds, ("dhcp",))
        stage_checks(issues, p, g.stages, images, kinds,
                     {n: getattr(v, "mode", None) for n, v in parts.services.items()})
    taken = {n.lower() for n in kinds} | {h.lower() for h in parts.host_names or ()}
    for name, svc in parts.services.items():
        if getattr(svc, "kind", "") == "dhcp":
            for arch, file in svc.boot_files.items():
                _boot_file(issues, ("services", name, "boot_files", arch), arch, file, images)
            for j, server in enumerate(svc.dns or ()):
                _service(issues, ("services", name, "dns", j), server, kinds, ("dns",))
        if getattr(svc, "kind", "") == "dns":
            issues += _dns_checks(name, svc, kinds, taken, parts.services)
        if getattr(svc, "kind", "") == "http" and svc.tls is not None and not svc.https:
            issues.append((("services", name, "tls"), "the service serves no https:// "
                           "(give https: true), so no TLS ends here"))
        if getattr(svc, "kind", "") == "http" and svc.origin is not None:
            p = ("services", name, "origin")
            chain, at = [name], svc.origin
            while at is not None and at not in chain and at in parts.services:
                chain.append(at)
                at = getattr(parts.services[at], "origin", None)
            if at in chain:
                issues.append((p, "origins loop: " + " -> ".join([*chain, at]) + " (an edge "
                                  "must fill from a service that holds the images)"))
            else:
                _service(issues, p, svc.origin, kinds, ("http",))
        if getattr(svc, "kind", "") == "http" and svc.origin is not None \
                and svc.fallback not in ("origin", "none"):
            issues += _fallback_checks(name, parts.services, kinds)
        if getattr(svc, "kind", "") == "http" and svc.origin is None:
            for field in ("cache", "inactive", "fallback"):
                if field in svc.model_fields_set:
                    issues.append((("services", name, field), "only for an edge cache "
                                   "(a service with an origin)"))
        if getattr(svc, "kind", "") == "lb" and svc.model == "lvs" and svc.mode != "l4":
            issues.append((("services", name, "mode"), "model lvs (IPVS) balances connections "
                           "(mode: l4); it does not answer HTTP with redirects"))
        if getattr(svc, "kind", "") == "lb":
            for j, member in enumerate(svc.pool):
                p = ("services", name, "pool", j)
                if kinds.get(member) == "lb":
                    issues.append((p, f"{member!r} is a load balancer: a pool holds http "
                                      "services (a redirect to a redirector is not modelled, "
                                      "and two that name each other redirect for ever)"))
                else:
                    _service(issues, p, member, kinds, ("http",))
    for i, f in parts.faults:
        p = ("faults", i)
        if f.kind == "service-slow" and f.factor is None:
            issues.append(((*p, "factor"), "required for a service-slow fault (how many "
                                           "times slower)"))
        if f.kind != "service-slow" and f.factor is not None:
            issues.append(((*p, "factor"), f"not used by a {f.kind} fault"))
        if f.kind == "tamper":
            svc, _, image = f.target.rpartition(":")
            _image(issues, (*p, "target"), image, images)
            if svc:
                _service(issues, (*p, "target"), svc, kinds, ("http", "tftp"))
        if f.kind in ("lacp", "stp") and f.target not in groups:
            issues.append(((*p, "target"), f"a {f.kind} fault applies to a fleet group's "
                           f"ports; unknown group {f.target!r}"
                           f"{suggest(f.target, sorted(groups))}"))
        if f.kind == "loss" and f.target in groups:
            issues.append(((*p, "target"), "a loss fault applies to a link, not a group"))
        if f.kind in ("lacp", "stp") and f.duration is None:
            issues.append(((*p, "duration"), f"required for a {f.kind} fault (how long "
                                             "after each link-up)"))
        if f.every is not None or f.times is not None:
            issues += _repeat_checks(f, p, groups)
        if f.kind == "server-fail" and f.duration is not None:
            issues.append(((*p, "duration"), "not used by a server-fail fault: the server "
                                             "stays down for the rest of the run (its "
                                             "repair and new boot are not modelled)"))
        if f.kind == "link-down" and f.target in groups and f.duration is None:
            issues.append(((*p, "duration"), "required for a group's link-down (how long "
                                             "after each power-on)"))
    return issues + power_checks(parts)


def _repeat_checks(f, p: tuple, groups) -> list:
    """A repeated fault (``every``, ``times``): one window of a link, service or image."""
    issues = []
    if f.kind in ("lacp", "stp", "server-fail") or f.target in groups:
        field = "every" if f.every is not None else "times"
        issues.append(((*p, field), f"not used by a {f.kind} fault of "
                       f"{'a group' if f.target in groups else 'a server'}: only a window "
                       "of a link, a service or an image repeats"))
        return issues
    if f.every is None:
        issues.append(((*p, "every"), "required with times (the period of the windows)"))
        return issues
    if f.times is None:
        issues.append(((*p, "times"), "required with every (how many windows)"))
    if not isinstance(f.duration, (int, float)):
        issues.append(((*p, "duration"), "required with every (how long each window is)"))
    elif f.duration >= f.every:
        issues.append(((*p, "duration"), f"{f.duration:g} s is not shorter than every "
                       f"({f.every:g} s): the windows would run into each other"))
    return issues


_DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+\.?")


def _dns_checks(name: str, svc, kinds: dict, taken: set[str], services: dict) -> list:
    """A DNS server's records: full names, not a service's or host's, naming services.

    Several servers may answer for one name (a primary and its secondaries). A caching
    resolver (``forward``) holds no records and forwards to an authoritative server
    with a ``ttl`` (a chain of resolvers is not modelled).
    """
    issues: list = []
    here = ("services", name)
    if (svc.records is None) == (svc.forward is None):
        where = (*here, "forward") if svc.forward is not None else here
        issues.append((where, "give records (an authoritative server) or forward (a caching "
                              "resolver: the DNS service it asks), one of the two"))
    if svc.forward is not None:
        p = (*here, "forward")
        _service(issues, p, svc.forward, kinds, ("dns",))
        up = services.get(svc.forward)
        if svc.forward == name:
            issues.append((p, "a resolver cannot forward to itself"))
        elif getattr(up, "kind", "") == "dns" and up.records is None:
            issues.append((p, f"{svc.forward!r} is a resolver itself: forward to a server with "
                              "records (a chain of resolvers is not modelled)"))
        elif getattr(up, "kind", "") == "dns" and up.ttl is None:
            issues.append((p, f"{svc.forward!r} has no ttl: give its records' ttl, the time "
                              "a resolver may cache them (the zone's choice; no default)"))
    for rname, targets in (svc.records or {}).items():
        p = ("services", name, "records", rname)
        low = rname.lower().rstrip(".")
        if not _DNS_NAME.fullmatch(rname.lower()):
            issues.append((p, f"{rname!r} is not a full DNS name (labels of letters, digits "
                              "and hyphens, with a dot: a name without one would go through "
                              "iPXE's DNS search list, not modelled)"))
        elif low in taken:
            issues.append((p, f"{rname!r} is already the name of a service or host (URIs "
                              "naming it reach it without DNS)"))
        for j, target in enumerate(targets):
            _service(issues, (*p, j), target, kinds, ("http", "tftp", "api", "lb"))
    return issues
