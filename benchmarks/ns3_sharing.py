"""ns-3 3.44 reference for netbootsim's TCP packet engine: HTTP fetches sharing a star.

Runs a fixed set of TCP cases in ns-3 (the PyPI wheel ``ns3==3.44.post0``, cppyy
bindings) and writes every client's completion time, so that the packet engine
(:mod:`netbootsim.net.packet_tcp`) can be checked against an outside TCP stack.

Command that produced ``benchmarks/results/ns3_sharing.json`` (repository root)::

    python benchmarks/ns3_sharing.py

(``--cases NAME ...`` runs a subset, ``--out PATH`` writes elsewhere, ``--list``
prints the case names.) All nine cases take about 6.5 minutes on 2 cores, ``share-200``
about 3 of them (170 s in ``Simulator::Run``). Install with ``pip install -e
'.[peers]'``; without ns-3 the script exits with status 2.

Topology: a star, ``server —L1— switch —L2_i— client_i``, all PointToPoint links; the
switch is an IPv4 router (global routing, no per-packet processing delay). Each client
runs one HTTP-like fetch: at its start time it connects (SYN), sends a 120-byte request
as soon as the connection is up, and the server answers on that connection with 250
bytes of header + the body (10 MiB = 10485760 bytes). Both applications are small C++
ns-3 ``Application`` classes compiled by cppyy at start (``_CPP`` below), so no Python
runs per packet. Measured per client: ``start`` = its start time (the SYN is sent
then), ``end`` = the simulated time at which the client's socket has handed all
10486010 response bytes to the application (the receive callback that completes it),
``completion = end - start`` — the same interval as ``PacketHttpResult.seconds``. The
simulation stops when the last client completes (no FIN exchange is simulated).

Cases (rates in bytes/s before the framing scale below; RTT = the sum of the one-way
latencies both ways):

* ``http-rtt0.2``, ``http-rtt10``, ``http-rtt50``: one client; L1 and L2 1.25e9 B/s
  (10 Gb/s); every link's one-way latency RTT/4.
* ``share-1``, ``share-8``, ``share-64``, ``share-200``: N clients start at t=0;
  L1 125e6 B/s (1 Gb/s) latency 50 µs; each L2 1.25e9 B/s latency 50 µs (RTT 0.2 ms).
* ``stagger-64``: as share-64, client i starts at i × 0.02 s.
* ``rtt-mix-8``: 8 clients at t=0, L1 as share-N, client i's L2 latency 50 µs +
  i × 1.25 ms (RTT 0.2 ms … 17.7 ms).

ns-3 settings (everything not listed is the ns-3 3.44 default):

* Framing: netbootsim counts a data segment as payload + 90 bytes on the wire (TCP 20 +
  timestamps 12 + IPv4 20 + Ethernet 38 with preamble and IFG). ns-3's PointToPoint adds
  only a 2-byte PPP header, so a 1448-byte segment is 1502 bytes there. Every link's
  ``DataRate`` is therefore scaled by (1448 + 54) / (1448 + 90) = 1502/1538, which makes
  full-segment payload throughput equal to netbootsim's (pure ACKs, SYNs and the request
  keep their own ns-3 sizes; they do not load the data direction).
* ``TcpL4Protocol::SocketType = ns3::TcpNewReno`` and ``TcpSocketBase::Sack = true``:
  the packet engine's NewReno + SACK sender. ns-3's TcpNewReno grows cwnd on every ACK
  even while the receiver's window limits the flow (Linux and the packet engine do not);
  that matters only after a loss or timeout: without one, cwnd limits only the first
  slow start, where the flow is cwnd-limited in both.
* ``TcpL4Protocol::RecoveryType = ns3::TcpClassicRecovery`` (ns-3's default is
  ``TcpPrrRecovery``): the packet engine sets cwnd = ssthresh on entering recovery and
  sends while pipe < cwnd, which is classic (RFC 6675 [rfc6675]) recovery, not PRR.
* ``TcpSocket::SegmentSize = 1448``: payload bytes per segment (MSS 1460 − 12 bytes of
  timestamps), ``TcpParams.mss``; with the 32-byte TCP header and 20-byte IPv4 header
  the IP packet is exactly the 1500-byte PointToPoint MTU, so nothing is fragmented.
* ``TcpSocket::InitialCwnd = 10``: RFC 6928 [rfc6928] / Linux ``TCP_INIT_CWND``.
* ``TcpSocketBase::Timestamp = true``: RTT samples from timestamps, as the packet engine
  (also the ns-3 default; set explicitly).
* ``TcpSocketBase::WindowScaling = true``: needed to advertise a 256 KiB window.
* ``TcpSocketBase::MinRto = 200 ms``: Linux ``TCP_RTO_MIN`` (ns-3 default 1 s).
* ``RttEstimator::InitialEstimation = 1 s``: RTO before the first RTT sample (RFC 6298
  §2.1 [rfc6298], Linux ``TCP_TIMEOUT_INIT``); the ns-3 default, set explicitly. ns-3 passes every
  ACK through ``EstimateRtt``, the handshake's last ACK included, so (from reading
  ``tcp-socket-base.cc``) its first data RTO is probably already based on the handshake
  RTT (200 ms here), where the packet engine keeps 1 s until the first data ACK. RTO =
  max(MinRto, srtt + max(ClockGranularity 1 ms, 4 rttvar)) (default granularity).
  ``TcpSocket::ConnTimeout = 1 s`` (ns-3 default 3 s): the SYN/SYN-ACK retransmission
  timer, set to the same initial RTO (iPXE's own SYN retry, 0.25 s doubling, is not
  modelled; no SYN is lost in these cases, so neither value matters).
* ``TcpSocketState::EnablePacing = false``: no pacing, a window leaves at line rate
  (ns-3 default, set explicitly).
* ``TcpSocket::SndBufSize = 64 MiB``: a large send buffer; the server writes the whole
  response into the socket at once, so the sender is never application-limited.
* ``TcpSocket::RcvBufSize = 262144``: the client's (iPXE's) fixed 256 KiB receive
  window; the client application reads every byte as soon as it arrives, so the
  advertised window stays 256 KiB (window-scale shift 3). The server's socket gets the
  same receive buffer; it receives only the 120-byte request.
* ``TcpSocket::DelAckCount = 1``: the client ACKs every segment at once, as iPXE (the
  delayed-ACK timer never runs with a count of 1).
* ``TcpSocket::TcpNoDelay = true`` (default): no Nagle.
* Queues: every PointToPoint device has a ``DropTailQueue<Packet>`` of 1,000,000 packets
  (``DropTailQueue<Packet>::MaxSize``), including the server's NIC, where every response
  leaves: it must not drop (Linux's TSQ / socket backpressure keeps a real server from
  dropping in its own qdisc). The traffic-control layer's queue discs, which
  ``Ipv4AddressHelper::Assign`` installs (FqCoDel by default), are uninstalled from every
  device (``TrafficControlHelper::Uninstall``), so packets go straight from IP to the
  device queue: nothing is dropped anywhere, and no case has a loss.
* ``RngSeedManager::SetSeed(1)``, ``SetRun(1)``: fixed seed (nothing in these cases
  draws a random number as far as we know; set for reproducibility).
* Time resolution: ns-3's default nanoseconds; latencies are rounded to whole ns.

Output (``--out``, default ``benchmarks/results/ns3_sharing.json``)::

    {"ns3_version", "command", "cases": {name: {"ends": sorted completion times (s),
     "makespan": max end - min start (s), "p50", "p99": numpy linear percentiles of the
     completion times (s), "wall_s": wall time of Simulator::Run() (s), "events":
     Simulator::GetEventCount(), "setup_s": wall time to build the topology (s),
     "clients": N, "retransmissions": data segments the server sent again (ns-3's
     TcpSocketBase "Retransmission" trace), "rto_episodes": entries into CA_LOSS (one
     or more retransmission timeouts each), "fast_recoveries": entries into
     CA_RECOVERY}}}

What ns-3 does here (the committed JSON): no packet is dropped in any case, and every
case but ``share-200`` sends each segment exactly once. In ``share-200`` the 200
receive windows (200 × 181 segments, about 52 MB) pile up in the server's NIC queue,
whose delay grows from 0 to about 0.44 s (35,000 packets) by t = 0.46 s, faster than
the RTO estimate follows: the first timeout fires at t = 0.38 s, a second wave near
t = 10.6-11 s; 1274 timeout episodes, all spurious (nothing is dropped; ns-3 has no
F-RTO or Eifel undo), resend 86665 segments (6 %), so the makespan is 18.89 s instead
of the 17.82 s that 200 × 10486010 bytes take at the scaled 1 Gb/s. ``share-64``
(11,567 packets, 0.14 s queued) has no timeout.

Each case runs in its own Python subprocess (this file with ``--one``): ns-3 keeps global
state (random-stream counters, node ids, config defaults) across simulations in one
process, so a fresh process makes every case independent of which other cases ran. The
price is the ns-3 import (about 15 s per case, not counted in ``wall_s``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NS3_VERSION = "3.44.post0"
INSTALL_HINT = "pip install -e '.[peers]'"

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "ns3_sharing.json"

MIB = 1 << 20
BODY = 10 * MIB  # bytes
HEADER = 250  # response header bytes (netbootsim.protocols.tcp.RESPONSE_HEADER_BYTES)
REQUEST = 120  # iPXE's GET (netbootsim.net.packet_tcp.REQUEST_BYTES)
MSS = 1448
OURS_OVERHEAD = 90  # netbootsim: TCP 20 + timestamps 12 + IPv4 20 + Ethernet 38
NS3_OVERHEAD = 54  # ns-3: TCP 20 + timestamps 12 + IPv4 20 + PPP 2
RATE_SCALE = (MSS + NS3_OVERHEAD) / (MSS + OURS_OVERHEAD)
RWND = 262144
SNDBUF = 64 * MIB
QUEUE_PACKETS = 1_000_000
GBPS10 = 1.25e9  # bytes/s
GBPS1 = 125e6  # bytes/s
US50 = 50e-6  # s


@dataclass(frozen=True)
class Case:
    """One star: L1 (server–switch) and one L2 per client (switch–client)."""

    l1_rate: float  # bytes/s (before RATE_SCALE)
    l1_latency: float  # s
    l2_rate: float  # bytes/s
    l2_latencies: tuple[float, ...]  # s, one per client
    starts: tuple[float, ...]  # s, one per client
    body: int = BODY


def _http(rtt: float) -> Case:
    return Case(GBPS10, rtt / 4, GBPS10, (rtt / 4,), (0.0,))


def _share(n: int, gap: float = 0.0) -> Case:
    return Case(GBPS1, US50, GBPS10, (US50,) * n, tuple(i * gap for i in range(n)))


CASES: dict[str, Case] = {
    "http-rtt0.2": _http(0.2e-3),
    "http-rtt10": _http(10e-3),
    "http-rtt50": _http(50e-3),
    "share-1": _share(1),
    "share-8": _share(8),
    "share-64": _share(64),
    "share-200": _share(200),
    "stagger-64": _share(64, 0.02),
    "rtt-mix-8": Case(GBPS1, US50, GBPS10, tuple(US50 + i * 1.25e-3 for i in range(8)),
                      (0.0,) * 8),
}

# The two applications, in C++ so that no Python runs per packet.
_CPP = r"""
#include <map>
#include <vector>
namespace nbs {
using namespace ns3;

std::vector<double> g_start, g_end;
uint32_t g_pending = 0;
uint64_t g_retx = 0, g_rto = 0, g_recov = 0;

void Retx(Ptr<const Packet>, const TcpHeader&, const Address&, const Address&,
          Ptr<const TcpSocketBase>) { g_retx++; }
void Cong(TcpSocketState::TcpCongState_t, TcpSocketState::TcpCongState_t now) {
    if (now == TcpSocketState::CA_LOSS) { g_rto++; }
    if (now == TcpSocketState::CA_RECOVERY) { g_recov++; }
}

// Answers every connection's REQUEST-byte request with `response` bytes.
class HttpServer : public Application {
  public:
    static TypeId GetTypeId() {
        static TypeId tid = TypeId("nbs::HttpServer").SetParent<Application>()
                                .AddConstructor<HttpServer>();
        return tid;
    }
    uint64_t m_response = 0;
    uint32_t m_request = 0;
    uint16_t m_port = 80;

