"""Scenario schema: the six sections, their fields, defaults and units (pydantic v2).

Every model forbids unknown fields (a typo is an error, never silently ignored) and is
strict (``count: "40"`` is an error, not 40) and frozen. Quantities are written with
units in the text and exposed as SI floats: sizes in bytes, rates in bytes per second,
times in seconds (parsed by :mod:`netbootsim.units` only). Cross-references between
sections (image names, service hosts, link endpoints...) are checked elsewhere, in
:mod:`.checks` and :mod:`.build`; this module checks each value on its own.
"""

from __future__ import annotations

import types
import typing
import unicodedata
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..clock import DEFAULT_HORIZON, time_limit_problem
from ..dist import Dist, DistError, parse_value
from ..profiles import ProfileMix, parse_mix
from ..services.registry import (
    AOE,
    API,
    DHCP,
    DNS,
    FCOE,
    HTTP,
    ISCSI,
    KINDS,
    LB,
    ORCHESTRATOR,
    TFTP,
    TLS_SERVER,
)
from ..units import UnitError, parse_percent, parse_quantity

__all__ = [
    "BOOT_PATHS", "SHAPES", "Section", "Link", "LinkReverse", "Host", "Node",
    "ExtraLink", "TopologySection", "TftpService", "HttpService", "DhcpService", "Service",
    "Image", "PowerOn", "FleetGroup", "ApiService", "OrchestratorService", "Install",
    "Stage", "Fault", "Run",
    "ScenarioModel", "fields_at",
]

#: Topology shapes; ``custom`` builds only the explicit ``nodes``, ``hosts`` and ``links``.
SHAPES = ("rack", "leaf-spine", "remote-site", "multi-site", "custom")
#: Boot paths: a legacy PXE ROM (DHCP, then NBP, kernel and initrd over TFTP); a PXE ROM
#: chainloading iPXE (TFTP undionly.kpxe, then iPXE); iPXE in the NIC ROM or UEFI.
BOOT_PATHS = ("pxe", "pxe-chainload-ipxe", "ipxe")


#: The directory an empirical distribution's ``file`` is read from while a scenario is
#: validated (the scenario's; ``None``: the current directory). Set by the loader.
EMPIRICAL_BASE: ContextVar[Path | None] = ContextVar("empirical_base", default=None)


def _varying(kind: str, *, optional: bool = False, positive: bool = False,
             positive_constant: bool = False):
    """A value that may vary per server: a quantity (``"90s"``) or a distribution.

    ``positive``: the quantity, and every value a distribution draws, > 0;
    ``positive_constant``: only a fixed quantity must be > 0 (a fault of 0 s does nothing,
    while a distribution may draw 0 for some ports). A distribution mapping
    (``{dist: lognormal, median: 90s, p95: 150s}``, :mod:`netbootsim.dist`) becomes a
    :class:`~netbootsim.dist.Dist`; a bad one is a ``dist`` error whose context names
    the part that is wrong (``sub``), so the problem points at its line. Serialized
    (``model_dump``) as its plain spec.
    """
    constant = _quantity(kind, optional=optional, positive=positive or positive_constant).func

    def parse(value: Any) -> Any:
        if isinstance(value, Dist):
            return value
        if isinstance(value, dict):
            try:
                return parse_value(value, kind, base=EMPIRICAL_BASE.get(), positive=positive)
            except DistError as e:
                raise PydanticCustomError("dist", "{msg}",
                                          {"msg": e.msg, "sub": list(e.sub)}) from None
        return constant(value)

    def dump(value: Any) -> Any:
        return value.spec() if isinstance(value, Dist) else value

    return (PlainValidator(parse), PlainSerializer(dump))


def _quantity(kind: str, *, optional: bool = False, positive: bool = False):
    """A before-validator turning ``"25Gbps"``-style text into an SI float."""

    def parse(value: Any) -> float | None:
        if value is None and optional:
            return None
        try:
            result = parse_quantity(value, kind)
        except UnitError as e:
            raise PydanticCustomError("unit", "{msg}", {"msg": str(e)}) from None
        if positive and not result > 0:
            raise PydanticCustomError("unit", "{msg}", {"msg": f"{value!r} must be > 0"})
        if not positive and result < 0:
            raise PydanticCustomError("unit", "{msg}", {"msg": f"{value!r} must be >= 0"})
        if kind == "time" and (why := time_limit_problem(value, result)) is not None:
            raise PydanticCustomError("unit", "{msg}", {"msg": why})
        return result

    return BeforeValidator(parse)


#: A size such as ``"350MiB"``, in bytes (> 0).
Size = Annotated[float, _quantity("size", positive=True)]
#: A rate such as ``"25Gbps"`` (bits) or ``"100MB/s"`` (bytes), in bytes/s (> 0).
Rate = Annotated[float, _quantity("rate", positive=True)]
OptRate = Annotated[float | None, _quantity("rate", optional=True, positive=True)]
#: A duration such as ``"250us"``, in seconds (>= 0).
Time = Annotated[float, _quantity("time")]
OptTime = Annotated[float | None, _quantity("time", optional=True)]
#: A duration that may vary per server (or per request): seconds, or a distribution.
VarTime = Annotated[Any, *_varying("time")]
OptVarTime = Annotated[Any, *_varying("time", optional=True)]
Probability = Annotated[float, Field(ge=0, lt=1)]


def _percent(value: Any) -> float:
    try:
        return parse_percent(value)
    except UnitError as e:
        raise PydanticCustomError("unit", "{msg}", {"msg": str(e)}) from None


#: A percentage such as ``"2%"``, as a fraction in (0, 1).
Percent = Annotated[float, BeforeValidator(_percent)]
#: Replications: ``until_ci`` runs at least ``MIN``; ``replications`` and the cap at most ``MAX``.
MIN_REPLICATIONS, DEFAULT_MAX_REPLICATIONS, MAX_REPLICATIONS = 3, 100, 10_000
PosInt = Annotated[int, Field(ge=1)]


#: Unicode categories a name may not hold, with what they are called: they would reach
#: terminals, CSVs, figures and the report unseen or rearranging the text around them
#: (C0 and C1 controls; format characters such as U+202E, the right-to-left override, or
#: a zero-width space; surrogates; line and paragraph separators).
_UNPRINTABLE = {"Cc": "control character", "Cf": "invisible format character",
                "Cs": "surrogate", "Zl": "line separator", "Zp": "paragraph separator"}
#: Format characters some writing systems need inside words (zero-width non-joiner and
#: joiner): allowed.
_JOINERS = frozenset("\u200c\u200d")


def _printable(text: str) -> str:
    """A name of printable characters only (:data:`_UNPRINTABLE`)."""
    for ch in text:
        what = _UNPRINTABLE.get(unicodedata.category(ch))
        if what is not None and ch not in _JOINERS:
            raise PydanticCustomError("name", "{msg}", {
                "msg": f"{what} {ch!r} (U+{ord(ch):04X}) in the name {text!r}: use "
                       "printable text"})
    return text


#: A name: non-empty, printable.
Name = Annotated[str, Field(min_length=1), AfterValidator(_printable)]


