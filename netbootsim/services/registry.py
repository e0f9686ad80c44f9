"""The named service models: one entry per model, the one place its values live.

A scenario names the server implementation of each service (``model: nginx``). Each
name is defined here, once: a one-line description, the values it gives the fields a
scenario's service leaves out (``max_sessions``, ``workers``...), the constants of its
behaviour the run uses (dnsmasq's TFTP resend timer and orphan hold, a web server's
keep-alive and backlog, a DHCP server's ping check) and the sources of those values,
cited by their keys of docs/sources.md.

Everything else reads this module: the scenario schema its choices and defaults
(:mod:`netbootsim.scenario.schema`), the assembly the constants it gives the run
(:mod:`netbootsim.plan.assemble`), the services their defaults, ``netbootsim models``
its lines. Adding a model of an existing kind is adding one entry to that kind's
``models``, say ``HTTP.models["lighttpd"] = HttpModel(...)``.

No SimPy here: the scenario layer imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = ["SCHEMES", "ServiceModel", "TftpModel", "HttpModel", "DhcpModel", "ApiModel",
           "OrchestratorModel", "DnsModel", "LbModel", "SanModel", "Kind", "TFTP", "HTTP",
           "DHCP", "API", "ORCHESTRATOR", "DNS", "LB", "ISCSI", "AOE", "FCOE", "KINDS",
           "DNS_ORDERS", "LB_ALGORITHMS", "TlsCost", "TLS_SERVER"]


@dataclass(frozen=True, kw_only=True)
class ServiceModel:
    """What every named model carries.

    Attributes:
        name: the name a scenario writes (``model: nginx``).
        description: its line in ``netbootsim models``: a :meth:`str.format` template over
            the entry's own fields (``{workers}``, ``{keepalive:g}``; ``{ms[service_time]:g}``
            is a time in milliseconds), so that no value is written twice.
        sources: where its values come from, each citing its key of docs/sources.md.
    """

    name: str
    description: str
    sources: tuple[str, ...]

    #: Fields whose value a scenario's service takes when its text leaves the field out.
    SCENARIO: ClassVar[tuple[str, ...]] = ()
    #: Fields the run's service (:class:`netbootsim.fleet.Service`) carries as they are.
    BEHAVIOUR: ClassVar[tuple[str, ...]] = ()

    def behaviour(self) -> dict[str, Any]:
        """The constants of its behaviour, by the run's field names."""
        return {f: getattr(self, f) for f in self.BEHAVIOUR}

    def line(self) -> str:
        """Its description with its values filled in."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        ms = {k: v * 1e3 for k, v in values.items() if isinstance(v, float)}
        return self.description.format(**values, ms=ms)


@dataclass(frozen=True, kw_only=True)
class TftpModel(ServiceModel):
    """A TFTP server (:class:`netbootsim.services.slots.TftpSlots` is its session cap).

    Attributes:
        max_sessions: transfers it serves at once (``None``: no cap); a scenario default.
        retransmit: its own resend timer for a DATA block left unacknowledged (s);
            ``None``: it resends on a duplicate ACK instead
            (:class:`netbootsim.protocols.TftpParams`).
        orphan_hold: how long a transfer to a port nobody reads holds its slot (s).
        recv_buffer: the receive buffer of the socket its RRQs wait in while every slot
            is busy (bytes; a scenario default); RRQs beyond it are dropped.
        request_truesize: what the kernel charges that buffer per queued RRQ (bytes).
    """

    max_sessions: int | None
    retransmit: float | None
    orphan_hold: float
    recv_buffer: float
    request_truesize: int

    SCENARIO = ("max_sessions", "recv_buffer")
    BEHAVIOUR = ("retransmit", "orphan_hold", "request_truesize")


@dataclass(frozen=True, kw_only=True)
class HttpModel(ServiceModel):
    """An HTTP server (:class:`netbootsim.services.slots.HttpWorkers` is its worker cap).

    Attributes:
        workers: requests (keep-alive connections) it serves at once; a scenario default.
        keepalive: how long an idle keep-alive connection keeps its worker (s).
        backlog: connections the kernel holds, handshake done, while every worker is
            busy; beyond it SYNs are dropped.
    """

    workers: int
    keepalive: float
    backlog: int

    SCENARIO = ("workers",)
    BEHAVIOUR = ("keepalive", "backlog")


@dataclass(frozen=True, kw_only=True)
class DhcpModel(ServiceModel):
    """A DHCP server (:class:`netbootsim.services.dhcp.DhcpServer`).

    Attributes:
        service_time: its time per DHCP packet (s); a scenario default.
        ping: how long it waits for an answer to its ping of a fresh address before
            offering it (s); the scenario's ``ping: false`` turns the check off.
        deaf_ping: it waits for the ping's answer without reading other DHCP packets
            (one check at a time); ``False``: checks run beside its other work.
        ping_window, ping_share: a ``deaf_ping`` server stops checking ("high-load
            mode") while its checks of the last ``ping_window`` seconds number
            ``int(ping_share × ping_window / ping)`` or more.
        queue: DHCP packets its socket holds while it is deaf (the receive buffer over
            one DISCOVER's charge); more are dropped. ``None``: no limit.
    """

    service_time: float
    ping: float
    deaf_ping: bool = False
    ping_window: float = 30.0
    ping_share: float = 0.6
    queue: int | None = None

    SCENARIO = ("service_time",)
    BEHAVIOUR = ("ping", "deaf_ping", "ping_window", "ping_share", "queue")


@dataclass(frozen=True, kw_only=True)
class ApiModel(ServiceModel):
    """A provisioning API (:mod:`netbootsim.services.provisioning`).

    Attributes:
        service_time: its time per request (s); a scenario default.
        concurrency: requests it serves at once; a scenario default.
    """

    service_time: float
    concurrency: int

    SCENARIO = ("service_time", "concurrency")


@dataclass(frozen=True, kw_only=True)
class OrchestratorModel(ServiceModel):
    """A provisioning orchestrator (:mod:`netbootsim.services.orchestrator`).

    It sends the servers' BMC power commands (IPMI, Redfish) and starts their stages.

    Attributes:
        power_workers: power commands in flight at once (``None``: no cap).
        power_latency: from a command's start to the server's power coming on (s).
        power_time: how long a command holds its worker (s; at least ``power_latency``:
            the driver confirms the new power state before it lets go).
        step_workers: stage starts (deploy steps) served at once (``None``: no cap).
        step_time: a worker's time to start a stage, before its power command (s).
    """

    power_workers: int | None
    power_latency: float
    power_time: float
    step_workers: int | None
    step_time: float

    SCENARIO = ("power_workers", "power_latency", "power_time", "step_workers", "step_time")


#: How a DNS server orders the records of a name in each answer (BIND's ``rrset-order``
#: orderings [bind-rrset-order]): ``cyclic`` rotates them by one each answer
#: (round-robin DNS), ``fixed`` keeps the zone's order, ``random`` shuffles them.
DNS_ORDERS = ("cyclic", "fixed", "random")


@dataclass(frozen=True, kw_only=True)
class DnsModel(ServiceModel):
    """A DNS server answering the boot network's names (:mod:`netbootsim.fleet.dns`).

    Attributes:
        service_time: its time per query (s); a scenario default.
        order: how it orders a name's records in an answer, one of :data:`DNS_ORDERS`;
            a scenario default.
        clients_per_query: as a caching resolver, the most clients that wait for one
            forwarded query of a name; a query past it is dropped (the client's retry
            timer resends); a scenario default.
    """

    service_time: float
    order: str
    clients_per_query: int

    SCENARIO = ("service_time", "order", "clients_per_query")


@dataclass(frozen=True, kw_only=True)
class SanModel(ServiceModel):
    """A SAN target (iSCSI, AoE or FCoE) a server boots from (:mod:`netbootsim.fleet.san`).

    Attributes:
        latency: its time per read request at the target (s): the backing store's;
            a scenario default.
        attach: the initiator's attach beyond its round trips (s): the iSCSI login's
            or the AoE config query's processing at both ends; a scenario default.
        attach_rtts: round trips of the attach (iSCSI: the TCP handshake, the login's
            request and response, READ CAPACITY; AoE: the config query).
        max_request: the most bytes one command reads (iPXE's fragment of a read:
            iSCSI MaxBurstLength 262,144 B, AoE ``AOE_MAX_COUNT`` 2 sectors).
        queue_depth: the booted OS's requests in flight on one session at most (its
            initiator's: open-iscsi's ``node.session.queue_depth``, Linux AoE's
            ``aoe_maxout``); ``None``: no limit. A scenario default.
    """

    latency: float
    attach: float
    attach_rtts: int
    max_request: int
    queue_depth: int | None = None

    SCENARIO = ("latency", "attach", "queue_depth")
    BEHAVIOUR = ("attach_rtts", "max_request")


@dataclass(frozen=True)
class TlsCost:
    """What terminating TLS costs a server, per core (a service's ``tls``).

    Attributes:
        handshake: CPU time of one full TLS 1.2 handshake on one core (s).
        cipher_rate: bytes one core encrypts per second (the records' bulk cipher).
        sources: where the numbers come from (their keys in docs/sources.md).
    """

    handshake: float
    cipher_rate: float
    sources: tuple[str, ...]


#: One core of the lab machine (AMD EPYC, OpenSSL 3.0.19, ``openssl speed`` in
#: tests/data/lab/tls/openssl-speed.txt [lab-tls-speed]): a full ECDHE-RSA handshake is
#: one RSA-2048 signature (4,538/s: 0.2204 ms) and two X25519 operations, the server's
#: key share and the shared secret (38,250/s each: 2 x 0.0261 ms) = 0.2726 ms, the
#: public-key floor (record processing and the certificate's bytes not counted); the
#: bulk cipher AES-128-GCM encrypts 3.99 GB/s in 16 KiB records. iPXE offers ECDHE
#: (X25519, P-256) with AES-GCM (config/crypto.h, include/ipxe/tls.h [ipxe-src]).
TLS_SERVER = TlsCost(handshake=1 / 4538.127090 + 2 / 38250.0, cipher_rate=3.99e9,
                     sources=("openssl speed on the lab machine [lab-tls-speed]",))


#: How a redirector picks a mirror for a request (:mod:`netbootsim.fleet.balance`).
LB_ALGORITHMS = ("round-robin", "least-connections", "source-hash", "least-bytes",
                 "nearest")


@dataclass(frozen=True, kw_only=True)
class LbModel(ServiceModel):
    """A load balancer in front of a pool of HTTP mirrors (:mod:`netbootsim.fleet.balance`).

    Attributes:
        algorithm: how it picks a mirror, one of :data:`LB_ALGORITHMS`; a scenario default.
        service_time: its time per request (s); a scenario default.
        check_interval: time between two health checks of a mirror (s).
        check_timeout: how long a check waits for a mirror that does not answer (s).
        fast_interval: the wait after a check while a mirror is between states (s;
            ``None``: ``check_interval``).
        down_interval: the wait after a failed check while a mirror is out (s; ``None``:
            ``check_interval``).
        fall: failed checks in a row that take a mirror out.
        rise: passed checks in a row that put it back.
        health: ``active`` (the balancer checks its mirrors: the fields above) or
            ``passive`` (no checks: a mirror is held out after its connections fail,
            the fields below; :mod:`netbootsim.fleet.balance`).
        max_fails: ``passive``: failed connections that hold a mirror out.
        fail_timeout: ``passive``: how long it is held out (s).
        connect_timeout: ``passive``: how long the balancer waits for a mirror that does
            not answer before it fails the connection and tries the next (s).
    """

    algorithm: str
    service_time: float
    check_interval: float
    check_timeout: float
    fall: int
    rise: int
    fast_interval: float | None = None
    down_interval: float | None = None
    health: str = "active"
    max_fails: int | None = None
    fail_timeout: float | None = None
    connect_timeout: float | None = None

    SCENARIO = ("algorithm", "service_time", "check_interval", "check_timeout", "fall", "rise",
                "fast_interval", "down_interval", "max_fails", "fail_timeout",
                "connect_timeout")


@dataclass(frozen=True)
class Kind:
    """A kind of service and the models a scenario may name for it.

    Attributes:
        name: the scenario's ``kind:`` (``tftp``, ``http``...).
        label: how ``netbootsim models`` names the kind (``tftp service``).
        default: the model of a service whose text names none.
        models: the models by name, in the order ``netbootsim models`` lists them.
    """

    name: str
    label: str
    default: str
    models: dict[str, ServiceModel]

    def model(self, name: str | None = None) -> ServiceModel:
        """The model called ``name`` (``None``: the default); ``KeyError`` if unknown."""
        return self.models[self.default if name is None else name]


#: dnsmasq's TFTP server. tftp-max: --tftp-max default 50, dnsmasq(8) [dnsmasq-man];
#: frzb/coinboot#67 [coinboot-67].
#: retransmit: it ignores duplicate ACKs and resends a lost DATA block on its own timer,
#: armed in whole seconds: 1.78 s, the mean of the 324 lost blocks' waits (1.01–2.23 s)
#: in the lab's 21 captured runs with 1 % loss, lab/traces/tftp-loss1-r1 and
#: lab/traces10 [lab-traces] (docs/calibration.md, "Loss as the lab sees it: TFTP";
#: 1.95 s before, fitted on round 1's fetch times, which took in how unlucky its three
#: relay seeds were). orphan_hold: OACK resent 6 times
#: over 4.63 → 19.58 s in tests/data/lab/traces/tftp-4guests-max1 [lab-traces].
_DNSMASQ_TFTP = TftpModel(
    name="dnsmasq",
    description="tftp-max {max_sessions}, ignores duplicate ACKs (resend {retransmit:g} s), "
                "orphan transfers held {orphan_hold:g} s, RRQs wait in a "
                "{recv_buffer:,.0f} B socket buffer ({request_truesize} B each)",
    sources=("dnsmasq(8) [dnsmasq-man]", "src/tftp.c, src/network.c [dnsmasq-src]",
             "lab/traces10, lab/traces/tftp-loss1-r1, tests/data/lab/traces/tftp-4guests-max1 "
             "[lab-traces]",
             "net.core.rmem_default [linux-rmem]", "lab/udp-rcvbuf [lab-rcvbuf]"),
    max_sessions=50, retransmit=1.78, orphan_hold=15.0, recv_buffer=212_992.0,
    request_truesize=832)

TFTP = Kind("tftp", "tftp service", "dnsmasq", {
    "dnsmasq": _DNSMASQ_TFTP,
    # An idealised server with no cap (a reference point, not a product); given a
    # max_sessions, its slots behave as dnsmasq's.
    "unlimited": TftpModel(
        name="unlimited", description="a process per client (tftpd-hpa-like), no cap",
        sources=("reference point",), max_sessions=None, retransmit=None,
        orphan_hold=_DNSMASQ_TFTP.orphan_hold, recv_buffer=_DNSMASQ_TFTP.recv_buffer,
        request_truesize=_DNSMASQ_TFTP.request_truesize),
})

#: Apache's listen backlog and nginx's alike: ListenBacklog 511 (httpd docs,
#: mpm_common [apache-httpd]); listen ... backlog 511 on Linux (nginx docs [nginx-docs]).
_LISTEN_BACKLOG = 511

HTTP = Kind("http", "http service", "apache-prefork", {
    # MaxRequestWorkers 256 and KeepAliveTimeout 5 s, the prefork defaults (httpd docs
#: recv_buffer: dnsmasq sets no SO_RCVBUF on its TFTP socket (src/network.c make_sock
#: [dnsmasq-src]), so the kernel's default net.core.rmem_default, 212,992 B
#: (= 256 × SKB_TRUESIZE(256), include/net/sock.h [linux-rmem]; drlm#129 [drlm-129]).
#: request_truesize: 832 B per queued RRQ, measured on the lab's tap path and on loopback
#: (lab/udp-rcvbuf/result.json [lab-rcvbuf]): 256 RRQs fill the default buffer.
    # [apache-httpd]); xCAT httpd_tuning.rst [xcat-docs].
    "apache-prefork": HttpModel(
        name="apache-prefork",
        description="{workers} workers, keep-alive {keepalive:g} s, backlog {backlog}",
        sources=("httpd defaults [apache-httpd]", "xCAT httpd_tuning.rst [xcat-docs]"),
        workers=256, keepalive=5.0, backlog=_LISTEN_BACKLOG),
    # worker_processes 1 × worker_connections 512, keepalive_timeout 75 s: nginx's
    # defaults [nginx-docs].
    "nginx": HttpModel(
        name="nginx",
        description="{workers} connections (1 worker × {workers}), keep-alive {keepalive:g} s",
        sources=("nginx defaults (worker_connections, keepalive_timeout) [nginx-docs]",),
        workers=512, keepalive=75.0, backlog=_LISTEN_BACKLOG),
})

#: dnsmasq's DHCP. service_time: DISCOVER→OFFER 0.48 ms with --no-ping (lab,
#: lab/traces/http-rtt0-r1 [lab-traces]). ping: OFFER 3.005 s after DISCOVER with stock
#: dnsmasq (tests/data/lab/traces/tftp [lab-traces]). deaf_ping, ping_window,
#: ping_share: it is "deaf to ... further DHCP packets" while it waits (src/dnsmasq.c
#: delay_dhcp) and stops checking when 0.6 × PING_CACHE_TIME (30 s) / PING_WAIT (3 s) =
#: 6 checks fall within 30 s (src/dhcp.c do_icmp_ping) [dnsmasq-src]; measured: ten
#: clients at once got OFFERs at 3.0, 6.1, 9.1, 12.2, 15.2 s, then five together at
#: 18.2 s (lab/dnsmasq-ping [lab-dnsmasq-ping]). queue: no SO_RCVBUF on its DHCP socket,
#: so net.core.rmem_default, 212,992 B [linux-rmem], holds 166 DISCOVER-sized datagrams
#: (1,280 B charged each, measured: lab/udp-rcvbuf [lab-rcvbuf]).
_DNSMASQ_DHCP = DhcpModel(
    name="dnsmasq",
    description="{ms[service_time]:g} ms per packet, ping check {ping:g} s on fresh "
                "addresses (off with ping: false), pools per relay subnet",
    sources=("dnsmasq(8) [dnsmasq-man]", "lab traces [lab-traces]",
             "RFC 2131 §4.3.1 [rfc2131], RFC 3046 [rfc3046]",
             "src/dnsmasq.c delay_dhcp, src/dhcp.c do_icmp_ping [dnsmasq-src]",
             "one ping check at a time, lab/dnsmasq-ping [lab-dnsmasq-ping]",
             "166 DISCOVERs in net.core.rmem_default [linux-rmem] [lab-rcvbuf]"),
    service_time=0.5e-3, ping=3.0, deaf_ping=True, queue=166)

DHCP = Kind("dhcp", "dhcp service", "dnsmasq", {
    "dnsmasq": _DNSMASQ_DHCP,
    # ping-timeout default 1 s, dhcpd.conf(5) [isc-dhcpd]; its time per packet is not
    # measured: taken as dnsmasq's.
    "isc-dhcpd": DhcpModel(
        name="isc-dhcpd",
        description="{ms[service_time]:g} ms per packet (as dnsmasq, not measured), ping "
                    "check {ping:g} s",
        sources=("dhcpd.conf(5) ping-timeout [isc-dhcpd]",),
        service_time=_DNSMASQ_DHCP.service_time, ping=1.0),
})

API = Kind("api", "api service", "generic", {
    # 20 ms per request: a templated response from a web app backed by a database;
    # 64 at once: a few worker processes with threads (gunicorn/uwsgi defaults of that
    # order). Both assumed, no published figure; reports mark them uncalibrated.
    "generic": ApiModel(
        name="generic",
        description="{ms[service_time]:g} ms per request, {concurrency} at once "
                    "(uncalibrated)",
        sources=("assumed; no published figure",),
        service_time=20e-3, concurrency=64),
})

ORCHESTRATOR = Kind("orchestrator", "orchestrator", "ironic", {
    # OpenStack Ironic's conductor with the ipmitool power driver [ironic-src]. Every API
    # action (a power-on, a deploy) runs in a thread of the conductor's pool,
    # `[conductor] workers_pool_size` 300, of which the conductor keeps 2 for itself
    # (ironic/conf/conductor.py; ConductorManager.change_node_power_state spawns a
    # worker): 298 (the power-state sync takes up to 7 more while it runs, left out;
    # `[conductor] sync_power_state_workers`, 8, caps that periodic sync, not power
    # commands). A power-on (conductor/utils.py node_power_action, ipmitool.py
    # _set_and_wait) is three ipmitool calls to the server's BMC, each at least
    # `[ipmi] min_command_interval` = 5 s after the previous one (_exec_ipmitool sleeps
    # until then, ironic/conf/ipmi.py): "power status" at 0, "power on" at 5 s — the
    # server's power comes on —, "power status" again at 10 s (node_wait_for_power_state
    # polls after an initial 1 s, then waits out the interval), and the worker is free.
    # The step: Ironic runs a deploy's start in the same pool (modelled as a cap of its
    # own); the conductor's own time per deploy start is not published: 0, give yours.
    "ironic": OrchestratorModel(
        name="ironic",
        description="{power_workers} power commands at once (conductor pool), power on "
                    "{power_latency:g} s after a command starts, worker held {power_time:g} s "
                    "(IPMI status/on/status, 5 s apart); {step_workers} stage starts at once, "
                    "{step_time:g} s each (not published)",
        sources=("ironic/conf/conductor.py workers_pool_size, ironic/conf/ipmi.py "
                 "min_command_interval, ironic/drivers/modules/ipmitool.py, "
                 "ironic/conductor/utils.py [ironic-src]",),
        power_workers=298, power_latency=5.0, power_time=10.0, step_workers=298,
        step_time=0.0),
    # Canonical MAAS 3.x: the rack's agent runs each power action as a Temporal activity
    # (src/maasagent/internal/power/service.go, worker options left at their defaults
    # [maas-src]): at most 1,000 at once, the Go SDK's default activity slots
    # (defaultMaxConcurrentActivityExecutionSize [temporal-go-sdk]). Each runs
    # maas-power on, the IPMI driver (src/provisioningserver/drivers/power/ipmi.py):
    # ipmi-chassis-config and ipmipower --on-if-off at once — the power comes on; the
    # tools' own time is not measured: 0 —, then it pauses wait_time[0] = 4 s before
    # querying the state (PowerDriver.perform_power in drivers/power/__init__.py).
    # Stage starts run in the region's Temporal workers (DeployWorkflow), no cap of
    # their own modelled; their time is not published: 0.
    "maas": OrchestratorModel(
        name="maas",
        description="{power_workers} power commands at once (agent's Temporal activity "
                    "slots), power on at once, worker held {power_time:g} s (IPMI driver's "
                    "4 s pause before its state query); stage starts uncapped, "
                    "{step_time:g} s (not published)",
        sources=("src/maasagent/internal/power/service.go, "
                 "src/provisioningserver/drivers/power/ipmi.py, __init__.py [maas-src]",
                 "defaultMaxConcurrentActivityExecutionSize [temporal-go-sdk]"),
        power_workers=1000, power_latency=0.0, power_time=4.0, step_workers=None,
        step_time=0.0),
})

#: Every kind, in the order scenarios' messages and ``netbootsim models`` list them.
DNS = Kind("dns", "dns service", "generic", {
    # An authoritative answer from memory: 0.1 ms per query, assumed (no published
    # figure for a boot network's server; far under a round trip across the fabric's
    # hops, and under a loaded resolver's: give service_time for that). Records rotated
    # each answer: BIND's rrset-order cyclic [bind-rrset-order]. As a resolver, at most
    # 100 clients wait for one forwarded query: BIND's max-clients-per-query default
    # (clients-per-query starts at 10 and tunes itself up to it) [bind-arm].
    "generic": DnsModel(
        name="generic",
        description="{ms[service_time]:g} ms per query (uncalibrated), records in "
                    "{order} order; as a resolver, {clients_per_query} clients per "
                    "forwarded query",
        sources=("assumed; no published figure", "rrset-order [bind-rrset-order]",
                 "max-clients-per-query [bind-arm]"),
        service_time=0.1e-3, order="cyclic", clients_per_query=100),
})

LB = Kind("lb", "load balancer", "haproxy", {
    # HAProxy's defaults: balance roundrobin; a server's health check every inter 2 s,
    # out after fall 3 failed checks, back after rise 2 passed ones; a check without
    # "timeout check" set waits inter for an answer (HAProxy configuration manual,
    # "balance", "inter", "fall", "rise", "timeout check" [haproxy-conf]). Its time to
    # answer a request with a 302: 0.1 ms, assumed (no published figure).
    "haproxy": LbModel(
        name="haproxy",
        description="{algorithm}, {ms[service_time]:g} ms per request (uncalibrated), "
                    "health check every {check_interval:g} s (no answer: failed after "
                    "{check_timeout:g} s), out after {fall} failed, back after {rise} passed",
        sources=("balance, inter, fall, rise, timeout check [haproxy-conf]",
                 "src/check.c process_chk_conn [haproxy-src]", "assumed: time per request"),
        algorithm="round-robin", service_time=0.1e-3, check_interval=2.0, check_timeout=2.0,
        fall=3, rise=2),
    # Linux IPVS (LVS) with keepalived's health checks, an L4 balancer only. IPVS's
    # default scheduler wlc, weighted least-connection (ipvsadm.c DEF_SCHED
    # [ipvsadm-src]): with equal weights, least-connections. keepalived's checker
    # defaults: delay_loop 60 s (KEEPALIVED_DEFAULT_DELAY, check_data.h
    # [keepalived-src]); connect_timeout 5 s; retry 1 (one more check after a failed one,
    # so out after 2) with delay_before_retry 1 s; a server is put back after one passed
    # check (keepalived.conf(5) [keepalived-conf]; retry and its delay: [keepalived-181]).
    # keepalived spreads its first checks at random over delay_loop (warmup); here they
    # start at 0. Its time per connection: 0.1 ms, assumed (no published figure).
    "lvs": LbModel(
        name="lvs",
        description="L4 (IPVS), {algorithm} (wlc, equal weights), {ms[service_time]:g} ms per "
                    "connection (uncalibrated), keepalived check every {check_interval:g} s "
                    "(no answer: failed after {check_timeout:g} s, retried after "
                    "{fast_interval:g} s), out after {fall} failed, back after {rise} passed",
        sources=("DEF_SCHED wlc, ipvsadm.c [ipvsadm-src]",
                 "delay_loop 60 s, check_data.h [keepalived-src]",
                 "connect_timeout, retry [keepalived-conf]",
                 "delay_before_retry 1 s [keepalived-181]", "assumed: time per connection"),
        algorithm="least-connections", service_time=0.1e-3, check_interval=60.0,
        check_timeout=5.0, fall=2, rise=1, fast_interval=1.0, down_interval=60.0),
    # nginx (open source) proxying to an upstream group: no health checks of its own
    # (those are NGINX Plus's), only passive ones. A server is tried in turn (weighted
    # round-robin, equal weights [nginx-upstream]); a connection to it that fails counts
    # against it, and max_fails=1 failure holds it out for fail_timeout=10 s, after which
    # one connection tries it again [nginx-upstream]. A connection to a server that does
    # not answer fails after proxy_connect_timeout, 60 s [nginx-proxy], and the client's
    # connection is passed to the next server (proxy_next_upstream: on in the stream
    # module, error and timeout in the http one [nginx-proxy]). A group of one server is
    # never held out. (ngx_stream_upstream_round_robin.c [nginx-src].) Its check_*
    # fields are unused. Its time per connection: 0.1 ms, assumed (no published figure).
    "nginx": LbModel(
        name="nginx",
        description="{algorithm}, {ms[service_time]:g} ms per request (uncalibrated), no "
                    "health checks: a mirror that does not answer a connection in "
                    "{connect_timeout:g} s is failed and the next tried; {max_fails} "
                    "failure holds it out for {fail_timeout:g} s",
        sources=("max_fails, fail_timeout, weighted round-robin [nginx-upstream]",
                 "proxy_connect_timeout, proxy_next_upstream [nginx-proxy]",
                 "ngx_stream_upstream_round_robin.c [nginx-src]",
                 "assumed: time per request"),
        algorithm="round-robin", service_time=0.1e-3, check_interval=10.0,
        check_timeout=60.0, fall=1, rise=1, health="passive", max_fails=1,
        fail_timeout=10.0, connect_timeout=60.0),
})

#: Linux's SCSI target framework (tgtd) serving a file, as the lab ran it (lab/traces4,
#: docs/calibration.md "SAN boot" [lab-traces]): a read at the target p50 0.374 ms; the
#: attach (TCP, login, first READ) 0.046-0.050 s at RTT ~0 under QEMU TCG, so ~0.047 s
#: beyond its 3 round trips; one command reads at most MaxBurstLength, 262,144 B, in
#: iPXE's login (include/ipxe/iscsi.h, net/tcp/iscsi.c [ipxe-src]).
ISCSI = Kind("iscsi", "iscsi target", "tgt", {
    "tgt": SanModel(
        name="tgt",
        description="{ms[latency]:g} ms a read at the target, attach {ms[attach]:g} ms "
                    "+ {attach_rtts} round trips (lab, QEMU TCG); at most "
                    "{max_request:,} B a command",
        sources=("lab/traces4, docs/calibration.md [lab-traces]",
                 "iSCSI login, MaxBurstLength: net/tcp/iscsi.c [ipxe-src]",
                 "RFC 7143 [rfc7143]",
                 "queue depth 32: node.session.queue_depth, iscsid.conf [open-iscsi]"),
        latency=0.374e-3, attach=0.047, attach_rtts=3, max_request=262_144, queue_depth=32),
})

#: vblade serving a file (lab/traces4 [lab-traces]): a read at the target p50 0.022 ms;
#: attach (config query to the first READ) 0.003-0.007 s; AoE carries at most 2 sectors
#: a command (AOE_MAX_COUNT, include/ipxe/aoe.h:113 [ipxe-src]), so 1 KiB a round trip.
AOE = Kind("aoe", "aoe target", "vblade", {
    "vblade": SanModel(
        name="vblade",
        description="{ms[latency]:g} ms a read at the target, attach {ms[attach]:g} ms "
                    "+ {attach_rtts} round trip (lab, QEMU TCG); {max_request:,} B a "
                    "command (AoE's 2 sectors)",
        sources=("lab/traces4, docs/calibration.md [lab-traces]",
                 "AOE_MAX_COUNT: include/ipxe/aoe.h [ipxe-src]", "AoE r11 [aoe-r11]",
                 "queue depth 64: aoe_maxout, drivers/block/aoe/aoecmd.c [linux-aoe]"),
        latency=0.022e-3, attach=0.005, attach_rtts=1, max_request=1024, queue_depth=64),
})

#: An FCoE target, Linux LIO's ``tcm_fc`` (targetcli) for instance: NOT MEASURED here —
#: iPXE builds without FCoE by default (``NET_PROTO_FCOE``, config/general.h
#: [ipxe-src]) and this machine's kernel has no ``fcoe`` module — so its read time and
#: attach processing are assumed to be the lab's iSCSI target's (the same backing store
#: behind another transport). Its round trips are counted in iPXE's source: FIP VLAN
#: discovery and FIP discovery (net/fcoe.c), FLOGI, the name server's PLOGI and GID_PN
#: query, the target's PLOGI and PRLI (net/fc.c, net/fcels.c, net/fcns.c), then TEST
#: UNIT READY and READ CAPACITY (drivers/block/scsi.c) [ipxe-src]: 9. iPXE's FCP sets no
#: limit on a command's size (capacity.max_count stays -1U, drivers/block/scsi.c): a
#: read is one command of what the boot loader asks.
FCOE = Kind("fcoe", "fcoe target", "lio", {
    "lio": SanModel(
        name="lio",
        description="{ms[latency]:g} ms a read at the target, attach {ms[attach]:g} ms "
                    "+ {attach_rtts} round trips (assumed: the lab's iSCSI target's times; "
                    "FCoE not measured); no limit on a command's size",
        sources=("assumed: latency and attach, the lab's iSCSI target (tgt) "
                 "[lab-traces]",
                 "round trips: net/fcoe.c, net/fc.c, net/fcels.c, net/fcns.c [ipxe-src]",
                 "FC-BB-5 [fc-bb-5]", "FC-LS [fc-ls]"),
        latency=0.374e-3, attach=0.047, attach_rtts=9, max_request=2**31),
})

KINDS: dict[str, Kind] = {k.name: k for k in (TFTP, HTTP, DHCP, API, ORCHESTRATOR, DNS, LB,
                                              ISCSI, AOE, FCOE)}

#: URI schemes a machine fetches over, and the service kinds that answer them (a URI
#: names a service by its name or its host's: ``World.resolve``; the scenario's script
#: check asks the same).
SCHEMES = {"tftp": ("tftp",), "http": ("http", "api"), "https": ("http", "api")}