  private:
    struct Conn { uint64_t got = 0; uint64_t left = 0; bool answered = false; };
    Ptr<Socket> m_listen;
    std::map<Socket*, Conn> m_conns;
    std::vector<Ptr<Socket>> m_keep;

    void StartApplication() override {
        m_listen = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
        m_listen->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
        m_listen->Listen();
        m_listen->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                    MakeCallback(&HttpServer::Accepted, this));
    }
    void StopApplication() override {}
    void Accepted(Ptr<Socket> s, const Address&) {
        m_keep.push_back(s);
        m_conns[PeekPointer(s)] = Conn();
        s->SetRecvCallback(MakeCallback(&HttpServer::Received, this));
        s->SetSendCallback(MakeCallback(&HttpServer::Room, this));
        s->TraceConnectWithoutContext("Retransmission", MakeCallback(&Retx));
        s->TraceConnectWithoutContext("CongState", MakeCallback(&Cong));
    }
    void Received(Ptr<Socket> s) {
        Conn& c = m_conns[PeekPointer(s)];
        Ptr<Packet> p;
        while ((p = s->Recv())) { c.got += p->GetSize(); }
        if (!c.answered && c.got >= m_request) {
            c.answered = true;
            c.left = m_response;
            Push(s, c);
        }
    }
    void Room(Ptr<Socket> s, uint32_t) {
        auto it = m_conns.find(PeekPointer(s));
        if (it != m_conns.end() && it->second.answered) { Push(s, it->second); }
    }
    void Push(Ptr<Socket> s, Conn& c) {
        while (c.left > 0) {
            uint32_t room = s->GetTxAvailable();
            if (room == 0) { return; }
            uint32_t n = (uint32_t)std::min<uint64_t>(c.left, room);
            int sent = s->Send(Create<Packet>(n));
            if (sent <= 0) { return; }
            c.left -= (uint64_t)sent;
        }
    }
};