class Section(BaseModel):
    """Base of every scenario model: unknown fields forbidden, strict types, frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- topology ----------------------------------------------------------------------------


class Link(Section):
    """A full-duplex link with the same values both ways.

    Attributes:
        bandwidth: bytes/s.
        latency: one-way latency, s.
        loss: per-packet loss probability, in [0, 1).
        jitter: each packet's one-way delay drawn uniformly in ``latency ± jitter``
            (netem's ``delay TIME JITTER``), order kept; at most ``latency``.
    """

    bandwidth: Rate
    latency: Time = 0.0
    loss: Probability = 0.0
    jitter: Time = 0.0


class LinkReverse(Section):
    """Values of the ``b -> a`` direction that differ from ``a -> b`` (unset: the same)."""

    bandwidth: OptRate = None
    latency: OptTime = None
    loss: Probability | None = None
    jitter: OptTime = None


class WanLink(Link):
    """A WAN link: its values from the site to the data center, ``reverse`` the other way.

    Attributes:
        reverse: the data center -> site direction's values where they differ (the way
            boot images travel: an asymmetric access line).
    """

    reverse: LinkReverse | None = None


class Host(Section):
    """A boot-side host (where services run).

    Attributes:
        name: node name.
        attach: node it links to; ``None``: the shape's default (the ToR of a rack, the
            services leaf of a leaf-spine, the data-center switch of a remote site).
        link: its link; ``None``: ``topology.host_link``, else ``topology.server_link``.
        nics: links to ``attach`` (2: an LACP pair).
    """

    name: Name
    attach: str | None = None
    link: Link | None = None
    nics: Literal[1, 2] = 1


class Node(Section):
    """An explicit extra node (a router, a switch, a server of a custom topology)."""

    name: Name
    kind: Literal["server", "tor", "spine", "router", "switch", "wan", "host"]
    domain: str | list[str] | None = None
    rack: str | None = None
    nics: PosInt = 1
    gateway: bool = False


class ExtraLink(Section):
    """An explicit extra link between two nodes; ``reverse`` sets the ``b -> a`` values."""

    a: Name
    b: Name
    name: Name | None = None
    bandwidth: Rate
    latency: Time = 0.0
    loss: Probability = 0.0
    jitter: Time = 0.0
    reverse: LinkReverse | None = None


#: 25GbE server port: the link the MAAS report saturates [maas-nfs-thread];
#: 1 us per hop, the order of a cut-through data-center switch (assumed, not measured).
DEFAULT_SERVER_LINK = Link(bandwidth="25Gbps", latency="1us")


class WifiRate(Section):
    """One PHY rate of a Wi-Fi mix: ``rate`` for ``share`` of the stations."""

    rate: Rate
    share: Annotated[float, Field(gt=0, le=1)] = 1.0


class Wifi(Section):
    """Wi-Fi stations (kiosks, edge devices): an access point per site with its stations.

    ``rack``: on the ToR (stations ``w001``..., rack ``wifi``); ``remote-site``: on the
    site router (``site-w001``...); ``multi-site``: one per site on its router
    (``s01-w001``..., rack ``s01-wifi``). The access point's medium is shared: its
    useful capacity with ``n`` stations transferring is Bianchi's 802.11 DCF throughput
    at their PHY rates, shared equally (:mod:`netbootsim.net.wifi`).

    Attributes:
        stations: stations per access point.
        rates: the PHY rates of the stations (a mix by ``share``, laid out by index),
            OFDM rates of 802.11a/g; default 54 Mb/s for all, the highest iPXE's
            802.11 stack can use (no 802.11n: src/include/ipxe/net80211.h [ipxe-src]).
        uplink: the access point's wired link; default ``server_link``.
        latency: the wireless hop's one-way latency (default 0: the medium's access
            delay is in its capacity, not added per packet).
        associate: scan and association before the station's first DHCP packet;
            default 1 s, iPXE's wait for better access points once it has found the
            network (NET80211_PROBE_GATHER, src/net/80211/net80211.c [ipxe-src]); the
            association and WPA2-PSK frames take milliseconds, and the PSK's PBKDF2
            (4,096 HMAC-SHA1 rounds on the client's CPU) is not counted: 1.4 ms with
            OpenSSL 3.0 on the lab machine (``hashlib.pbkdf2_hmac``, 200 runs), under
            0.2 % of the association; iPXE's own SHA-1 is slower, by an unmeasured
            factor.
    """

    stations: PosInt
    rates: Annotated[list[WifiRate], Field(min_length=1)] = [WifiRate(rate="54Mbps")]
    uplink: Link | None = None
    latency: Time = 0.0
    associate: Time = 1.0


class TopologySection(Section):
    """``topology:`` the network, built by :mod:`netbootsim.topology.builders`.

    ``servers`` is for ``rack`` and ``remote-site``; ``racks``, ``servers_per_rack``,
    ``spines`` and exactly one of ``uplink``/``oversubscription`` for ``leaf-spine``;
    ``wan`` for ``remote-site``; ``sites``, ``racks`` (per site), ``servers_per_rack``
    and ``wan`` (each site's) or ``wans`` (the sites' in turn: site k takes entry
    (k - 1) mod their count) for ``multi-site``; ``custom`` uses only
    ``nodes``/``hosts``/``links``.
    """

    shape: Literal["rack", "leaf-spine", "remote-site", "multi-site", "custom"] = "rack"
    sites: PosInt | None = None
    servers: PosInt | None = None
    racks: PosInt | None = None
    servers_per_rack: PosInt | None = None
    spines: PosInt | None = None  # leaf-spine: 2 when unset (smallest redundant spine layer)
    nics: Literal[1, 2] = 1
    server_link: Link = DEFAULT_SERVER_LINK
    host_link: Link | None = None
    uplink: Link | None = None
    oversubscription: Annotated[float, Field(gt=0)] | None = None
    wan: WanLink | None = None
    wans: list[WanLink] = []
    hosts: list[Host] = []
    nodes: list[Node] = []
    links: list[ExtraLink] = []
    wifi: Wifi | None = None


# -- services ----------------------------------------------------------------------------

def _expected(names: list[str]) -> str:
    """``'a', 'b' or 'c'``: the choices worded as pydantic words those of a ``Literal``."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _model_name(kind: str) -> PlainValidator:
    """A ``model:`` field: one of the models of ``kind`` registered when it is validated.

    A wrong name is pydantic's ``literal_error``, as a ``Literal`` of the names gives.
    """

    def check(value: Any) -> str:
        names = list(KINDS[kind].models)
        if isinstance(value, str) and value in names:
            return value
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": _expected(names)})

    return PlainValidator(check)


def _from_model(kind: str, name: str) -> Any:
    """A field whose default is the value the service's model gives it (the registry's)."""

    def default(data: dict[str, Any]) -> Any:
        return getattr(KINDS[kind].models[data["model"]], name)

    return Field(default_factory=default)


class TftpService(Section):
    """A TFTP server.

    Attributes:
        host: the topology host it runs on.
        model: server implementation, one of :data:`netbootsim.services.registry.TFTP`.
        max_sessions: concurrent transfers (``None``: no cap); default from ``model``.
        recv_buffer: receive buffer of the socket RRQs wait in while every session is
            busy (bytes, e.g. ``4MiB``; ``sk_rcvbuf``, as ``net.core.rmem_default`` sets
            it); RRQs that do not fit are dropped. Default from ``model`` (the kernel's).
        block_cost: server CPU time per block, s. Default 0: not yet measured
            (calibration lab, issue 3).
        disk_rate: read rate shared by all transfers, bytes/s (``None``: page cache).
    """

    kind: Literal["tftp"]
    host: Name
    model: Annotated[str, _model_name("tftp")] = TFTP.default
    max_sessions: PosInt | None = _from_model("tftp", "max_sessions")
    recv_buffer: Size = _from_model("tftp", "recv_buffer")
    block_cost: Time = 0.0
    disk_rate: OptRate = None


class TlsTermination(Section):
    """TLS terminated at a service: what it costs the service's CPU.

    A new HTTPS connection's handshake holds one of ``cores`` for ``handshake`` (waiting
    for a free one first: a storm's handshakes queue); the bytes it sends cross a
    shared ``cores × cipher_rate`` bytes/s (the bulk cipher, a bottleneck like a link).

    Attributes:
        cores: CPU cores given to TLS (the server's; no default).
        handshake: CPU time of one full handshake on one core; default measured
            (:data:`netbootsim.services.registry.TLS_SERVER`: 0.27 ms, ECDHE-RSA-2048).
        cipher_rate: bytes/s one core encrypts; default measured (3.99 GB/s AES-128-GCM).
    """

    cores: PosInt
    handshake: Time = TLS_SERVER.handshake
    cipher_rate: Rate = TLS_SERVER.cipher_rate


class HttpService(Section):
    """An HTTP server (image mirror).

    Attributes:
        host: the topology host it runs on.
        model: server implementation, one of :data:`netbootsim.services.registry.HTTP`.
        workers: concurrent requests served; default from ``model``.
        disk_rate: read rate shared by all transfers, bytes/s (``None``: page cache).
        https: it also serves ``https://`` (TLS 1.2: two more round trips per new
            connection; TLS 1.1-1.2 in iPXE, config/crypto.h [ipxe-src]).
        trusted: its certificate chains to the clients' trust anchor; ``false``: iPXE
            refuses it (verification is always on, net/validator.c [ipxe-src]).
        origin: an edge cache (a CDN edge, a site's caching proxy): the HTTP service it
            fills its objects from (:mod:`netbootsim.fleet.edge`); ``None``: it holds
            every image itself.
        cache: an edge's capacity (bytes): the least recently used objects make room
            for a new one; an object larger than the whole cache is fetched from the
            origin for each request and not kept (``None``: no limit).
        inactive: an edge drops an object nobody asked for this long, however fresh
            (nginx ``proxy_cache_path ... inactive``, 10 min by default
            [nginx-proxy-cache]).
        coalesce: an edge's misses of one object wait for the one fill in progress
            (``true``) instead of each fetching it from the origin.
        fallback: when the edge is down, its clients go to the origin (``origin``), to
            another edge or service named here (the next edge: if it is down too, its own
            fallback applies), or fail as from any dead server (``none``).
        tls: the CPU cost of its HTTPS (:class:`TlsTermination`); ``None``: not counted.
        tcp_cc: its TCP senders' congestion control: ``cubic`` (Linux's default since
            2.6.19, Debian's and RHEL's kernels), ``reno`` or ``bbr`` (BBR v1, which does
            not slow down for random loss: with 1 % loss an 8 MiB fetch took 0.35-0.62 s
            in the lab against 2.99-3.22 s with CUBIC, ``docs/calibration.md``). It
            matters only on paths with loss (:mod:`netbootsim.protocols.tcp`).
    """

    kind: Literal["http"]
    host: Name
    model: Annotated[str, _model_name("http")] = HTTP.default
    workers: PosInt = _from_model("http", "workers")
    disk_rate: OptRate = None
    https: bool = False
    trusted: bool = True
    origin: Name | None = None
    cache: Size | None = None
    inactive: Time = 600.0
    coalesce: bool = True
    fallback: Name = "none"
    tls: TlsTermination | None = None
    tcp_cc: Literal["cubic", "reno", "bbr"] = "cubic"


class DhcpService(Section):
    """A DHCP server, timed as :mod:`netbootsim.services.dhcp` describes (pools, relays, PXE).

    Attributes:
        host: the topology host it runs on.
        model: server implementation, one of :data:`netbootsim.services.registry.DHCP`.
        service_time: time per DHCP packet; default from ``model`` (dnsmasq's
            DISCOVER→OFFER in the lab).
        ping: it pings a fresh address before offering it (dnsmasq's default;
            ``--no-ping`` turns it off), waiting as long as its ``model`` does.
        no_pxedhcp: its offers carry option 175.176 so iPXE skips the 2 s ProxyDHCP wait.
        ipv6_ra: a router advertisement reaches the clients, so iPXE does not wait ~16 s
            for IPv6 autoconfiguration (lab: dhcp step 1.02 s with an RA, 16.08 s without).
        pool: addresses per client subnet (the relay's giaddr picks it); ``None``: enough.
        proxy: a ProxyDHCP server: it gives PXE clients a boot file, no address.
        boot_files: boot file (an image name) per client architecture, option 93:
            ``{bios: undionly.kpxe, uefi: ipxe.efi, uefi-arm64: ipxe-arm64.efi}``.
        script: what it gives iPXE (user class ``iPXE``): a script URL such as
            ``http://api1/boot?mac=${net0/mac}``; empty: iPXE runs the group's script.
        user_class_check: it tells iPXE from the PXE ROM; ``false`` hands iPXE the PXE
            boot file again (the chainload loop).
        dns: the DNS services it hands its clients (option 6), in order; ``None``: every
            DNS service of the scenario, in name order.
    """

    kind: Literal["dhcp"]
    host: Name
    model: Annotated[str, _model_name("dhcp")] = DHCP.default
    service_time: Time = _from_model("dhcp", "service_time")
    ping: bool = True
    no_pxedhcp: bool = False
    ipv6_ra: bool = False
    pool: PosInt | None = None
    proxy: bool = False
    boot_files: dict[Literal["bios", "uefi", "uefi-arm64"], str] = {}
    script: str = ""
    user_class_check: bool = True
    dns: list[Name] | None = None


class ApiService(Section):
    """A provisioning API: answers each machine's ``chain http://api/...`` with its script.

    Attributes:
        host: the topology host it runs on.
        model: implementation, one of :data:`netbootsim.services.registry.API` (one
            generic model for now).
        service_time: time per request; default from ``model`` (assumed: no published
            figure); a distribution draws it per request.
        concurrency: requests served at once; default from ``model`` (assumed).
        script: the script it answers every machine (default, without ``templates``:
            the asking machine's group's ``kernel``/``initrd``/``boot``).
        inventory: the machines it knows: a CSV or YAML file (relative to the scenario)
            or inline rows, each with ``mac``/``serial``/``asset``/``uuid``/``server``,
            a ``role`` and template values (:mod:`netbootsim.services.provisioning`).
        templates: Jinja2 script template per role (``"*"``: the rest).
        unknown: the template for machines not in the inventory (a discovery script).
        https: it is reached over ``https://``; trusted: as for http services.
    """

    kind: Literal["api"]
    host: Name
    model: Annotated[str, _model_name("api")] = API.default
    service_time: VarTime = _from_model("api", "service_time")
    concurrency: PosInt = _from_model("api", "concurrency")
    script: str | None = None
    inventory: str | list[dict[str, Any]] | None = None
    templates: dict[str, str] = {}
    unknown: str | None = None
    https: bool = False
    trusted: bool = True


class OrchestratorService(Section):
    """A provisioning orchestrator (Ironic's conductor, MAAS).

    It sends the BMC power commands of the groups it powers on and starts their
    stages, through capped workers (:mod:`netbootsim.services.orchestrator`).

    Attributes:
        host: the topology host it runs on.
        model: one of :data:`netbootsim.services.registry.ORCHESTRATOR` (``ironic``,
            ``maas``): the defaults of the fields below, with their sources.
        power_workers: power commands at once (``null``: no cap).
        power_latency: from a command's start to the server's power coming on.
        power_time: how long a command holds its worker (at least ``power_latency``).
        step_workers: stage starts (deploy steps) at once (``null``: no cap).
        step_time: a worker's time to start a stage.
    """

    kind: Literal["orchestrator"]
    host: Name
    model: Annotated[str, _model_name("orchestrator")] = ORCHESTRATOR.default
    power_workers: PosInt | None = _from_model("orchestrator", "power_workers")
    power_latency: Time = _from_model("orchestrator", "power_latency")
    power_time: Time = _from_model("orchestrator", "power_time")
    step_workers: PosInt | None = _from_model("orchestrator", "step_workers")
    step_time: Time = _from_model("orchestrator", "step_time")


class DnsService(Section):
    """A DNS server: boot URIs may name hosts (``http://boot.example.com/kernel``).

    DHCP hands the clients their DNS servers (option 6): a DHCP service's ``dns`` list,
    else every DNS server of the scenario in name order. iPXE resolves a name for each
    connection it opens (it keeps no cache), asking one server per try on its retry
    timer (:mod:`netbootsim.fleet.dns`).

    A server is either authoritative (``records``) or a caching resolver (``forward``):
    the resolver answers from its cache while an answer's TTL lasts, and forwards a
    query it cannot answer to the server named, once for all the clients that ask
    while that query is out (RFC 1035 §3.2.1 TTL [rfc1035]; BIND's ``clients-per-query``
    [bind-arm]).

    Attributes:
        host: the topology host it runs on.
        model: one of :data:`netbootsim.services.registry.DNS`.
        records: each name (with a dot: a full name) and the services whose hosts are its
            A records, in the zone's order (several: round-robin DNS over mirrors).
        forward: a caching resolver: the authoritative DNS service it asks.
        ttl: the TTL of this server's records (s): how long a resolver caches them
            (the zone owner's choice: no default; needed when a resolver forwards here).
        order: how each answer orders a name's records: ``cyclic`` (rotated by one each
            answer), ``fixed`` or ``random``; default from ``model``.
        service_time: its time per query; default from ``model`` (assumed).
        clients_per_query: as a resolver, the most clients waiting for one forwarded
            query of a name (BIND's ``max-clients-per-query``); more are dropped and
            resend on their retry timer; default from ``model``.
    """

    kind: Literal["dns"]
    host: Name
    model: Annotated[str, _model_name("dns")] = DNS.default
    records: Annotated[dict[str, Annotated[list[Name], Field(min_length=1)]],
                       Field(min_length=1)] | None = None
    forward: Name | None = None
    ttl: Time | None = None
    order: Literal["cyclic", "fixed", "random"] = _from_model("dns", "order")
    service_time: Time = _from_model("dns", "service_time")
    clients_per_query: PosInt = _from_model("dns", "clients_per_query")


class LbService(Section):
    """A load balancer in front of HTTP mirrors (:mod:`netbootsim.fleet.balance`).

    ``mode: redirect``, an HTTP 302 redirector: a client's request to it costs a round
    trip (and a TCP handshake when no connection to it is pooled); it answers ``302``
    with a mirror of its pool, and the client fetches the file there over a new
    connection, as iPXE follows a redirect (net/tcp/httpcore.c ``http_redirect``).
    ``mode: l4``: the client's connection goes to the balancer, which picks a mirror
    for it and carries its bytes both ways (NAT): mirror -> balancer -> client, every
    link of both legs, the round trip of both, its time per request on each request.
    Health checks take a mirror that stopped answering out of the pool.

    Attributes:
        host: the topology host it runs on.
        model: one of :data:`netbootsim.services.registry.LB`.
        mode: ``redirect`` (``l4``, the connection through the balancer, is not built).
        pool: the HTTP services it sends clients to.
        algorithm: ``round-robin``, ``least-connections`` (the mirror with the fewest
            transfers running; the pool's order breaks ties), ``source-hash`` (the
            client's name hashed: a client always gets the same mirror of those up),
            ``least-bytes`` (the fewest bytes being served) or ``nearest`` (the shortest
            round trip from the client: its own site's mirror first).
        service_time: its time per request.
        check_interval, fall, rise: its health checks (defaults: HAProxy's), for a
            model whose health is active (``haproxy``, ``lvs``).
        max_fails, fail_timeout, connect_timeout: for a model whose health is passive
            (``nginx``: no checks; ``max_fails`` failed connections to a mirror hold it
            out for ``fail_timeout``; a mirror that does not answer fails a connection
            after ``connect_timeout`` and the next one is tried).
        check_timeout: how long a check waits for a mirror that does not answer before
            it counts as failed (HAProxy's ``timeout check``; unset, ``inter``: 2 s).
        fast_interval, down_interval: the wait after a check while a mirror is between
            states, and after a failed check while it is out (HAProxy's ``fastinter``,
            ``downinter``; ``None``: ``check_interval``).
        max_connections: ``l4``: client connections it holds at once (HAProxy's
            ``maxconn``; ``None``: no cap, none invented); beyond it SYNs wait in its
            backlog as a web server's do.
        tls: it terminates TLS (:class:`TlsTermination`): ``l4``, the HTTPS bytes are
            encrypted by its cores, not the mirrors'; ``redirect``, its HTTPS requests'
            handshakes. ``None``: not counted.
    """

    kind: Literal["lb"]
    host: Name
    model: Annotated[str, _model_name("lb")] = LB.default
    mode: Literal["redirect", "l4"] = "redirect"
    pool: Annotated[list[Name], Field(min_length=1)]
    algorithm: Literal["round-robin", "least-connections", "source-hash", "least-bytes",
                       "nearest"] = _from_model("lb", "algorithm")
    service_time: Time = _from_model("lb", "service_time")
    check_interval: Annotated[float, _quantity("time", positive=True)] = _from_model(
        "lb", "check_interval")
    check_timeout: Time = _from_model("lb", "check_timeout")
    fast_interval: Annotated[float, _quantity("time", positive=True)] | None = _from_model(
        "lb", "fast_interval")
    down_interval: Annotated[float, _quantity("time", positive=True)] | None = _from_model(
        "lb", "down_interval")
    fall: PosInt = _from_model("lb", "fall")
    rise: PosInt = _from_model("lb", "rise")
    max_fails: PosInt | None = _from_model("lb", "max_fails")
    fail_timeout: Annotated[float, _quantity("time", positive=True)] | None = _from_model(
        "lb", "fail_timeout")
    connect_timeout: Annotated[float, _quantity("time", positive=True)] | None = _from_model(
        "lb", "connect_timeout")
    max_connections: PosInt | None = None
    tls: TlsTermination | None = None

    @model_validator(mode="after")
    def _health_fields(self) -> LbService:
        passive = KINDS["lb"].models[self.model].health == "passive"
        mine = ("max_fails", "fail_timeout", "connect_timeout")
        theirs = ("check_interval", "check_timeout", "fast_interval", "down_interval",
                  "fall", "rise")
        wrong = [f for f in (theirs if passive else mine) if f in self.model_fields_set]
        if wrong:
            kind = "passive: no health checks" if passive else "active: health checks"
            use = ", ".join(mine if passive else theirs)
            raise PydanticCustomError(
                "lb_health", "model {model}'s health is {kind}; {wrong} do not apply to "
                "it (its fields: {use})",
                {"model": self.model, "kind": kind, "wrong": ", ".join(wrong), "use": use})
        return self


class IopsStep(Section):
    """One step of a SAN boot's demand: from ``after`` on, ``iops`` requests a second.

    Attributes:
        after: seconds into the OS's reads (from its first).
        iops: the OS's requests (reads and writes) a second from then on.
    """

    after: Time
    iops: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RequestShare(Section):
    """One size of a SAN boot's request mix.

    Attributes:
        size: the request's bytes.
        share: its share of the requests (the shares add up to 1).
    """

    size: Size
    share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class SanBoot(Section):
    """What a server reads from its SAN disk to boot (:mod:`netbootsim.fleet.san`).

    Two stages. The boot loader reads through iPXE's SAN drive, one command at a time
    (core/sanboot.c [ipxe-src]), until it hands over to the kernel: ``loader`` bytes
    in requests of ``loader_request`` (cut to the protocol's most a command). Then the
    booted OS reads ``os`` bytes until the server is ready, at most ``os_iops`` requests
    a second of ``os_request`` bytes each (its demand while it boots), ``os_read_share``
    of them reads and the rest writes (``os × (1 - share) / share`` bytes written).

    Attributes:
        loader: bytes read before the hand-over; default 33.6 MB, the lab disk's
            (SYSLINUX loading a kernel and an initrd, lab/traces4 [lab-traces]).
        loader_request: bytes a read of the loader asks for; default 65,024 (127
            sectors, the lab's most common iSCSI read [lab-traces]).
        os: bytes the OS reads from the disk until ready; default 0 (not measured: the
            lab's kernel had no initiator to carry on with).
        os_request: bytes an OS read asks for; default 64 KiB (assumed).
        os_iops: the OS's requests (reads and writes) a second while it boots; default
            150, a pooled VDI desktop's boot (Citrix CTX135986 [citrix-ctx135986]).
        os_read_share: the share of those requests that are reads; default 0.65, the
            middle of that boot's 60-70 % (Citrix CTX135986 [citrix-ctx135986]); 1: no
            writes.
        os_request_mix: the OS's request sizes and their shares instead of one
            ``os_request`` (``[{size: 4KiB, share: 0.3}, {size: 64KiB, share: 0.7}]``):
            a target's IOPS are its requests a second at their mean size, and each
            size's commands carry their own headers.
        os_iops_curve: the demand over time instead of a constant ``os_iops``: steps
            ``{after: <time>, iops: <n>}`` in time order (before the first, ``os_iops``);
            your own measurement of a boot (a burst while the OS loads, less later).
    """

    loader: Size = 33.6e6
    loader_request: Size = 65_024.0
    os: Annotated[float, _quantity("size")] = 0.0
    os_request: Size = 65_536.0
    os_iops: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 150.0
    os_read_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.65
    os_iops_curve: list[IopsStep] | None = None
    os_request_mix: list[RequestShare] | None = None


class _SanTarget(Section):
    """What iSCSI, AoE and FCoE targets share (:mod:`netbootsim.fleet.san`).

    Attributes:
        host: the topology host it runs on (an array's controller).
        iops: the read requests a second it serves, all its initiators together, at
            its boot's ``os_request`` size (its bytes a second, ``iops × os_request``,
            are what every read shares: a read of another size counts by its bytes);
            ``None``: no limit but ``bandwidth`` and the network.
        bandwidth: the bytes a second its disks deliver; ``None``: no limit.
        array: another target whose array backs this one too (an array exporting
            several targets): their reads share that target's ``iops`` and
            ``bandwidth`` (this one's own are then not given); ``None``: its own.
        sessions: the initiators it accepts at once (an array's login limit); a server
            holds one from its attach for as long as it runs from the disk (its OS logs
            in again after the hand-over and stays). A login past it is refused, and
            iPXE tries again 5 s later, 10 times (core/sanboot.c [ipxe-src]) before the
            attach fails; ``None``: no limit.
        latency: its time per read request (s); default from ``model``.
        attach: the attach's time beyond its round trips (s); default from ``model``.
        queue_depth: the booted OS's requests in flight on a session at most (its
            initiator's; ``None``: no limit); default from ``model`` (iSCSI 32, AoE 64,
            FCoE none). With the round trip and ``latency`` it bounds the OS's requests a
            second: ``queue_depth / (rtt + latency)``.
        boot: what a server booting from it reads (:class:`SanBoot`).
    """

    host: Name
    iops: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    bandwidth: OptRate = None
    sessions: PosInt | None = None
    array: Name | None = None
    boot: SanBoot = SanBoot()


class IscsiService(_SanTarget):
    """An iSCSI target: ``sanboot iscsi:<host>::::<iqn>`` (RFC 4173 [rfc4173]).

    Attributes:
        model: one of :data:`netbootsim.services.registry.ISCSI`.
        iqn: its target name; a URI naming another is refused (``None``: any).
    """

    kind: Literal["iscsi"]
    model: Annotated[str, _model_name("iscsi")] = ISCSI.default
    iqn: Name | None = None
    latency: Time = _from_model("iscsi", "latency")
    attach: Time = _from_model("iscsi", "attach")
    queue_depth: PosInt | None = _from_model("iscsi", "queue_depth")


class AoeService(_SanTarget):
    """An AoE target: ``sanboot aoe:e<shelf>.<slot>``, found by broadcast in its L2 domain.

    Attributes:
        model: one of :data:`netbootsim.services.registry.AOE`.
        shelf, slot: its address (the URI's ``e<shelf>.<slot>``).
    """

    kind: Literal["aoe"]
    model: Annotated[str, _model_name("aoe")] = AOE.default
    shelf: Annotated[int, Field(ge=0, le=65535)] = 0
    slot: Annotated[int, Field(ge=0, le=255)] = 0
    latency: Time = _from_model("aoe", "latency")
    attach: Time = _from_model("aoe", "attach")
    queue_depth: PosInt | None = _from_model("aoe", "queue_depth")


def _wwn_text(value: Any) -> Any:
    """A port WWN as iPXE writes it: ``xx:xx:xx:xx:xx:xx:xx:xx`` (8 hex bytes), lower-case."""
    if not isinstance(value, str):
        raise PydanticCustomError("wwn", "{msg}", {
            "msg": f"expected a WWN like 20:00:00:25:b5:00:00:0f, got "
                   f"{type(value).__name__}"})
    parts = value.split(":")
    if len(parts) != 8 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF"
                                                      for c in p) for p in parts):
        raise PydanticCustomError("wwn", "{msg}", {
            "msg": f"{value!r} is not a WWN: 8 bytes in hex, ':' between them "
                   "(20:00:00:25:b5:00:00:0f)"})
    return value.lower()


