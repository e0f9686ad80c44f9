"""One server, as its boot log reads: power-on, firmware, DHCP, boot files, OS.

A :class:`Machine` is a SimPy process per server that runs the group's lifecycle
(:class:`~.spec.Stage` after stage, each with its timeout and on-failure policy) and
one of three boot paths per attempt:

* ``pxe``: the PXE ROM's DHCP (:data:`netbootsim.services.dhcp.PXE_SCHEDULE`), then TFTP of the
  boot file DHCP names (the NBP), which then TFTPs the group's kernel and initrd with
  the ROM's UDP stack;
* ``pxe-chainload-ipxe``: the PXE ROM's DHCP and TFTP of the NBP (``undionly.kpxe``),
  then iPXE starts and does the rest, as ``ipxe``;
* ``ipxe``: iPXE's autoboot — ``dhcp``, then the script: the one DHCP names (a URL,
  often a provisioning API answering per machine), else the group's own script. The
  script runs in the iPXE interpreter (:mod:`netbootsim.ipxe`); the machine is its
  world, so every ``dhcp``, ``chain``, ``kernel``, ``initrd`` and ``boot`` it runs
  becomes simulated traffic and a record.

After the kernel boots, the OS phase: the installer streams the stage's image to disk
over HTTP (Linux TCP, bounded by the disk's write rate), then the stage's ``work``
time (commissioning scripts, first boot, reporting ready).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Generator
from typing import Any

import simpy

from .. import ipxe
from ..ipxe import errors
from ..ipxe.world import DhcpReply, Fetched, Image, Outcome
from ..net.packet_l2 import DhcpCarrier
from ..profiles import Profile
from ..protocols.result import TransferResult
from ..services.dhcp import DhcpClient, dhcp_client
from .spec import Group, Stage
from .world import Target, World

__all__ = ["Machine", "default_script", "STP_MAX_DEFERRALS", "LINK_WAIT", "CHAIN_START"]

#: iPXE defers DHCP while the link is blocked (STP): 1 s per deferral, at most 180
#: (DHCP_DISC_MAX_DEFERRALS, config/dhcp.h:32 [ipxe-src]).
STP_MAX_DEFERRALS = 180
#: iPXE waits this long for link-up before DHCP (LINK_WAIT_TIMEOUT, usr/ifmgmt.c:47).
LINK_WAIT = 15.0
#: A chainloaded iPXE's start-up, NBP loaded → its first DHCPDISCOVER: 2.42 s measured
#: (tests/data/lab/traces/chainload, console 3.552 → 5.976 s), mostly the 2 s "Press
#: Ctrl-B" banner (BANNER_TIMEOUT 20 tenths, config/general.h:225 [ipxe-src]).
CHAIN_START = 2.42
#: HTTPS not built in: ENOTSUP as core/open.c returns for an unknown URI scheme (the file
#: part of the number approximated with httpcore's).
ENOTSUP_HTTPS = errors.einfo("ENOTSUP", "httpcore")
#: Certificate not trusted: EACCES from the validator (file part approximated).
EACCES_UNTRUSTED = errors.einfo("EACCES", "httpcore")
#: A CMS signature that does not match its image (crypto/cms.c EACCES_SIGNATURE).
EACCES_SIGNATURE = errors.einfo("EACCES", "cms", 0x01)
#: Namespace for the servers' SMBIOS UUIDs (derived from the server name, stable).
_UUID_NS = uuid.UUID("6e657462-6f6f-7473-696d-000000000000")


def default_script(group: Group) -> str:
    """The script a group without one runs: ``kernel``, ``initrd``..., ``boot``."""
    svc = group.service
    scheme = "tftp" if svc.kind == "tftp" else "http"
    names = [n for n, _ in group.images]
    lines = ["#!ipxe", f"kernel {scheme}://{svc.name}/{names[0]}"]
    lines += [f"initrd {scheme}://{svc.name}/{n}" for n in names[1:]]
    lines.append("boot")
    return "\n".join(lines) + "\n"


def _where(line: tuple[str, int] | None) -> str:
    """`` (boot.ipxe:9)``: a script line for a failure reason.

    Without the URI's host and query, which differ per machine and would split the
    report's failure table.
    """
    if not line:
        return ""
    name = line[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or line[0]
    return f" ({name}:{line[1]})"


class _Failed(Exception):
    """An attempt ended in failure (``reason`` says why)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Machine:
    """One server of the fleet (and the iPXE interpreter's world while it runs iPXE).

    Args:
        world: the shared world.
        group: its fleet group.
        server: its topology node.
        index: its position in the fleet (its MAC address).
        at: its power-on time.
    """

    def __init__(self, world: World, group: Group, server: str, index: int, at: float):
        self.world = world
        self.env = world.env
        self.group = group
        self.server = server
        self.rack = world.topology.graph.nodes[server].get("rack") or ""
        self.at = at
        self.mac = f"52:54:00:{(index >> 16) & 255:02x}:{(index >> 8) & 255:02x}:{index & 255:02x}"
        self.index = index
        self.stage = "boot"
        self.attempt = 1
        self.profile: Profile = group.profile  # the firmware running now
        self.link_up = at
        self.state = [at, math.nan, "unfinished", "", 0.0, self.rack]
        self._why = ""  # the last failure the world reported to the interpreter
        self.console_lines: list[tuple[float, str]] = []
        self._tampered: dict[str, str] = {}  # URI -> service it came from tampered with

    # ----------------------------------------------------------------- records
    def record(self, phase: str, start: float, end: float, nbytes: float = 0.0,
               protocol: str = "", endpoint: str = "", outcome: str = "ok",
               reason: str = "") -> None:
        """Record one phase of this server's current stage attempt."""
        self.world.record(self.server, self.group.name, self.rack, self.stage, phase,
                          self.attempt, start, end, nbytes, protocol, endpoint, outcome,
                          reason)

    # --------------------------------------------------------------- lifecycle
    def lifecycle(self) -> Generator[simpy.Event, Any, None]:
        """The whole life of the server in the run (a SimPy process)."""
        env = self.env
        yield env.timeout(self.at)
        self.stage = self.group.stages[0].name
        self.record("power-on", env.now, env.now)
        for stage in self.group.stages:
            ok, reason = yield from self._stage(stage)
            if not ok:
                self.state[2:4] = ["failed", f"{stage.name}: {reason}"
                                   if len(self.group.stages) > 1 else reason]
                return
        self.state[1], self.state[2] = env.now, "ok"

    def _stage(self, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
        env = self.env
        self.stage = stage.name
        cap = self.world.stage_cap(stage.name, stage.max_in_flight)
        req = None
        if cap is not None:
            t0 = env.now
            req = cap.request()
            yield req
            if env.now > t0:
                self.record("queued", t0, env.now, reason=f"{stage.name}: at most "
                            f"{stage.max_in_flight} in flight")
        try:
            return (yield from self._attempts(stage))
        finally:
            if req is not None:
                cap.release(req)

    def _attempts(self, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
        env = self.env
        began = env.now
        retries = stage.retries
        self.attempt = 0
        while True:
            self.attempt += 1
            tried = env.now
            proc = env.process(self._attempt(stage))
            deadline = began + stage.timeout if stage.timeout is not None else math.inf
            if math.isfinite(deadline):
                yield proc | env.timeout(max(deadline - env.now, 0.0))
            else:
                yield proc
            if proc.is_alive:  # the orchestrator's timeout: power the server off
                proc.interrupt("timeout")
                yield proc
                why = f"timed out after {stage.timeout:g} s"
                self.record("timeout", env.now, env.now, outcome="failed", reason=why)
                timed_out = True
            else:
                ok, why = proc.value
                if ok:
                    return True, ""
                timed_out = False
            if stage.on_failure == "reboot" and not timed_out:
                if stage.reboot_after:
                    yield env.timeout(stage.reboot_after)  # the BIOS boot order, again
                elif env.now == tried:  # no time passed: the same attempt, for ever
                    return False, (f"{why} (failed in no simulated time; rebooting at "
                                   "once would repeat it for ever: give reboot_after)")
                if env.now < deadline:
                    continue
                return False, why
            if stage.on_failure == "retry" and retries > 0:
                retries -= 1
                if math.isfinite(deadline) and env.now < deadline:
                    yield env.timeout(deadline - env.now)  # the orchestrator notices then
                began = env.now
                continue
            return False, why

    def _attempt(self, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
        """Power on (or cycle), firmware, boot path, OS phase: ``(ok, reason)``."""
        env = self.env
        g = self.group
        self.link_up = env.now
        try:
            first = g.profile if g.boot == "ipxe" else (g.rom or g.profile)
            rom = first.rom_start
            if rom > 0:  # BIOS/POST and the ROM's start-up, to its first network packet
                t0 = env.now
                yield env.timeout(rom)
                self.record("firmware", t0, env.now)
            if g.boot == "ipxe":
                yield from self._ipxe()
            else:
                yield from self._pxe_rom(first)
            # the kernel runs now: iPXE's keep-alive connections are gone (their workers
            # are freed after the server's keep-alive timeout); the installer opens its own
            self.world.release_connections(self.server)
            if stage.install is not None:
                inst = stage.install
                res = yield from self.world.http(self.server, g.name, self.rack, stage.name,
                                                 self.attempt, None, inst.service, inst.image,
                                                 inst.size, rate_cap=inst.disk_rate)
                self._fetched(f"install:{inst.image}", inst.service.name, res)
            if stage.work > 0:
                t0 = env.now
                yield env.timeout(stage.work)
                self.record("work", t0, env.now)
            return True, ""
        except _Failed as f:
            return False, f.reason
        except simpy.Interrupt:
            return False, "interrupted"
        finally:
            self.world.release_connections(self.server)

    def _fetched(self, phase: str, endpoint: str, res: TransferResult) -> None:
        self.record(phase, res.start, res.end, res.bytes, res.protocol, endpoint,
                    res.outcome, res.reason)
        self.state[4] += res.bytes
        if res.outcome != "ok":
            raise _Failed(f"{phase}: {res.reason}")

    # ---------------------------------------------------------------- PXE ROM
    def _pxe_rom(self, rom: Profile) -> Generator[simpy.Event, Any, None]:
        g = self.group
        self.profile = rom
        boot_file, host = "", ""
        if self.world.dhcp:  # (no DHCP service: the transfer phase alone)
            d = yield from self._dhcp(ipxe_client=rom.firmware == "ipxe", script=False)
            if d.outcome != "ok":
                raise _Failed(f"dhcp: {d.reason}")
            boot_file, host = d.boot_file, self.world.dhcp_hosts.get(d.server, "")
        nbp = boot_file or g.nbp or g.images[0][0]
        target = self.world.resolve(f"tftp://{host or g.service.name}/{nbp}")
        if isinstance(target, str):
            target = self.world.resolve(f"tftp://{g.service.name}/{nbp}")
        if isinstance(target, str):
            raise _Failed(f"fetch:{nbp}: {target}")
        yield from self._tftp(target, nbp)
        if g.boot == "pxe":  # the NBP (pxelinux-like) fetches the rest over TFTP
            for name, _ in g.images:
                if name != nbp:
                    yield from self._tftp(Target(g.service, name), name)
            self.record("boot", self.env.now, self.env.now, endpoint=g.images[-1][0])
            return
        self.profile = g.profile  # iPXE runs now, with its own timers
        t0 = self.env.now
        yield self.env.timeout(CHAIN_START)
        self.record("firmware", t0, self.env.now, endpoint=nbp)
        yield from self._ipxe(nbp=nbp)

    def _tftp(self, target: Target, name: str) -> Generator[simpy.Event, Any, None]:
        g = self.group
        size = self.world.images.get(name)
        if size is None:
            raise _Failed(f"fetch:{name}: TFTP file not found on {target.service.name}")
        res = yield from self.world.tftp(self.server, g.name, self.rack, self.stage,
                                         self.attempt, self.profile, target.service, name,
                                         size)
        self._fetched(f"fetch:{name}", target.service.name, res)

    # -------------------------------------------------------------------- iPXE
    def _ipxe(self, nbp: str | None = None) -> Generator[simpy.Event, Any, None]:
        """IPXE's autoboot: ``dhcp``, then the script DHCP names, else the group's."""
        ident = self.identity()
        settings = ipxe.Settings({"net0/mac": self.mac, "uuid": ident["uuid"],
                                  "serial": ident["serial"], "asset": ident["asset"],
                                  "manufacturer": "netbootsim", "product": self.group.name})
        if self.group.arch == "uefi":
            settings.builtins["platform"] = lambda: (b"efi", "string")
            settings.builtins["buildarch"] = lambda: (b"x86_64", "string")
        if self.group.script is not None:  # an embedded script runs instead of autoboot
            text, source = self.group.script, f"{self.group.name}.ipxe"
        else:  # autoboot: dhcp, then the file DHCP names (else the group's default)
            text, source = default_script(self.group), f"{self.group.name}.ipxe"
            if self.world.dhcp:
                reply = yield from self.dhcp()
                if reply.status:
                    raise _Failed(f"dhcp: {reply.reason}")
                settings.apply_dhcp(reply.settings)
                filename = reply.settings.get("filename", "")
                if nbp and filename == nbp:
                    raise _Failed(
                        f"chainload loop: DHCP gives iPXE the PXE boot file {nbp!r} again "
                        "(no user-class check), so iPXE would load itself for ever")
                if filename:
                    if "://" not in filename:
                        filename = f"tftp://{reply.settings.get('next-server', '')}/{filename}"
                    text, source = f"#!ipxe\nchain {filename}\n", "autoboot"
        script = ipxe.parse_script(text, source)
        self._why = ""
        result = yield from ipxe.run_script(script, self, settings,
                                            features=self.group.build or self.profile.build)
        where = _where(result.line)
        if result.reset:  # the script rebooted (or powered off) the machine
            what = "poweroff" if result.reset == "poweroff" else "reboot"
            raise _Failed(f"{self._why}; then the script ran {what}{where}" if self._why
                          else f"iPXE: the script ran {what}{where}")
        if result.booted is None:
            if not result.status:
                raise _Failed("iPXE: the script ended without booting")
            # the world's words for what failed (a record says the same), else iPXE's
            raise _Failed(f"{self._why}{where}" if self._why else f"iPXE: {result.reason}")

    def identity(self) -> dict[str, str]:
        """What identifies the machine to iPXE settings and to a provisioning API."""
        return {"mac": self.mac, "serial": self.server.upper(), "asset": f"A{self.index:06d}",
                "uuid": str(uuid.uuid5(_UUID_NS, self.server)), "server": self.server,
                "group": self.group.name}

    def _dhcp(self, ipxe_client: bool, script: bool | None = None):
        """One DHCP exchange, with the link faults after link-up; records it.

        ``ipxe_client``: iPXE's timers (else the PXE ROM's); ``script``: the server
        serves it as iPXE wanting its script (default ``ipxe_client``; ``False`` for
        the first, PXE, stage of a chainload even when that ROM is iPXE).
        """
        env = self.env
        world = self.world
        f = self.group.faults
        t0 = env.now
        if f.down and env.now < self.link_up + f.down:  # no carrier yet
            up = self.link_up + f.down
            if ipxe_client and up - env.now > LINK_WAIT:
                yield env.timeout(LINK_WAIT)
                raise _Failed(f"dhcp: link down (no carrier within {LINK_WAIT:g} s)")
            yield env.timeout(up - env.now)
        if ipxe_client and f.stp and env.now < self.link_up + f.stp:  # iPXE defers DHCP
            wait = math.ceil(self.link_up + f.stp - env.now)  # 1 s steps
            yield env.timeout(min(wait, STP_MAX_DEFERRALS))
        blackout = self.link_up + f.lacp
        if not ipxe_client:
            blackout = max(blackout, self.link_up + f.stp)  # the ROM's frames are dropped
        domain = world.topology.domain_of(self.server) or ""
        servers = []
        for name, srv in sorted(world.dhcp.items()):
            host = world.dhcp_hosts[name]
            _, _, rtt = world.topology.round_trip(self.server, host, f"{self.server}/dhcp")
            servers.append((srv, rtt, (world.topology.domain_of(host) or "") != domain))
        carrier = None
        if world.packets is not None:  # DHCP frames as packets: flooded, relayed
            carrier = DhcpCarrier(world.l2, self.server, domain, dict(world.dhcp_hosts))
            world.l2.forget(self.server)  # a new boot: an empty neighbour cache
        client = DhcpClient(self.mac, domain, servers, ipxe=ipxe_client, arch=self.group.arch,
                            ipv6=self.profile.ipv6, discover_end=self.profile.dhcp_discover_end,
                            blackout_until=blackout, broadcasts=world.run.broadcasts,
                            script_client=script, carrier=carrier)
        d = yield from dhcp_client(env, client)
        if d.outcome == "ok":
            self.record("dhcp-exchange", d.start, d.exchange_end, 0.0, "dhcp", d.server)
        self.record("dhcp", t0, d.end, 0.0, "dhcp", d.server, d.outcome, d.reason)
        return d

    # ------------------------------------------- the interpreter's world (protocol)
    @property
    def now(self) -> float:
        """Simulated time (s)."""
        return self.env.now

    def dhcp(self) -> Generator[simpy.Event, Any, DhcpReply]:
        """The ``dhcp`` command: the exchange, as a reply the interpreter registers."""
        d = yield from self._dhcp(ipxe_client=True)
        if d.outcome != "ok":
            self._why = f"dhcp: {d.reason}"
            return DhcpReply(errors.EADDRNOTAVAIL_CONFIG, d.reason)
        host = self.world.dhcp_hosts.get(d.server, "")
        values = {"ip": f"10.{(self.index >> 16) & 127}.{(self.index >> 8) & 255}."
                        f"{self.index & 255}",
                  "next-server": self.world.host_ip.get(host, "0.0.0.0")}
        if d.boot_file:
            values["filename"] = d.boot_file
        return DhcpReply(0, "", values)

    def fetch(self, uri: str, *, name: str, timeout: float | None
              ) -> Generator[simpy.Event, Any, Fetched]:
        """Download ``uri``: a file from a TFTP/HTTP service, or a script from an API."""
        world = self.world
        env = self.env
        target = world.resolve(uri)
        if isinstance(target, str):
            self.record(f"fetch:{name}", env.now, env.now, outcome="failed", reason=target)
            self._why = f"fetch:{name}: {target}"
            return Fetched(errors.ENOENT_HTTP_404, target)
        svc = target.service
        tls = target.scheme == "https"
        if tls and (refused := self._https_refused(svc)):
            phase = f"api:{svc.name}" if svc.kind == "api" else f"fetch:{target.file}"
            code, why = refused
            self.record(phase, env.now, env.now, 0.0, "https", svc.name, "failed", why)
            self._why = f"{phase}: {why}"
            return Fetched(code, why)
        if svc.kind == "api":
            return (yield from self._api(svc, target, uri, name, tls))
        size = world.images.get(target.file)
        if size is None:
            proto = svc.kind
            self.record(f"fetch:{target.file}", env.now, env.now, 0.0, proto, svc.name,
                        "failed", f"{target.file!r} not found on {svc.name}")
            self._why = f"fetch:{target.file}: not found on {svc.name}"
            return Fetched(errors.ENOENT_TFTP if proto == "tftp" else errors.ENOENT_HTTP_404,
                           f"{target.file!r} not found on {svc.name}")
        g = self.group
        if svc.kind == "http" and world.erroring(svc.name, env.now):
            why = f"HTTP 500 from {svc.name} (service-error fault)"
            self.record(f"fetch:{target.file}", env.now, env.now, 0.0, target.scheme,
                        svc.name, "failed", why)
            self._why = f"fetch:{target.file}: {why}"
            return Fetched(errors.EIO_HTTP_5XX, why)
        if svc.kind == "tftp":
            res = yield from world.tftp(self.server, g.name, self.rack, self.stage,
                                        self.attempt, self.profile, svc, target.file, size)
        else:
            res = yield from world.http(self.server, g.name, self.rack, self.stage,
                                        self.attempt, self.profile, svc, target.file, size,
                                        tls=tls)
        self.record(f"fetch:{target.file}", res.start, res.end, res.bytes, res.protocol,
                    svc.name, res.outcome, res.reason)
        self.state[4] += res.bytes
        if res.outcome != "ok":
            self._why = f"fetch:{target.file}: {res.reason}"
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
        if world.tampered_at(svc.name, target.file, res.start):
            self._tampered[uri] = svc.name
        return Fetched(0, "", img)

    def _https_refused(self, svc) -> tuple[int, str] | None:
        """Why an ``https://`` fetch from ``svc`` cannot work, or None."""
        if not self.profile.https:
            return (ENOTSUP_HTTPS, f"HTTPS is not built into {self.profile.name} "
                                   "(config/general.h [ipxe-src])")
        if not svc.https:
            return errors.ECONNRESET_TCP, f"{svc.name} does not serve HTTPS (port 443 refused)"
        if not svc.trusted:
            return (EACCES_UNTRUSTED, f"{svc.name}'s certificate does not chain to the "
                                      "client's trust anchor")
        return None

    def _api(self, svc, target: Target, uri: str, name: str, tls: bool
             ) -> Generator[simpy.Event, Any, Fetched]:
        """A request to a provisioning API: its answer for this machine."""
        world = self.world
        prov = world.provisioners.get(svc.name)
        status, role, error = 200, "", ""
        if prov is not None:
            status, text, role = prov.answer(target.query, self.identity())
            if status == 404:
                error = f"HTTP 404: no template for role {role}"
            elif status != 200:  # the error page names the template, its line, the reason
                error = f"{text} (HTTP {status})"
        else:
            text = svc.script if svc.script is not None else default_script(self.group)
        size = len(text.encode())
        res = yield from world.api(self.server, svc, size, tls=tls)
        if res.outcome == "ok" and world.erroring(svc.name, res.end):
            status, error = 500, "HTTP 500: internal server error (service-error fault)"
        why = res.reason if res.outcome != "ok" else error
        self.record(f"api:{svc.name}", res.start, res.end, res.bytes if not why else 0.0,
                    "https" if tls else "http", svc.name, "failed" if why else "ok",
                    why or (f"role {role}" if role else ""))
        if why:
            self._why = f"api:{svc.name}: {why}"
            code = errors.ETIMEDOUT_TCP if res.outcome != "ok" else (
                errors.EIO_HTTP_5XX if status >= 500 else errors.ENOENT_HTTP_404)
            return Fetched(code, why)
        return Fetched(0, "", Image(name or "script", uri, size, "script", text))

    def verify(self, image: Image, signature: Image, signer: str | None
               ) -> Generator[simpy.Event, Any, Outcome]:
        """``imgverify``: fails for an image fetched while a tamper fault covered it."""
        t = self.env.now
        bad = self._tampered.get(image.uri)
        if bad:
            why = f"signature-invalid: {image.name} from {bad} was tampered with"
            self.record(f"imgverify:{image.name}", t, t, outcome="failed", reason=why)
            self._why = f"imgverify:{image.name}: {why}"
            return Outcome(errors.EACCES_WRONG_NAME if signer else EACCES_SIGNATURE, why)
        self.record(f"imgverify:{image.name}", t, t, endpoint=signature.name)
        return Outcome(0, "")
        yield  # a generator, as the protocol asks (no simulated time: crypto not timed)

    def reboot(self, kind: str) -> Generator[simpy.Event, Any, Outcome]:
        """``reboot``/``poweroff``: the attempt ends; the stage's policy decides what next."""
        self.record("poweroff" if kind == "poweroff" else "reboot", self.env.now, self.env.now,
                    reason=kind)
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
        self.record("boot", self.env.now, self.env.now, endpoint=image.name,
                    reason=" ".join(i.name for i in loaded))
        return 0
        yield  # a generator, as the protocol asks (booting takes no simulated time here)

    def console(self, text: str) -> None:
        """Keep the console of traced servers (``netbootsim ipxe trace``), with times."""
        if self.server in self.world.trace:
            self.console_lines.append((self.env.now, text))