// Connects at its start time, sends REQUEST bytes, records when `expect` bytes arrived.
class HttpClient : public Application {
  public:
    static TypeId GetTypeId() {
        static TypeId tid = TypeId("nbs::HttpClient").SetParent<Application>()
                                .AddConstructor<HttpClient>();
        return tid;
    }
    Ipv4Address m_server;
    uint16_t m_port = 80;
    uint32_t m_request = 0;
    uint64_t m_expect = 0;
    uint32_t m_index = 0;

  private:
    Ptr<Socket> m_sock;
    uint64_t m_got = 0;
    bool m_done = false;

    void StartApplication() override {
        g_start[m_index] = Simulator::Now().GetSeconds();
        m_sock = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
        m_sock->Bind();
        m_sock->SetConnectCallback(MakeCallback(&HttpClient::Connected, this),
                                   MakeCallback(&HttpClient::Failed, this));
        m_sock->SetRecvCallback(MakeCallback(&HttpClient::Received, this));
        m_sock->Connect(InetSocketAddress(m_server, m_port));
    }
    void StopApplication() override {}
    void Connected(Ptr<Socket> s) { s->Send(Create<Packet>(m_request)); }
    void Failed(Ptr<Socket>) { NS_FATAL_ERROR("connection failed"); }
    void Received(Ptr<Socket> s) {
        Ptr<Packet> p;
        while ((p = s->Recv())) { m_got += p->GetSize(); }
        if (!m_done && m_got >= m_expect) {
            m_done = true;
            g_end[m_index] = Simulator::Now().GetSeconds();
            if (--g_pending == 0) { Simulator::Stop(); }
        }
    }
};