class FcoeService(_SanTarget):
    """An FCoE target: ``sanboot fcp:<wwn>:<lun>``, reached over Ethernet in its L2 domain.

    Attributes:
        model: one of :data:`netbootsim.services.registry.FCOE`.
        wwn: its port's world wide name (the URI's ``<wwn>``).
    """

    kind: Literal["fcoe"]
    model: Annotated[str, _model_name("fcoe")] = FCOE.default
    wwn: Annotated[str, PlainValidator(_wwn_text)]
    latency: Time = _from_model("fcoe", "latency")
    attach: Time = _from_model("fcoe", "attach")
    queue_depth: PosInt | None = _from_model("fcoe", "queue_depth")


Service = Annotated[Union[TftpService, HttpService, DhcpService, ApiService,  # noqa: UP007
                          OrchestratorService, DnsService, LbService, IscsiService,
                          AoeService, FcoeService],
                    Field(discriminator="kind")]


class Image(Section):
    """A boot file (NBP, kernel, initrd, rootfs, OS image) or an iPXE script.

    Attributes:
        size: bytes (for a script: its length, when left out).
        script: an iPXE script's text (``#!ipxe`` ...): served as a script.
    """

    size: Size | None = None
    script: str | None = None

    @model_validator(mode="after")
    def _size_or_script(self) -> Image:
        if self.size is None and self.script is None:
            raise PydanticCustomError("missing", "give size (or script, for an iPXE script)")
        return self

    @property
    def bytes(self) -> float:
        """Its size in bytes."""
        return self.size if self.size is not None else float(len(self.script.encode()))


