"""One server of the fleet: who it is, where it stands, what it recorded.

A :class:`Machine` is the one object the simulation creates per server. It holds the
server's identity (name, MAC, SMBIOS serial/asset/UUID), the firmware running now,
its current stage and attempt, and its outcome; every phase it goes through becomes a
record through :meth:`Machine.record`. What it does lives beside it, one concept per
module, each a generator function taking the machine:

* :mod:`.lifecycle`: power-on, the group's stages with their attempts, timeouts and
  on-failure policies, the OS phase;
* :mod:`.boot`: the boot paths (PXE ROM, PXE → iPXE chainload, iPXE's autoboot);
* :mod:`.link`: the link coming up (its faults) and one DHCP exchange;
* :mod:`.ipxe_world`: the world the iPXE interpreter drives while the machine runs iPXE.
"""

from __future__ import annotations

import math
import uuid

import simpy

from ..profiles import Profile
from ..protocols.result import TransferResult
from ..records import ServerRecord
from .spec import Group, LinkFaults
from .variation import GroupDraws
from .world import World

__all__ = ["Machine", "Failed"]

#: Namespace for the servers' SMBIOS UUIDs (derived from the server name, stable).
_UUID_NS = uuid.UUID("6e657462-6f6f-7473-696d-000000000000")