void Reset(uint32_t n) {
    g_start.assign(n, -1.0);
    g_end.assign(n, -1.0);
    g_pending = n;
    g_retx = g_rto = g_recov = 0;
}
uint64_t Retransmissions() { return g_retx; }
uint64_t RtoEpisodes() { return g_rto; }
uint64_t FastRecoveries() { return g_recov; }
double StartOf(uint32_t i) { return g_start[i]; }
double EndOf(uint32_t i) { return g_end[i]; }

Ptr<HttpServer> MakeServer(Ptr<Node> node, uint64_t response, uint32_t request) {
    Ptr<HttpServer> app = CreateObject<HttpServer>();
    app->m_response = response;
    app->m_request = request;
    node->AddApplication(app);
    app->SetStartTime(Seconds(0));
    return app;
}

Ptr<HttpClient> MakeClient(Ptr<Node> node, Ipv4Address server, uint32_t request,
                           uint64_t expect, uint32_t index, int64_t start_ns) {
    Ptr<HttpClient> app = CreateObject<HttpClient>();
    app->m_server = server;
    app->m_request = request;
    app->m_expect = expect;
    app->m_index = index;
    node->AddApplication(app);
    app->SetStartTime(NanoSeconds(start_ns));
    return app;
}
}  // namespace nbs
"""


def _import_ns():
    """Import ns-3's Python bindings, or ``None`` if they are missing.

    cppyy prints harmless "Failed to materialize symbols" lines for a static initialiser
    in an ns-3 header while loading; stderr is held back during the import and shown only
    if the import fails.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as err:
        os.dup2(err.fileno(), 2)
        try:
            from ns import ns
        except ImportError:
            ns = None
        except Exception:
            os.dup2(saved, 2)
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return ns