# -- fleet, faults, run ------------------------------------------------------------------


class PowerOn(Section):
    """When a group's servers are powered on (:mod:`netbootsim.fleet.power`).

    Without ``policy``, server ``i`` of the group powers on at ``at + i / per_second``,
    its ``k``-th rack ``k × rack_interval`` later (all at ``at`` by default). A policy
    says it another way (each field only with its policy):

    * ``all-at-once``: every server at ``at``;
    * ``stagger``: one server every ``interval``;
    * ``batches``: ``batch`` servers every ``every`` (a BMC/IPMI command rate);
    * ``random``: each server at a uniform instant in ``[at, at + window)``, or at
      ``at`` plus its draw when ``window`` is a distribution; drawn from the run's
      stream ``power_on/<group>``;
    * ``per-rack``: rack after rack (PDU outlets), ``interval`` apart;
    * ``admission``: at most ``max_booting`` servers booting at once (``scope``:
      ``group``, or ``fleet`` shared by every group so scoped), the next one powered on
      when one is ready or has failed;
    * ``standby``: powered off until a lifecycle event asks for them (``events``: a
      ``replace`` names one, a ``demand`` draws from the group); they are not part of
      the fleet's commissioning (``servers.csv``), their boots are the events' rows.

    Attributes:
        policy: one of the above (``None``: ``at``/``per_second``/``rack_interval``).
        at: time of the first power-on (request), s.
        per_second: servers powered on per second (``None``: all at ``at``); no policy.
        rack_interval: rack by rack: each next rack of the group this much later, s;
            no policy.
        interval: ``stagger``: between consecutive servers; ``per-rack``: between racks.
        batch, every: ``batches``: servers per batch, time between batches.
        window: ``random``: the window the instants are drawn in (uniformly), or a
            distribution (:mod:`netbootsim.dist`) of each server's delay after ``at``.
        max_booting: ``admission``: servers booting at once at most.
        scope: ``admission``: ``group`` or ``fleet``.
        orchestrator: the orchestrator service whose power commands power the servers
            on (default: the scenario's orchestrator, if it has exactly one; none else).
    """

    policy: Literal["all-at-once", "stagger", "batches", "random", "per-rack",
                    "admission", "standby"] | None = None
    at: Time = 0.0
    per_second: Annotated[float, Field(gt=0)] | None = None
    rack_interval: Time = 0.0
    interval: OptTime = None
    batch: PosInt | None = None
    every: OptTime = None
    window: OptVarTime = None
    max_booting: PosInt | None = None
    scope: Literal["group", "fleet"] | None = None
    orchestrator: Name | None = None


