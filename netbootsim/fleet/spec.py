"""What a fleet run is given: services, DHCP, lifecycle stages, groups (plain data)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..dist import Dist
from ..profiles import Profile
from ..services.registry import API, DHCP, HTTP, TFTP

__all__ = ["Service", "DhcpSpec", "DnsSpec", "Install", "Stage", "Group", "LinkFaults",
           "FaultWindows",
           "PowerPolicy", "OrchestratorSpec", "POWER_POLICIES", "DEFAULT_STAGE",
           "LINUX_RWND", "TLS_CLIENT_TIME", "TLS_HANDSHAKE_RTTS", "TlsSpec",
           "tls_handshake_time"]

#: The client's own time for a TLS handshake (key exchange, signature checks): no
#: published figure for iPXE (its repository has none [ipxe-src]); the lab's second
#: round measured today's iPXE under QEMU TCG only (~77 ms and ~3.9 round trips in all,
#: docs/calibration.md [lab-traces]), the emulator's crypto speed, not a server's: 0,
#: and reports say it is uncalibrated. The handshake's round trips are modelled
#: (:data:`TLS_HANDSHAKE_RTTS`).
TLS_CLIENT_TIME = 0.0
#: Round trips of iPXE's full TLS 1.2 handshake, its ClientHello to its first request
#: (the TCP handshake before it not counted): 4, measured in the lab's second round
#: (iPXE 2.0, docs/calibration.md [lab-traces]): the server's flight one, then the
#: client's ClientKeyExchange and ChangeCipherSpec a round trip apart, its Finished a
#: round trip after that (or its own time, if longer), the server's Finished one more:
#: 78.5 ms at RTT 0, 94.7 at 5 ms, 155.2 at 20 ms, the fit 77.5 ms + 3.86 RTT. The
#: textbook count, two (RFC 5246 §7.3 [rfc5246]), missed the 20 ms rows by 40 ms.
TLS_HANDSHAKE_RTTS = 4


def tls_handshake_time(rtt: float, client_time: float = TLS_CLIENT_TIME) -> float:
    """The time of iPXE's full TLS 1.2 handshake over a round trip ``rtt`` (s).

    ``client_time``: the client's own crypto time (a profile's ``tls_client_time``).
    """
    return TLS_HANDSHAKE_RTTS * rtt + client_time

#: The installer's TCP receive window: Linux's default tcp_rmem maximum, 6 MiB
#: (Documentation/networking/ip-sysctl.rst, tcp_rmem "max: 6MB").
LINUX_RWND = 6 * 1024 * 1024


@dataclass(frozen=True)
class TlsSpec:
    """TLS terminated at a service (:class:`~netbootsim.scenario.schema.TlsTermination`).

    Attributes:
        cores: CPU cores for TLS; a handshake holds one.
        handshake: CPU time of one full handshake (s).
        cipher_rate: bytes/s one core encrypts.
    """

    cores: int
    handshake: float
    cipher_rate: float


@dataclass(frozen=True)
class Service:
    """A boot service on a host.

    Unset, it has no cap and no resend timer of its own; its other values are those of
    its kind's default model (:mod:`netbootsim.services.registry`).

    Attributes:
        name: service name from the scenario.
        kind: ``tftp``, ``http`` or ``api`` (a provisioning API answering scripts).
        host: topology node it runs on.
        block_cost: TFTP server CPU time per block (s).
        disk_rate: read rate shared by all its transfers (bytes/s; ``inf`` for none).
        retransmit: TFTP: ``None`` if a duplicate ACK makes it resend, else its own
            resend timer (s) — see :class:`~netbootsim.protocols.TftpParams`.
        max_sessions: TFTP: concurrent transfers (dnsmasq ``tftp-max``); ``None``: no cap
            (a process per client, like tftpd-hpa). See :mod:`netbootsim.services.slots`.
        orphan_hold: TFTP: how long an orphan transfer holds its slot (s).
        recv_buffer: TFTP: receive buffer of the socket RRQs wait in (bytes).
        request_truesize: TFTP: what the kernel charges that buffer per RRQ (bytes).
        workers: HTTP: worker cap (Apache prefork MaxRequestWorkers); ``None``: no cap.
        keepalive: HTTP: how long the server keeps an idle connection (and its worker).
        backlog: HTTP: connections waiting for a worker before SYNs are dropped.
        service_time: API: time per request (s).
        concurrency: API: requests served at once.
        script: API: the script it answers (``None``: the asking machine's default
            script, ``kernel``/``initrd``/``boot`` of its group's images).
        https: it serves ``https://``.
        trusted: its certificate chains to the clients' trust anchor.
        origin, cache, inactive, coalesce, fallback: HTTP: an edge cache's (:mod:`.edge`).
        tls: HTTP: its TLS termination's CPU (``None``: not counted).
        tcp_cc: HTTP: its senders' TCP congestion control (``cubic``, ``reno``, ``bbr``).
    """

    name: str
    kind: str
    host: str
    block_cost: float = 0.0
    disk_rate: float = math.inf
    retransmit: float | None = None
    max_sessions: int | None = None
    orphan_hold: float = TFTP.model().orphan_hold
    recv_buffer: float = TFTP.model().recv_buffer
    request_truesize: int = TFTP.model().request_truesize
    workers: int | None = None
    keepalive: float = HTTP.model().keepalive
    backlog: int = HTTP.model().backlog
    service_time: float = API.model().service_time
    concurrency: int = API.model().concurrency
    script: str | None = None
    https: bool = False
    trusted: bool = True
    origin: str | None = None
    cache: float = math.inf
    inactive: float = 600.0
    coalesce: bool = True
    fallback: str = "none"
    tls: TlsSpec | None = None
    tcp_cc: str = "cubic"


@dataclass(frozen=True)
class DhcpSpec:
    """A DHCP service (see :class:`netbootsim.services.dhcp.DhcpServer` for the fields)."""

    name: str
    host: str
    service_time: float = DHCP.model().service_time
    ping: float = DHCP.model().ping
    deaf_ping: bool = DHCP.model().deaf_ping
    ping_window: float = DHCP.model().ping_window
    ping_share: float = DHCP.model().ping_share
    queue: int | None = DHCP.model().queue
    no_pxedhcp: bool = False
    ipv6_ra: bool = False
    pool: int | None = None
    proxy: bool = False
    boot_files: tuple[tuple[str, str], ...] = ()
    script: str = ""
    user_class_check: bool = True
    dns: tuple[str, ...] | None = None  # option 6: its clients' DNS servers (None: all)


@dataclass(frozen=True)
class DnsSpec:
    """A DNS server (:mod:`.dns`).

    Attributes:
        name: service name from the scenario.
        host: topology node it runs on.
        records: lower-case full name (no trailing dot) -> the services whose hosts are
            its A records, in the zone's order.
        order: ``cyclic``, ``fixed`` or ``random``
            (:data:`~netbootsim.services.registry.DNS_ORDERS`).
        service_time: its time per query (s).
        forward: a caching resolver's authoritative server (``None``: it is one).
        ttl: its records' TTL (s), as a resolver caches them (``None``: not given).
        clients_per_query: a resolver's most clients waiting on one forwarded query.
    """

    name: str
    host: str
    records: dict[str, tuple[str, ...]]
    order: str
    service_time: float
    forward: str | None = None
    ttl: float | None = None
    clients_per_query: int = 100


@dataclass(frozen=True)
class Install:
    """The OS phase's image pull: the installer streams ``image`` to disk over HTTP.

    Attributes:
        image: image name.
        size: bytes.
        service: the HTTP mirror it comes from (``None``: the one ``via`` names).
        disk_rate: the disk's write rate (bytes/s): the stream goes no faster.
        via: a 302 redirector asked first for the mirror (its name), as HTTP clients
            that follow redirects (curl -L, wget, curtin's) do; ``None``: none.
    """

    image: str
    size: float
    service: Service | None
    disk_rate: float = math.inf
    via: str | None = None


@dataclass(frozen=True)
class Stage:
    """One lifecycle stage: a network boot, then work in the booted OS.

    Attributes:
        name: stage name (``commissioning``, ``deploy``, ...; ``boot`` by default).
        timeout: the orchestrator fails the stage this long after it began (s;
            ``None``: never).
        on_failure: ``halt`` (the server stays failed), ``reboot`` (the BIOS boot order
            tries again after ``reboot_after``, within the same timeout) or ``retry`` (the
            orchestrator power-cycles it and starts the stage again, up to ``retries``).
        retries: ``retry``: how many more attempts.
        reboot_after: ``reboot``: wait before the next attempt (s).
        install: the OS image pull (``None``: none).
        work: time spent in the booted OS after the install (commissioning scripts,
            MAAS's 60 s LLDP floor; first boot, reporting ready) (s).
        max_in_flight: servers in this stage at once, fleet-wide (the control plane's
            cap; ``None``: no cap).
    """

    name: str = "boot"
    timeout: float | None = None
    on_failure: str = "halt"
    retries: int = 0
    reboot_after: float = 0.0
    install: Install | None = None
    work: float = 0.0
    max_in_flight: int | None = None


DEFAULT_STAGE = Stage()


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """How a group's server ports behave after each link-up (each power-on).

    Attributes:
        lacp: the port drops every frame this long (a LAG member until LACP converges).
        stp: the port is blocked this long (STP listening+learning): iPXE sees the link
            as blocked and defers DHCP (1 s steps, up to 180, config/dhcp.h:32
            [ipxe-src]); a PXE ROM sends anyway and its frames are dropped.
        down: no carrier this long: iPXE waits up to 15 s for link
            (``LINK_WAIT_TIMEOUT``, usr/ifmgmt.c:47 [ipxe-src]), then fails.
    """

    lacp: float = 0.0
    stp: float = 0.0
    down: float = 0.0


@dataclass
class FaultWindows:
    """Faults that hold for a window of simulated time (see :mod:`.faults`).

    Attributes:
        link_down: windows during which a link carries nothing, by link name.
        link_loss: ``(window, loss probability)`` added to a link, by link name: a
            transfer that starts inside the window is planned with it.
        service_down: windows during which a service answers nothing, by name.
        service_slow: ``(window, factor)``: a service's time per request × factor.
        service_error: windows during which a service answers HTTP 500.
        tamper: windows during which an image is served altered, by ``image`` or
            ``service:image``.
        server_fail: when a server fails for good, by server or fleet-group name (the
            earliest, if several faults name it).
    """

    link_down: dict = field(default_factory=dict)
    link_loss: dict = field(default_factory=dict)
    service_down: dict = field(default_factory=dict)
    service_slow: dict = field(default_factory=dict)
    service_error: dict = field(default_factory=dict)
    tamper: dict = field(default_factory=dict)
    server_fail: dict = field(default_factory=dict)


#: Power-on policies (:class:`PowerPolicy`, :mod:`.power`).
POWER_POLICIES = ("all-at-once", "stagger", "batches", "random", "per-rack", "admission",
                  "standby")


@dataclass(frozen=True)
class PowerPolicy:
    """How a group's servers are powered on (:mod:`.power` computes the instants).

    Attributes:
        kind: one of :data:`POWER_POLICIES`; ``None``: the group's own schedule
            (``power_on_at``, ``per_second``, ``rack_interval``).
        at: the first power-on request (s).
        interval: ``stagger``: between consecutive servers; ``per-rack``: between
            consecutive racks (s).
        batch, every: ``batches``: ``batch`` servers every ``every`` seconds.
        window: ``random``: each server at a uniform instant in ``[at, at + window)``;
            a distribution (:mod:`netbootsim.dist`): each server at ``at`` + its draw.
        max_booting: ``admission``: servers booting at once at most; a server boots from
            its admission until it is ready or has failed.
        scope: ``admission``: ``group`` (a cap per group) or ``fleet`` (one cap shared by
            every group whose scope is ``fleet``).
        orchestrator: the orchestrator that sends the power commands and starts the
            stages (``None``: the servers power on by themselves).
    """

    kind: str | None = None
    at: float = 0.0
    interval: float = 0.0
    batch: int = 1
    every: float = 0.0
    window: float | Dist = 0.0
    max_booting: int | None = None
    scope: str = "group"
    orchestrator: str | None = None


@dataclass(frozen=True)
class OrchestratorSpec:
    """An orchestrator (see :class:`netbootsim.services.orchestrator.Orchestrator`)."""

    name: str
    power_workers: int | None
    power_latency: float
    power_time: float
    step_workers: int | None
    step_time: float


@dataclass(frozen=True)
class Group:
    """A fleet group: servers that boot the same way.

    Attributes:
        name: group name.
        boot: boot path name (``pxe``, ``pxe-chainload-ipxe``, ``ipxe``).
        profile: client firmware profile (iPXE's for ``ipxe`` and after a chainload; the
            ROM's for ``pxe``).
        images: ``(name, size in bytes)`` fetched in order by the default script.
        service: where ``images`` come from (``None``: a group whose own script boots
            from a SAN target, in a scenario with no file service).
        power_on_at: time the first server of the group is powered on (s).
        per_second: servers powered on per second (``inf``: all at once).
        dhcp: the DHCP service the group's clients configure from (``None``: none; the
            run's other DHCP services, e.g. a ProxyDHCP, answer too).
        stages: the lifecycle, in order.
        arch: ``bios``, ``uefi`` or ``uefi-arm64`` (DHCP option 93), for a server whose
            firmware profile has no ``platform`` of its own.
        profile_mix: ``(weight, profile)`` parts when the group's ``profile`` is a mix:
            each server draws its own (:mod:`.variation`); ``profile`` is the first.
        rom_mix: the same for ``rom``.
        boot_files: ``(platform, image)``: the boot file a PXE client of each platform
            is given, before the DHCP server's own (``bios: undionly.kpxe``).
        script: the group's embedded iPXE script, run instead of autoboot (``None``:
            autoboot — ``dhcp``, then the file DHCP names, else ``kernel``/``initrd``/
            ``boot`` of ``images``).
        rom: the PXE ROM's profile for ``pxe-chainload-ipxe`` (its DHCP and TFTP).
        nbp: the network bootstrap program a PXE ROM loads when DHCP names none.
        rack_interval: rack by rack: the servers of the group's k-th rack are powered
            on ``k × rack_interval`` later (s; 0: no rack stagger).
        build: the iPXE build (command set, URI schemes; :data:`netbootsim.ipxe.BUILDS`);
            ``None``: the profile's.
        faults: the group's port behaviour after link-up.
        power: its power-on policy and orchestrator (``None``: powered on by itself on
            the schedule above).
    """

    name: str
    boot: str
    profile: Profile
    images: tuple[tuple[str, float], ...]
    service: Service | None
    power_on_at: float = 0.0
    per_second: float = math.inf
    dhcp: DhcpSpec | None = None
    stages: tuple[Stage, ...] = (DEFAULT_STAGE,)
    arch: str = "bios"
    profile_mix: tuple[tuple[float, Profile], ...] = ()
    rom_mix: tuple[tuple[float, Profile], ...] = ()
    boot_files: tuple[tuple[str, str], ...] = ()
    script: str | None = None
    rom: Profile | None = None
    nbp: str | None = None
    rack_interval: float = 0.0
    build: str | None = None
    faults: LinkFaults = field(default_factory=LinkFaults)
    power: PowerPolicy | None = None
