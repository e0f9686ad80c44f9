"""The world the iPXE interpreter drives while a machine runs iPXE.

:class:`IpxeWorld` is the :class:`netbootsim.ipxe.World` of one iPXE run on one
:class:`~.machine.Machine`: every ``dhcp``, ``chain``, ``kernel``, ``initrd``,
``imgverify`` and ``boot`` the script runs becomes simulated traffic and a record of
the machine. A fetch resolves its URI in the fleet's world (:meth:`.world.World.resolve`)
and moves the bytes there (TFTP, HTTP(S), or a provisioning API answering this machine);
faults (a service answering HTTP 500, an image served tampered with) are the world's
(:mod:`.faults`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import simpy

from ..ipxe import errors
from ..ipxe.world import DhcpReply, Fetched, Image, Outcome
from . import link
from .machine import Machine
from .san import (
    EIO_SAN,
    ENODEV_SAN,
    ETIMEDOUT_SAN,
    SAN_COMMAND_TIMEOUT,
    SAN_DEFAULT_RETRIES,
    SAN_REOPEN_DELAY,
    drive_reads,
)
from .spec import Group, Service
from .transport import Route
from .world import Target

__all__ = ["IpxeWorld", "default_script"]

#: HTTPS not built in: ENOTSUP as core/open.c [ipxe-src] returns for an unknown URI scheme
#: (the file part of the number approximated with httpcore's).
ENOTSUP_HTTPS = errors.einfo("ENOTSUP", "httpcore")
#: Certificate not trusted: EACCES from the validator (file part approximated).
EACCES_UNTRUSTED = errors.einfo("EACCES", "httpcore")
#: A CMS signature that does not match its image (crypto/cms.c EACCES_SIGNATURE [ipxe-src]).
EACCES_SIGNATURE = errors.einfo("EACCES", "cms", 0x01)


def default_script(group: Group) -> str:
    """The script a group without one runs: ``kernel``, ``initrd``..., ``boot``."""
    svc = group.service
    scheme = "tftp" if svc.kind == "tftp" else "http"
    names = [n for n, _ in group.images]
    lines = ["#!ipxe", f"kernel {scheme}://{svc.name}/{names[0]}"]
    lines += [f"initrd {scheme}://{svc.name}/{n}" for n in names[1:]]
    lines.append("boot")
    return "\n".join(lines) + "\n"


class IpxeWorld:
    """One machine as the iPXE interpreter's world, for one run of iPXE.

    Args:
        machine: the machine running iPXE.

    Attributes:
        why: the last failure this world reported to the interpreter, in the words of
            its record (the machine's failure reason names it rather than iPXE's
            error text).
    """

    __slots__ = ("_drives", "_pooled", "_tampered", "_told", "_why", "dns_servers", "env", "m")

    def __init__(self, machine: Machine):
        self.m = machine
        self.env = machine.env
        self._why = ""
        self._told = False  # the world reported the failure of the command running now
        self._tampered: dict[str, str] = {}  # URI -> service it came from tampered with
        #: (scheme, DNS name) -> the service its pooled HTTP connection goes to
        self._pooled: dict[tuple[str, str], str] = {}
        #: the DNS servers DHCP named (option 6); None: every one (or no DHCP yet)
        self.dns_servers: tuple[str, ...] | None = None
        #: SAN drives hooked: number -> (target, route from it)
        self._drives: dict[int, tuple] = {}

    @property
    def why(self) -> str:
        """The last failure this world reported (see the class's attributes)."""
        return self._why

    @why.setter
    def why(self, text: str) -> None:
        self._why, self._told = text, bool(text)

    def command_failed(self, where: tuple[str, int] | None, command: str, status: int,
                       detail: str) -> None:
        """An iPXE command failed: the machine's last error, unless the world said it.

        A failure the world reported (a fetch, DHCP, an API, a signature) is already the
        machine's last error, in the words of its record; one only the interpreter sees
        (a URI scheme the build cannot open, a missing image, a bad setting) is kept in
        iPXE's words, as ``netbootsim ipxe trace`` prints it, so that a stage timeout or
        the run's horizon can name it when a script loops on it.
        """
        if self._told:
            self._told = False
            return
        at = ""
        if where:  # the script's file name, without a URI's host and per-machine query
            name = where[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or where[0]
            at = f"{name}:{where[1]}: "
        extra = f" ({detail})" if detail else ""
        self.m.last_error = f"iPXE: {at}{command}: {errors.strerror(status)}{extra}"

    @property
    def now(self) -> float:
        """Simulated time (s)."""
        return self.env.now

    def dhcp(self) -> Generator[simpy.Event, Any, DhcpReply]:
        """The ``dhcp`` command: the exchange, as a reply the interpreter registers."""
        m = self.m
        d = yield from link.dhcp(m, ipxe_client=True)
        if d.outcome != "ok":
            self.why = f"dhcp: {d.reason}"
            return DhcpReply(errors.EADDRNOTAVAIL_CONFIG, d.reason)
        host = m.world.dhcp_hosts.get(d.server, "")
        self.dns_servers = m.world.dhcp_dns.get(d.server)  # option 6 of the server that answered
        values = {"ip": f"10.{(m.index >> 16) & 127}.{(m.index >> 8) & 255}.{m.index & 255}",
                  "next-server": m.world.host_ip.get(host, "0.0.0.0")}
        if d.boot_file:
            values["filename"] = d.boot_file
        return DhcpReply(0, "", values)

    def fetch(self, uri: str, *, name: str, timeout: float | None
              ) -> Generator[simpy.Event, Any, Fetched]:
        """Download ``uri``: a file from a TFTP/HTTP service, or a script from an API."""
        m = self.m
        world = m.world
        env = self.env
        name_uri = uri
        if (host := world.dns_name(uri)) is not None:  # a DNS name: resolve it first
            # unless an HTTP connection to that name is pooled: iPXE reuses one whose
            # scheme, host name and port match before it opens (and resolves) a new one
            # (net/tcp/httpconn.c http_connect [ipxe-src]); TFTP resolves every time
            scheme = urlsplit(uri).scheme.lower()
            service = self._pooled.get((scheme, host))
            if service is None or service not in world.connections.get(m.server, {}):
                look = yield from world.dns.lookup(env, m.server, host, self.dns_servers)
                m.record("dns", look.start, look.end, 0.0, "dns", look.server,
                         "failed" if look.status else "ok", look.reason)
                if look.status:
                    self.why = f"dns: {look.reason}"
                    return Fetched(look.status, look.reason)
                service = look.service
                if scheme in ("http", "https"):
                    self._pooled[(scheme, host)] = service
            name_uri = _with_host(uri, service)
        lb = via = None
        if world.lb_at:  # (a URI is parsed for a balancer only when there are some)
            parts = urlsplit(name_uri)
            lb = world.lb_at.get((parts.hostname or "").rstrip("."))
            file = parts.path.rsplit("/", 1)[-1]
        if lb is not None and lb.spec.mode == "l4":  # through it: a mirror per connection
            key = ("lb", lb.spec.name)
            mirror = self._pooled.get(key)
            if mirror is None or lb.spec.name not in world.connections.get(m.server, {}):
                asked = env.now
                mirror, gave_up = yield from world.l4_mirror(lb, m.server)
                for dead, when in gave_up:  # passive health: found out by connecting
                    m.record(f"upstream-wait:{file}", asked, when, 0.0, "http", lb.spec.name,
                             "ok", f"{dead} did not answer {lb.spec.name}'s connection in "
                             f"{lb.spec.connect_timeout:g} s; next mirror")
                    asked = when
                if mirror is None:
                    code, why = (errors.ECONNRESET_TCP, (
                        f"{lb.spec.name} closed the connection: every mirror of its pool "
                        "failed to answer or is held out after failing (no live "
                        "upstreams)")) if lb.passive else (errors.EIO_HTTP_5XX, (
                            f"HTTP 503 from {lb.spec.name}: every mirror of its pool is "
                            "out (health checks)"))
                    m.record(f"fetch:{file}", env.now, env.now, 0.0, "http", lb.spec.name,
                             "failed", why)
                    self.why = why
                    return Fetched(code, why)
                self._pooled[key] = mirror
            name_uri, via = _with_host(name_uri, mirror), lb
        elif lb is not None:  # a 302 redirector: ask it, then fetch from the mirror it names
            res, mirror = yield from world.redirect(
                m.server, lb, tls=parts.scheme.lower() == "https",
                tls_client_time=m.profile.tls_client_time)
            m.record(f"redirect:{file}", res.start, res.end, 0.0, "http", lb.spec.name,
                     res.outcome, res.reason or f"302 to {mirror}")
            if mirror is None:
                self.why = f"redirect:{file}: {res.reason}"
                code = errors.EIO_HTTP_5XX if "503" in res.reason else errors.ETIMEDOUT_TCP
                return Fetched(code, res.reason)
            name_uri = _with_host(name_uri, mirror)
        target = world.resolve(name_uri)
        if isinstance(target, str):
            m.record(f"fetch:{name}", env.now, env.now, outcome="failed", reason=target)
            self.why = f"fetch:{name}: {target}"
            return Fetched(errors.ENOENT_HTTP_404, target)
        svc = target.service
        tls = target.scheme == "https"
        if tls and (refused := self._https_refused(svc)):
            phase = f"api:{svc.name}" if svc.kind == "api" else f"fetch:{target.file}"
            code, why = refused
            m.record(phase, env.now, env.now, 0.0, "https", svc.name, "failed", why)
            self.why = f"{phase}: {why}"
            return Fetched(code, why)
        if svc.kind == "api":
            return (yield from self._api(svc, target, uri, name, tls))
        size = world.images.get(target.file)
        if size is None:
            proto = svc.kind
            m.record(f"fetch:{target.file}", env.now, env.now, 0.0, proto, svc.name,
                     "failed", f"{target.file!r} not found on {svc.name}")
            self.why = f"fetch:{target.file}: not found on {svc.name}"
            return Fetched(errors.ENOENT_TFTP if proto == "tftp" else errors.ENOENT_HTTP_404,
                           f"{target.file!r} not found on {svc.name}")
        g = m.group
        if svc.kind == "http" and world.faults.erroring(svc.name, env.now):
            why = f"HTTP 500 from {svc.name} (service-error fault)"
            m.record(f"fetch:{target.file}", env.now, env.now, 0.0, target.scheme,
                     svc.name, "failed", why)
            self.why = f"fetch:{target.file}: {why}"
            return Fetched(errors.EIO_HTTP_5XX, why)
        if svc.kind == "tftp":
            res = yield from world.tftp(m.server, g.name, m.rack, m.stage, m.attempt,
                                        m.profile, svc, target.file, size)
        else:
            res = yield from world.http(m.server, g.name, m.rack, m.stage, m.attempt,
                                        m.profile, svc, target.file, size, tls=tls, via=via)
        m.record(f"fetch:{target.file}", res.start, res.end, res.bytes, res.protocol,
                 svc.name, res.outcome, res.reason)
        m.bytes += res.bytes
        if res.outcome != "ok":
            self.why = f"fetch:{target.file}: {res.reason}"
            code = errors.ETIMEDOUT_TFTP if svc.kind == "tftp" else errors.ETIMEDOUT_TCP
            return Fetched(code, res.reason)
        text = world.scripts.get(target.file)
        if text is not None:
            img = Image(name or target.file, uri, int(size), "script", text)
        else:
            img = Image(name or target.file, uri, int(size), "binary")
        # the interpreter may register a copy of the image: remember the copy by its URI
        # (the latest fetch of a URI is the one a following imgverify checks)
        self._tampered.pop(uri, None)
        if world.faults.tampered_at(svc.name, target.file, res.start):
            self._tampered[uri] = svc.name
        return Fetched(0, "", img)

    def _https_refused(self, svc: Service) -> tuple[int, str] | None:
        """Why an ``https://`` fetch from ``svc`` cannot work, or None."""
        profile = self.m.profile
        if not profile.https:
            return (ENOTSUP_HTTPS, f"HTTPS is not built into {profile.name} "
                                   "(config/general.h [ipxe-src])")
        if not svc.https:
            return errors.ECONNRESET_TCP, f"{svc.name} does not serve HTTPS (port 443 refused)"
        if not svc.trusted:
            return (EACCES_UNTRUSTED, f"{svc.name}'s certificate does not chain to the "
                                      "client's trust anchor")
        return None

    def _api(self, svc: Service, target: Target, uri: str, name: str, tls: bool
             ) -> Generator[simpy.Event, Any, Fetched]:
        """A request to a provisioning API: its answer for this machine."""
        m = self.m
        world = m.world
        prov = world.provisioners.get(svc.name)
        status, role, error = 200, "", ""
        if prov is not None:
            status, text, role = prov.answer(target.query, m.identity())
            if status == 404:
                error = f"HTTP 404: no template for role {role}"
            elif status != 200:  # the error page names the template, its line, the reason
                error = f"{text} (HTTP {status})"
        else:
            text = svc.script if svc.script is not None else default_script(m.group)
        size = len(text.encode())
        res = yield from world.api(m.server, svc, size, tls=tls,
                                   tls_client_time=m.profile.tls_client_time)
        if res.outcome == "ok" and world.faults.erroring(svc.name, res.end):
            status, error = 500, "HTTP 500: internal server error (service-error fault)"
        why = res.reason if res.outcome != "ok" else error
        m.record(f"api:{svc.name}", res.start, res.end, res.bytes if not why else 0.0,
                 "https" if tls else "http", svc.name, "failed" if why else "ok",
                 why or (f"role {role}" if role else ""))
        if why:
            self.why = f"api:{svc.name}: {why}"
            code = errors.ETIMEDOUT_TCP if res.outcome != "ok" else (
                errors.EIO_HTTP_5XX if status >= 500 else errors.ENOENT_HTTP_404)
            return Fetched(code, why)
        return Fetched(0, "", Image(name or "script", uri, size, "script", text))

    def verify(self, image: Image, signature: Image, signer: str | None
               ) -> Generator[simpy.Event, Any, Outcome]:
        """``imgverify``: fails for an image fetched while a tamper fault covered it.

        It takes the firmware profile's ``imgverify_time + size / imgverify_rate``
        (the image hashed, then the signature and its chain checked), refused or not:
        the lab's tampered image was refused after as long as a good one was trusted.
        """
        t = self.env.now
        prof = self.m.profile
        took = prof.imgverify_time + image.size / prof.imgverify_rate
        if took > 0:
            yield self.env.timeout(took)
        bad = self._tampered.get(image.uri)
        if bad:
            why = f"signature-invalid: {image.name} from {bad} was tampered with"
            self.m.record(f"imgverify:{image.name}", t, self.env.now, outcome="failed",
                          reason=why)
            self.why = f"imgverify:{image.name}: {why}"
            return Outcome(errors.EACCES_WRONG_NAME if signer else EACCES_SIGNATURE, why)
        self.m.record(f"imgverify:{image.name}", t, self.env.now, endpoint=signature.name)
        return Outcome(0, "")

    def san(self, op: str, drive: int, uris: tuple[str, ...], *, describe: bool,
            filename: str | None, extra: str | None) -> Generator[simpy.Event, Any, Outcome]:
        """``sanhook``/``sanboot``/``sanunhook`` against the run's targets (:mod:`.san`).

        ``hook``: each URI is a path to the drive; the first that attaches is used (its
        round trips and the target's attach time); with none, the command fails after
        iPXE's SAN command timeout. ``boot``: the boot loader's reads from the drive,
        then the hand-over (the OS's reads follow in the stage). ``describe`` (iBFT,
        aBFT) takes no time; ``filename``/``extra`` change nothing read here.
        """
        m, env = self.m, self.env
        world = m.world
        san = world.san
        if op == "unhook":
            gone = self._drives.pop(drive, None)
            if gone is not None:
                san.logout(gone[0][0][0])
                m.san_sessions.remove(gone[0][0][0])
            return Outcome(0, "")
        if op == "hook":
            t0 = env.now
            found, whys = [], []
            down = world.faults.links_down(t0)
            for uri in uris:
                spec, why = san.find(uri, m.server)
                if spec is None:
                    whys.append(why)
                    continue
                fwd, back, rtt = world.topology.round_trip(spec.host, m.server,
                                                           f"{m.server}/san", down)
                found.append((san.attach_time(spec, rtt), spec, fwd, back, rtt))
            if not found:
                yield env.timeout(SAN_COMMAND_TIMEOUT)
                why = "; ".join(whys)
                m.record("san-attach", t0, env.now, protocol=uris[0].split(":", 1)[0],
                         outcome="failed", reason=why)
                self.why = f"san-attach: {why}"
                return Outcome(ETIMEDOUT_SAN, why)
            found.sort(key=lambda f: (f[0], f[1].name))  # the first path to attach first
            took = found[0][0]
            faults = world.faults
            for tries in range(1 + SAN_DEFAULT_RETRIES):  # refused: reopen, retry
                yield env.timeout(took)
                got = next((f for f in found if faults.down(f[1].name, env.now) is None
                            and san.login(f[1])), None)
                if got is not None:
                    break
                if tries == SAN_DEFAULT_RETRIES:
                    names = ", ".join(sorted({f[1].name for f in found}))
                    dead = all(faults.down(f[1].name, env.now) for f in found)
                    why = (f"login refused by {names}: "
                           + ("down" if dead else "every session taken")
                           + f" ({1 + SAN_DEFAULT_RETRIES} tries, {SAN_REOPEN_DELAY:g} s "
                           "apart)")
                    m.record("san-attach", t0, env.now, protocol=found[0][1].kind,
                             endpoint=found[0][1].name, outcome="failed", reason=why)
                    self.why = f"san-attach: {why}"
                    return Outcome(EIO_SAN, why)
                yield env.timeout(SAN_REOPEN_DELAY)
            spec = got[1]
            # every path of the drive, the one attached first (the others for a failover)
            paths = [(f[1], Route(f[2], f[3], f[4], [world._resource(ld) for ld in f[2]]))
                     for f in [got, *(f for f in found if f is not got)]]
            old = self._drives.get(drive)
            if old is not None:  # hooked again: the old session goes
                san.logout(old[0][0][0])
                m.san_sessions.remove(old[0][0][0])
            self._drives[drive] = (paths, 0)
            m.san_sessions.append(spec)
            m.record("san-attach", t0, env.now, protocol=spec.kind, endpoint=spec.name,
                     reason=f"{tries} logins refused first" if tries else "")
            return Outcome(0, "", drive)
        hooked = self._drives.get(drive)
        if hooked is None:
            why = f"no SAN device {drive:#x}"
            self.why = f"sanboot: {why}"
            return Outcome(ENODEV_SAN, why)
        paths, first = hooked
        res, at = yield from drive_reads(m, paths, first, "loader")
        if res.outcome != "ok":
            self.why = f"san-read:loader: {res.reason}"
            return Outcome(ETIMEDOUT_SAN, res.reason)
        m.san_boot = (paths, at)
        return Outcome(0, "")

    def reboot(self, kind: str) -> Generator[simpy.Event, Any, Outcome]:
        """``reboot``/``poweroff``: the attempt ends; the stage's policy decides what next."""
        self.m.record("poweroff" if kind == "poweroff" else "reboot", self.env.now,
                      self.env.now, reason=kind)
        return Outcome(0, "")
        yield  # a generator, as the protocol asks

    def sleep(self, seconds: float) -> Generator[simpy.Event, Any, bool]:
        """``sleep``: simulated time passes; no key interrupts it."""
        yield self.env.timeout(seconds)
        return False

    def getkey(self, timeout: float | None) -> Generator[simpy.Event, Any, int | None]:
        """Wait for a key that never comes."""
        # Nobody types at a booting fleet: wait out the timeout (for ever without one).
        yield self.env.timeout(timeout) if timeout is not None else self.env.event()
        return None

    def boot(self, image: Image, loaded: list[Image]) -> Generator[simpy.Event, Any, int]:
        """Hand over to the kernel: recorded as ``boot`` (no simulated time)."""
        self.m.record("boot", self.env.now, self.env.now, endpoint=image.name,
                      reason=" ".join(i.name for i in loaded))
        return 0
        yield  # a generator, as the protocol asks (booting takes no simulated time here)

    def console(self, text: str) -> None:
        """Keep the console of traced servers (``netbootsim ipxe trace``), with times."""
        m = self.m
        if m.server in m.world.trace:
            m.console_lines.append((self.env.now, text))


def _with_host(uri: str, host: str) -> str:
    """``uri`` with its host name replaced by ``host`` (user and port kept)."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    user, at, rest = netloc.rpartition("@")
    port = rest[len(rest.split(":", 1)[0]):] if not rest.startswith("[") else ""
    return urlunsplit(parts._replace(netloc=f"{user}{at}{host}{port}"))