class Install(Section):
    """The OS phase's image pull: streamed to disk over HTTP by the installer.

    Attributes:
        image: image name.
        server: the http service (mirror) it comes from.
        disk_rate: the disk's write rate (``None``: the network is the limit).
    """

    image: Name
    server: Name
    disk_rate: OptRate = None


class Stage(Section):
    """A lifecycle stage: a network boot, then the OS phase.

    Attributes:
        name: stage name (``commissioning``, ``deploy``...).
        timeout: the orchestrator fails the stage this long after it began (MAAS:
            commissioning 20 min, deploy 40 min; node_status.py [maas-src]).
        on_failure: ``halt``, ``reboot`` (BIOS boot order, after ``reboot_after``, within
            the timeout) or ``retry`` (the orchestrator restarts the stage, ``retries``
            times).
        retries: ``retry`` attempts after the first.
        reboot_after: ``reboot``: wait before the next attempt.
        install: the OS image pull.
        work: time in the booted OS (commissioning scripts: MAAS's 60 s LLDP floor); a
            distribution (:mod:`netbootsim.dist`) draws it per server.
        max_in_flight: servers in this stage at once, fleet-wide.
    """

    name: Name
    timeout: Annotated[float | None, _quantity("time", optional=True, positive=True)] = None
    on_failure: Literal["halt", "reboot", "retry"] = "halt"
    retries: Annotated[int, Field(ge=0)] = 0
    reboot_after: Time = 0.0
    install: Install | None = None
    work: VarTime = 0.0
    max_in_flight: PosInt | None = None