class Failed(Exception):
    """An attempt ended in failure (``reason`` says why)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Machine:
    """One server of the fleet.

    Args:
        world: the shared world.
        group: its fleet group.
        server: its topology node.
        index: its position in the fleet (its MAC address).
        at: its power-on time.
        draws: its group's per-server values (``None``: the group's constants).
        nth: its position in its group (which of ``draws`` are its own).

    Attributes:
        stage, attempt: the lifecycle stage running now and its attempt (records).
        profile: the firmware running now (the PXE ROM's, then iPXE's after a chainload).
        ipxe_profile, rom_profile: its own firmware (the group's profiles with this
            server's draws of what varies); ``rom_profile`` only for a chainload.
        firmware: the firmware that starts at power-on (the PXE ROM of a ``pxe`` or
            chainload group, else iPXE): its POST and its platform are the machine's.
        arch: the machine's platform, DHCP option 93 (``bios``, ``uefi``,
            ``uefi-arm64``): its firmware's, else the group's ``arch``.
        faults: its port's behaviour after link-up (its own draws of what varies).
        works: its OS work time in each of the group's stages.
        stage_no: the number of the stage running now.
        link_up: when the link last came up (power-on or power cycle): link faults
            count from there.
        ready, outcome, reason, bytes: its outcome so far, as
            :class:`~netbootsim.records.ServerRecord` has it (``unfinished`` until its
            last stage ends or one fails).
        console_lines: ``(time, text)`` the iPXE console printed (traced servers only).
        last_error: the last failure it met in its current stage, ``"phase: reason"``
            (a failed record, or an attempt's reason): a timeout or the run's horizon
            names it, since a script that loops on a failure ends with neither.
        attempt_proc: the SimPy process of the attempt running now (``None`` before the
            first).
        dead: why the server itself failed for good (``server-fail``), else ``""``.
        up: whether its last boot — the commissioning, or a lifecycle event's — ended
            ready (a reprovision reboots only servers that are up).
    """

    __slots__ = ("arch", "at", "attempt", "attempt_proc", "bytes", "console_lines", "dead",
                 "env", "faults", "firmware", "group", "ident", "index", "ipxe_profile",
                 "last_error", "up",
                 "link_up", "mac", "outcome", "profile", "rack", "ready", "reason",
                 "rom_profile", "san_boot", "san_sessions", "server", "stage", "stage_no",
                 "works", "world")

    def __init__(self, world: World, group: Group, server: str, index: int, at: float,
                 draws: GroupDraws | None = None, nth: int = 0):
        self.world = world
        self.env = world.env
        self.group = group
        self.server = server
        self.rack = world.topology.graph.nodes[server].get("rack") or ""
        self.at = at
        self.mac = f"52:54:00:{(index >> 16) & 255:02x}:{(index >> 8) & 255:02x}:{index & 255:02x}"
        self.index = index
        #: whose identity it carries (server name, fleet index): its own, or a replaced
        #: node's (:meth:`take_identity`)
        self.ident = (server, index)
        self.stage = "boot"
        self.attempt = 1
        if draws is None:
            self.ipxe_profile: Profile = group.profile
            self.rom_profile: Profile | None = group.rom
            self.faults: LinkFaults = group.faults
            self.works = tuple(float(st.work) for st in group.stages)
        else:
            self.ipxe_profile = draws.profile(nth)
            self.rom_profile = draws.rom(nth)
            self.faults = draws.faults(nth)
            self.works = tuple(draws.work(j, nth) for j in range(len(group.stages)))
        self.stage_no = 0
        #: the SAN drive iPXE handed over to in this attempt: (target, its route)
        self.san_boot: tuple | None = None
        #: SAN targets it holds a session of (its hooked drives'); kept while it runs
        self.san_sessions: list = []
        self.profile: Profile = self.ipxe_profile  # the firmware running now
        #: the firmware that starts at power-on: its POST, its platform
        self.firmware: Profile = (self.ipxe_profile if group.boot == "ipxe"
                                  else (self.rom_profile or self.ipxe_profile))
        self.arch: str = self.firmware.platform or group.arch
        self.link_up = at
        self.ready = math.nan
        self.outcome = "unfinished"
        self.reason = ""
        self.bytes = 0.0
        self.console_lines: list[tuple[float, str]] = []
        self.last_error = ""
        self.attempt_proc: simpy.Process | None = None  # the attempt running now, if any
        self.dead = ""  # why it failed for good (a server-fail fault), "" while it works
        #: whether its last boot (the commissioning, or an event's) ended ready
        self.up = False

    def record(self, phase: str, start: float, end: float, nbytes: float = 0.0,
               protocol: str = "", endpoint: str = "", outcome: str = "ok",
               reason: str = "") -> None:
        """Record one phase of this server's current stage attempt (a failure is its last)."""
        if outcome == "failed":
            self.last_error = f"{phase}: {reason}" if reason else phase
        self.world.record(self.server, self.group.name, self.rack, self.stage, phase,
                          self.attempt, start, end, nbytes, protocol, endpoint, outcome,
                          reason)

    def fetched(self, phase: str, endpoint: str, res: TransferResult) -> None:
        """Record a transfer and count its bytes; :class:`Failed` if it failed."""
        self.record(phase, res.start, res.end, res.bytes, res.protocol, endpoint,
                    res.outcome, res.reason)
        self.bytes += res.bytes
        if res.outcome != "ok":
            raise Failed(f"{phase}: {res.reason}")

    def outcome_record(self, reason: str | None = None) -> ServerRecord:
        """Its outcome as a record; ``reason`` in place of its own (a run cut short)."""
        return ServerRecord(self.server, self.group.name, self.rack, self.at, self.ready,
                            self.outcome, self.reason if reason is None else reason,
                            self.bytes)

    def setting_text(self, name: str) -> str:
        """An iPXE setting the machine starts with, as text.

        The names are :data:`.boot.SETTINGS_AT_START`: what :meth:`identity` says, and
        ``manufacturer``, ``product`` (its group).
        """
        if name == "net0/mac":
            return self.mac
        if name == "manufacturer":
            return "netbootsim"
        if name == "product":
            return self.group.name
        return self.identity()[name]

    def identity(self) -> dict[str, str]:
        """What identifies the machine to iPXE settings and to a provisioning API."""
        server, index = self.ident
        return {"mac": self.mac, "serial": server.upper(), "asset": f"A{index:06d}",
                "uuid": str(uuid.uuid5(_UUID_NS, server)), "server": server,
                "group": self.group.name}

    def take_identity(self, other: Machine) -> None:
        """Carry ``other``'s identity from now on: its MAC, serial, asset tag, UUID.

        What a stateless-computing service profile moves to a replacement (Cisco UCS,
        HPE Virtual Connect): DHCP and the provisioning API see ``other``
        (:mod:`.events`, ``replace``).
        """
        self.mac, self.ident = other.mac, other.ident