def _configure(ns) -> None:
    """The ns-3 defaults of the module docstring."""
    d = ns.Config.SetDefault
    d("ns3::TcpL4Protocol::SocketType", ns.StringValue("ns3::TcpNewReno"))
    d("ns3::TcpL4Protocol::RecoveryType", ns.StringValue("ns3::TcpClassicRecovery"))
    d("ns3::TcpSocketBase::Sack", ns.BooleanValue(True))
    d("ns3::TcpSocketBase::Timestamp", ns.BooleanValue(True))
    d("ns3::TcpSocketBase::WindowScaling", ns.BooleanValue(True))
    d("ns3::TcpSocketBase::MinRto", ns.TimeValue(ns.MilliSeconds(200)))
    d("ns3::RttEstimator::InitialEstimation", ns.TimeValue(ns.Seconds(1.0)))
    d("ns3::TcpSocket::ConnTimeout", ns.TimeValue(ns.Seconds(1.0)))
    d("ns3::TcpSocketState::EnablePacing", ns.BooleanValue(False))
    d("ns3::TcpSocket::SegmentSize", ns.UintegerValue(MSS))
    d("ns3::TcpSocket::InitialCwnd", ns.UintegerValue(10))
    d("ns3::TcpSocket::SndBufSize", ns.UintegerValue(SNDBUF))
    d("ns3::TcpSocket::RcvBufSize", ns.UintegerValue(RWND))
    d("ns3::TcpSocket::DelAckCount", ns.UintegerValue(1))
    d("ns3::TcpSocket::TcpNoDelay", ns.BooleanValue(True))
    d("ns3::DropTailQueue<Packet>::MaxSize", ns.StringValue(f"{QUEUE_PACKETS}p"))
    ns.RngSeedManager.SetSeed(1)
    ns.RngSeedManager.SetRun(1)


def _link(ns, a, b, rate: float, latency: float):
    """A PointToPoint link of ``rate`` bytes/s (scaled, see docstring) and ``latency``."""
    p2p = ns.PointToPointHelper()
    bps = int(round(rate * 8 * RATE_SCALE))
    p2p.SetDeviceAttribute("DataRate", ns.DataRateValue(ns.DataRate(bps)))
    p2p.SetChannelAttribute("Delay", ns.TimeValue(ns.NanoSeconds(int(round(latency * 1e9)))))
    return p2p.Install(a, b)