def _profile_ref(*, optional: bool = False):
    """A firmware profile: a name, or a mix of names ``{mix: [{weight, profile}, ...]}``.

    A mix becomes a :class:`~netbootsim.profiles.ProfileMix` (each server draws one
    part, :mod:`netbootsim.fleet.variation`); a malformed one is a ``dist`` error whose
    context names the part that is wrong. Names are checked with the scenario (with
    suggestions), not here. Serialized as written.
    """

    def parse(value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, ProfileMix):
            return value
        if isinstance(value, str):
            if not value:
                raise PydanticCustomError("dist", "{msg}", {"msg": "must not be empty",
                                                            "sub": []})
            return value
        if isinstance(value, dict):
            try:
                return parse_mix(value)
            except DistError as e:
                raise PydanticCustomError("dist", "{msg}",
                                          {"msg": e.msg, "sub": list(e.sub)}) from None
        raise PydanticCustomError("dist", "{msg}", {
            "msg": f"expected a profile name or {{mix: [{{weight: w, profile: name}}, "
                   f"...]}}, got {value!r}", "sub": []})

    def dump(value: Any) -> Any:
        return value.spec() if isinstance(value, ProfileMix) else value

    return (PlainValidator(parse), PlainSerializer(dump))


#: A firmware profile's name, or a mix of them (:func:`_profile_ref`).
ProfileRef = Annotated[Any, *_profile_ref()]
OptProfileRef = Annotated[Any, *_profile_ref(optional=True)]
#: The platforms a boot file is given for (DHCP option 93: 0, 7, 11).
Platform = Literal["bios", "uefi", "uefi-arm64"]


class FleetGroup(Section):
    """A group of servers that boot the same way.

    Attributes:
        name: group name.
        count: servers in the group, taken in topology order.
        racks: only servers of these racks (``None``: any rack); an entry with ``*``,
            ``?`` or ``[`` is a pattern naming every rack it matches (``"*-wifi"``).
        boot: boot path, one of :data:`BOOT_PATHS`.
        profile: firmware profile (:data:`netbootsim.profiles.PROFILES`), or a mix of
            them (``{mix: [{weight: 0.7, profile: server-uefi}, {weight: 0.3, profile:
            server-bios}]}``: each server draws its own); default ``pxe-rom`` for
            ``pxe``, else ``ipxe-current``.
        images: image names, fetched in order (by the default script, or by the NBP of
            a ``pxe`` boot).
        server: service the images come from.
        power_on: when the servers are powered on.
        arch: ``bios``, ``uefi`` or ``uefi-arm64`` (DHCP option 93 picks the boot file)
            for servers whose firmware profile has no platform of its own (the server
            classes have one).
        boot_files: the boot file (an image name) per platform, given to this group's
            PXE clients before a DHCP server's own (``{bios: undionly.kpxe, uefi:
            ipxe.efi, uefi-arm64: ipxe-arm64.efi}``); a mixed group's servers each get
            their own platform's.
        script: the group's embedded iPXE script, run instead of iPXE's autoboot
            (default: autoboot — ``dhcp``, then the script URL DHCP gives, else
            ``kernel``/``initrd`` of ``images`` from ``server``, then ``boot``).
        rom: ``pxe-chainload-ipxe``: the PXE ROM's profile (default ``pxe-rom``) — a
            server class (``server-uefi``...) brings its POST and platform — or a mix.
        nbp: the NBP a PXE ROM loads when DHCP names no boot file (an image name).
        dhcp: the DHCP service of the group (default: the first non-proxy one by name).
        stages: the lifecycle (default: one stage ``boot``).
        build: the iPXE binary's command set (``netbootsim ipxe check --help`` lists
            them; e.g. ``all`` for a build with IMAGE_TRUST_CMD); default: the profile's.
        tune: profile values changed for this group, units in the text
            (``{tftp_client_block_delay: 2ms}``; :data:`netbootsim.profiles.TUNABLE`);
            ``post`` changes the firmware that starts at power-on (a chainload's
            ``rom``), the others ``profile``.
    """

    name: Name
    count: PosInt
    racks: list[str] | None = None
    boot: Literal["pxe", "pxe-chainload-ipxe", "ipxe"] = "ipxe"
    profile: ProfileRef = "ipxe-current"
    images: list[Name] = []
    server: Name | None = None
    power_on: PowerOn = PowerOn()
    arch: Platform = "bios"
    boot_files: dict[Platform, Name] = {}
    script: str | None = None
    rom: OptProfileRef = None
    nbp: Name | None = None
    dhcp: Name | None = None
    stages: list[Stage] = []
    build: Name | None = None
    tune: dict[Name, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _default_profile(cls, data: Any) -> Any:
        if isinstance(data, dict) and "profile" not in data:
            return {**data, "profile": "pxe-rom" if data.get("boot") == "pxe"
                    else "ipxe-current"}
        return data


class Fault(Section):
    """A fault injected during the run.

    Attributes:
        kind: ``link-down`` (a link, or a group's server ports), ``service-down``,
            ``loss`` (loss probability ``value`` on a link), ``lacp`` (a group's LAG
            ports drop every frame for ``duration`` after each link-up, until LACP
            converges) or ``stp`` (a group's ports blocked for ``duration`` after each
            link-up: STP listening + learning, ~30 s [rpi-firmware-991]) or
            ``tamper`` (an image, ``image`` or ``service:image``, is served altered:
            ``imgverify`` of a copy fetched in the window fails), ``service-slow`` (a
            service's time per request × ``factor``) or ``service-error`` (it answers
            HTTP 500), or ``server-fail`` (a server — or every server of a fleet group —
            fails at ``at`` and stays down: what it was doing stops, its transfers are
            cut, it is failed; one already ready or failed is not affected).
        target: a link name (``tor01--r01s001``), a service name, a server name
            (``r01s001``, ``server-fail``), or a fleet group.
        at: start, s (link and service faults; group faults start at each link-up).
        duration: length, s, > 0 (``None``: until the end); for a group's ``lacp``,
            ``stp`` or ``link-down`` a distribution draws it per server port.
        value: the loss probability for ``loss``.
        factor: ``service-slow``: how many times slower each request is served.
        every: repeat the window every this long, ``times`` windows in all, from ``at``
            (a flapping link: ``link-down`` for ``duration`` every ``every``); for the
            faults of one window (links, services, images), with a ``duration`` shorter
            than ``every``.
        times: how many windows with ``every`` (at most 10,000).
    """

    kind: Literal["link-down", "service-down", "service-slow", "service-error", "loss",
                  "lacp", "stp", "tamper", "server-fail"]
    target: Name
    at: Time = 0.0
    duration: Annotated[Any, *_varying("time", optional=True, positive_constant=True)] = None
    value: Probability | None = None
    factor: Annotated[float, Field(gt=0)] | None = None
    every: Annotated[float | None, _quantity("time", optional=True, positive=True)] = None
    times: Annotated[int, Field(ge=1, le=10000)] | None = None


class DemandPoint(Section):
    """One step of a demand curve: from ``at`` on, ``servers`` of the pool are wanted.

    Attributes:
        at: when the demand steps (s from the run's start).
        servers: how many of the pool's servers are wanted from then on (in all, not
            more).
    """

    at: Time
    servers: Annotated[int, Field(ge=0)]


class LifeEvent(Section):
    """Something that happens to the fleet after (or while) it is commissioned.

    Each field belongs to its kinds (:mod:`netbootsim.fleet.events`):

    * ``replace``: the server ``node`` fails at ``at`` and stays down; its identity (MAC,
      SMBIOS serial, asset tag and UUID as DHCP and the provisioning API see them), its
      group's boot (script, images, SAN mapping) and its stages move to the server
      ``standby`` (of a group whose ``power_on.policy`` is ``standby``), which is powered
      on then and boots as it: the time to restore service is the standby's ready time
      less ``at``.
    * ``reprovision``: at ``at``, the first ``count`` servers of ``group`` (all by
      default), those ready then, reboot into another boot: ``script``, ``images``,
      ``server`` and ``stages`` replace their group's (each optional: the group's own by
      default). It ends when the last of them is ready again.
    * ``demand``: a load asks for servers of the standby ``group`` (a pool powered off
      until wanted): at each point of ``curve`` the number wanted steps to its
      ``servers``, and that many of the pool (in the fleet's order) are powered on; the
      report gives the time-to-capacity curve (servers ready) against the demand.

    Attributes:
        kind: ``replace``, ``reprovision`` or ``demand``.
        name: the event's name in records and reports (default ``<kind>-<n>``, its
            position among the events, from 1).
        at: ``replace``, ``reprovision``: when it happens (s from the run's start).
        node: ``replace``: the server that fails.
        standby: ``replace``: the standby server that takes its place.
        group: ``reprovision``: the group whose servers reboot; ``demand``: the standby
            pool.
        count: ``reprovision``: how many of the group's servers (the first, in fleet
            order).
        script, images, server, stages: ``reprovision``: the new boot (as a fleet
            group's fields).
        curve: ``demand``: its steps, in time order.
    """

    kind: Literal["replace", "reprovision", "demand"]
    name: Name | None = None
    at: Time = 0.0
    node: Name | None = None
    standby: Name | None = None
    group: Name | None = None
    count: PosInt | None = None
    script: str | None = None
    images: list[Name] | None = None
    server: Name | None = None
    stages: list[Stage] | None = None
    curve: list[DemandPoint] | None = None

    def boot_changes(self) -> dict[str, Any]:
        """A reprovision's new boot: the group fields it gives, by name.

        Of ``script``, ``images``, ``server`` and ``stages``: those not ``None``.
        """
        return {f: getattr(self, f) for f in ("script", "images", "server", "stages")
                if getattr(self, f) is not None}


class Run(Section):
    """How to run.

    Attributes:
        seed: seed of the run's random generator.
        engine: transfer engine, ``flow`` or ``packet``.
        full_recompute: the flow engine's reference mode (re-solve every flow each event).
        buffer: the packet engine's egress buffer of a switch or router port (hosts' own
            queues never drop); default 512 KiB (``netbootsim.net.packet.SWITCH_BUFFER``).
        host_queue: the packet engine's host egress: ``fair`` (per-flow round robin, as
            Linux's default fq_codel schedules) or ``fifo`` (one FIFO, as in ns-3 runs).
        until: the run's horizon, s: the simulation stops there (sooner when every
            server is done), servers still booting are ``unfinished``. Default 7 days
            (:data:`netbootsim.clock.DEFAULT_HORIZON`): a guard against runs that never
            end, not a model of the world; a deadline is written here.
        out: output directory; default ``results/<scenario name>``.
        deadline: when the fleet should be ready, counted from the first power-on (s);
            the summary reports the fraction of servers ready by then (with a
            confidence interval over replications). Unlike ``until`` it stops nothing.
        replications: independent replications of the run (seeds spawned from
            ``seed``, :mod:`netbootsim.plan.replicate`); 1 is a single run.
        until_ci: replicate until the half-width of the makespan's 95 % interval is
            within this fraction of its mean (``"2%"``); at least 3 replications, at
            most ``max_replications``. Not with ``replications``.
        max_replications: the cap of ``until_ci``.
    """

    seed: Annotated[int, Field(ge=0)] = 1
    engine: Literal["flow", "packet"] = "flow"
    full_recompute: bool = False
    buffer: Size | None = None
    host_queue: Literal["fair", "fifo"] = "fair"
    until: Time = DEFAULT_HORIZON
    out: str | None = None
    deadline: OptTime = None
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 1
    until_ci: Percent | None = None
    max_replications: Annotated[int, Field(ge=MIN_REPLICATIONS, le=MAX_REPLICATIONS)] = \
        DEFAULT_MAX_REPLICATIONS

    @model_validator(mode="after")
    def _one_way_to_replicate(self) -> Run:
        if self.until_ci is not None and self.replications > 1:
            raise PydanticCustomError("replications", "give run.replications or run.until_ci, "
                                      "not both")
        return self


#: A price in the user's currency (≥ 0, finite).
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Costs(Section):
    """The user's own prices, to put a cost beside a design's commissioning time.

    No price has a default: what is not priced costs nothing in the total, and the
    report lists what was priced. Amounts are added as written (a server's price may be
    its purchase or a month of rent: the same unit for every entry of a comparison).

    Attributes:
        currency: a label for the amounts (``EUR``).
        servers: per server of the fleet group named.
        services: per instance of the service named.
        links: per full-duplex link named (``tor01--boot1``).
        egress_gb: per GB (10^9 bytes) served by the service named (the bytes its
            fetches delivered), or carried by the link named (its wire bytes, both
            directions).
        sites: per site named (``s01``...) of a ``multi-site`` topology: what keeping
            that site up costs beyond what is priced item by item.
        each_site: per site of a ``multi-site`` topology, every site alike.
    """

    currency: str = ""
    servers: dict[str, Price] = {}
    services: dict[str, Price] = {}
    links: dict[str, Price] = {}
    egress_gb: dict[str, Price] = {}
    sites: dict[str, Price] = {}
    each_site: Price | None = None


class ScenarioModel(Section):
    """A whole scenario, every section validated on its own."""

    topology: TopologySection
    services: dict[Name, Service] = {}
    images: dict[Name, Image] = {}
    fleet: Annotated[list[FleetGroup], Field(min_length=1)]
    faults: list[Fault] = []
    events: list[LifeEvent] = []
    run: Run = Run()
    costs: Costs | None = None
    #: Named variants for ``netbootsim compare``: name -> {field path: value}, each
    #: applied like ``--set path=value`` to the scenario as written.
    variants: dict[Name, dict[Name, Any]] = {}


# -- schema navigation (for --set paths and messages) ------------------------------------


def _strip(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` to ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def slot(annotation: Any, value: Any = None) -> tuple[str, Any]:
    """What an annotation holds, for walking the schema along a field path.

    Returns:
        ``("model", cls)``, ``("list", item)``, ``("dict", item)``, ``("models", classes)``
        (a union whose member ``value["kind"]`` does not pick) or ``("leaf", None)``.
    """
    ann = _strip(annotation)
    origin = typing.get_origin(ann)
    if origin is list:
        return "list", typing.get_args(ann)[0]
    if origin is dict:
        return "dict", typing.get_args(ann)[1]
    if origin in (Union, types.UnionType):
        models = [a for a in typing.get_args(ann) if isinstance(a, type)
                  and issubclass(a, BaseModel)]
        if not models:
            return "leaf", None
        kind = value.get("kind") if isinstance(value, dict) else None
        for m in models:
            if kind in typing.get_args(m.model_fields["kind"].annotation):
                return "model", m
        return "models", tuple(models)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "model", ann
    return "leaf", None


def fields_at(tree: Any, path: tuple) -> list[str] | None:
    """The field names allowed at ``path`` in ``tree`` (a mapping of a model), or ``None``."""
    what, target = "model", ScenarioModel
    node = tree
    for key in path:
        if what == "model":
            if key not in target.model_fields:
                return None
            what, target = slot(target.model_fields[key].annotation,
                                node.get(key) if isinstance(node, dict) else None)
        elif what in ("list", "dict"):
            what, target = slot(target, _child(node, key))
        else:
            return None
        node = _child(node, key)
    if what == "model":
        return list(target.model_fields)
    if what == "models":
        return sorted({f for m in target for f in m.model_fields})
    return None


def _child(node: Any, key: Any) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None