def run_case(ns, name: str) -> dict:
    """Build and run one case in this process (once per process)."""
    import numpy as np

    case = CASES[name]
    n = len(case.starts)
    t0 = time.perf_counter()
    _configure(ns)
    ns.cppyy.cppdef(_CPP)
    nbs = ns.cppyy.gbl.nbs

    server, switch = ns.CreateObject[ns.Node](), ns.CreateObject[ns.Node]()
    clients = ns.NodeContainer()
    clients.Create(n)
    stack = ns.InternetStackHelper()
    stack.Install(server)
    stack.Install(switch)
    stack.Install(clients)

    ip = ns.Ipv4AddressHelper()
    ip.SetBase(ns.Ipv4Address("10.0.0.0"), ns.Ipv4Mask("255.255.255.252"))
    tch = ns.TrafficControlHelper()
    devs = _link(ns, server, switch, case.l1_rate, case.l1_latency)
    server_ip = ip.Assign(devs).GetAddress(0)
    tch.Uninstall(devs)
    for i in range(n):
        ip.NewNetwork()
        devs = _link(ns, switch, clients.Get(i), case.l2_rate, case.l2_latencies[i])
        ip.Assign(devs)
        tch.Uninstall(devs)
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()

    nbs.Reset(n)
    nbs.MakeServer(server, case.body + HEADER, REQUEST)
    for i in range(n):
        nbs.MakeClient(clients.Get(i), server_ip, REQUEST, case.body + HEADER, i,
                       int(round(case.starts[i] * 1e9)))
    setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    ns.Simulator.Run()
    wall = time.perf_counter() - t0
    events = int(ns.Simulator.GetEventCount())
    starts = [float(nbs.StartOf(i)) for i in range(n)]
    ends = [float(nbs.EndOf(i)) for i in range(n)]
    if min(ends) < 0:
        raise RuntimeError(f"{name}: {sum(e < 0 for e in ends)} clients never completed")
    done = np.array([e - s for s, e in zip(starts, ends, strict=True)])
    result = {
        "ends": sorted(done.tolist()),
        "makespan": max(ends) - min(starts),
        "p50": float(np.percentile(done, 50)),
        "p99": float(np.percentile(done, 99)),
        "wall_s": wall,
        "events": events,
        "setup_s": setup,
        "clients": n,
        "retransmissions": int(nbs.Retransmissions()),
        "rto_episodes": int(nbs.RtoEpisodes()),
        "fast_recoveries": int(nbs.FastRecoveries()),
    }
    ns.Simulator.Destroy()
    return result


def _ns3_version() -> str:
    """The installed ``ns3`` distribution's version (the wheel's, e.g. 3.44.post0)."""
    try:
        return importlib.metadata.version("ns3")
    except importlib.metadata.PackageNotFoundError:
        return NS3_VERSION


def _run_subprocess(name: str) -> dict:
    """One case in a fresh Python process (see the module docstring)."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", name],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"case {name} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(cases: dict[str, dict]) -> str:
    rows = [f"{'case':<12} {'N':>4} {'p50 s':>9} {'p99 s':>9} {'makespan s':>11} "
            f"{'retx':>6} {'RTO':>5} {'events':>10} {'wall s':>7}"]
    for name, r in cases.items():
        rows.append(f"{name:<12} {r['clients']:>4} {r['p50']:>9.4f} {r['p99']:>9.4f} "
                    f"{r['makespan']:>11.4f} {r['retransmissions']:>6} "
                    f"{r['rto_episodes']:>5} {r['events']:>10} {r['wall_s']:>7.1f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the cases, print a table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", metavar="NAME", choices=list(CASES),
                    help="cases to run (default: all)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    ap.add_argument("--one", metavar="NAME", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CASES))
        return 0

    ns = _import_ns()
    if ns is None:
        print(f"ns-3 Python bindings (ns3=={NS3_VERSION}) are not importable: "
              f"{INSTALL_HINT}", file=sys.stderr)
        return 2
    if args.one:
        print(json.dumps(run_case(ns, args.one)), flush=True)
        return 0
    del ns  # each case imports ns-3 again in its own process

    names = list(dict.fromkeys(args.cases or CASES))
    results: dict[str, dict] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = _run_subprocess(name)
    cmd = " ".join(["python", "benchmarks/ns3_sharing.py",
                    *(sys.argv[1:] if argv is None else argv)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"ns3_version": _ns3_version(), "command": cmd,
                                    "cases": results}, indent=1) + "\n")
    print(_table(results))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
