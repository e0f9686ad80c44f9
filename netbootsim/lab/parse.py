"""Lab run directory → per-phase timings as simulator records, plus protocol facts.

``netbootsim lab parse RUN_DIR [--out DIR]`` reads what ``lab run`` left (``run.json``,
``console-<n>.log``, ``capture.pcap`` or ``capture.pcap.gz``, ``tcpdump.stderr``) and
writes ``phases.csv`` (:class:`~netbootsim.records.PhaseRecord` rows, the simulator's
columns) and ``details.csv`` (one protocol fact per row: :class:`Detail`).

Time base: the console's, seconds since the run start. ``run.json`` has ``start_utc``,
the wall clock read right after the ``time.monotonic()`` that defines the console's
zero, and the capture's timestamps are wall clock, so ``t = pcap time − start_utc``.
(Checked on the committed traces: ``http.csv``, stamped with the monotonic clock,
sees each GET 0.1–0.4 ms after the capture does.)

Phases, per guest (``server`` = ``guest<n>``, ``group`` = case, ``stage`` = ``boot``):

* ``dhcp-exchange``: capture, first DHCPDISCOVER of one transaction id (one iPXE DHCP
  session) to the DHCPACK that completes it.
* ``dhcp``: console, the ``Configuring (net0 ...)`` fragment to the next fragment
  (the fragment holds the ``ok``; the console stamps fragments by their first byte).
* ``fetch:<file>``: capture, request to last byte. TFTP: first RRQ to the last DATA
  packet of the transfer the client used; HTTP: the client's SYN (or the GET on a
  reused connection) to the server's last data segment of that response.

Chainload: the ROM and ``undionly.kpxe`` each do DHCP. Their phases are named
apart rather than numbered as attempts (``attempt`` means a retry in the records):
``dhcp-exchange`` / ``dhcp`` for the ROM, ``dhcp-exchange:undionly`` /
``dhcp:undionly`` for the chainloaded iPXE (any DHCP that starts after
``fetch:undionly.kpxe`` ended). A further session of the same program is attempt 2.
An OVMF guest's firmware PXE client (EDK2's) loads ``ipxe.efi`` instead: its phases
after that are ``dhcp-exchange:ipxe`` / ``dhcp:ipxe``.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import statistics
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..records import PhaseRecord, to_frame
from .pcap import (
    TLS_ALERT,
    TLS_CCS,
    TLS_DATA,
    TLS_HANDSHAKE,
    Capture,
    TcpConn,
    TftpTransfer,
    http_exchanges,
    read_capture,
    tls_records,
)

__all__ = ["Detail", "DETAIL_COLUMNS", "ParsedRun", "parse_run", "write_parsed"]


@dataclass(frozen=True, slots=True)
class Detail:
    """One protocol fact about one phase (tidy: one row per fact).

    Attributes:
        run: as in :class:`~netbootsim.records.PhaseRecord`.
        server: guest name (``""`` for facts about the whole run).
        phase: the phase the fact belongs to (``capture`` for run-level facts).
        attempt: as in the phase record.
        fact: what is measured, e.g. ``blksize``, ``client_gap_p50``.
        value: the number.
        unit: ``s``, ``bytes``, ``count`` or ``""``.
    """

    run: str
    server: str
    phase: str
    attempt: int
    fact: str
    value: float
    unit: str


#: Column order of ``details.csv``.
DETAIL_COLUMNS = [f.name for f in fields(Detail)]


@dataclass
class ParsedRun:
    """What :func:`parse_run` extracted: phase records and protocol details."""

    records: list[PhaseRecord]
    details: list[Detail]


class _Guest:
    """Collects one guest's records and details."""

    def __init__(self, run: str, seed: int, name: str, group: str):
        self.run, self.seed, self.name, self.group = run, seed, name, group
        self.records: list[PhaseRecord] = []
        self.details: list[Detail] = []

    def phase(self, phase: str, start: float, end: float, nbytes: float = 0.0,
              protocol: str = "", endpoint: str = "", outcome: str = "ok", reason: str = "",
              attempt: int = 1) -> None:
        self.records.append(PhaseRecord(self.run, self.seed, self.name, self.group, "", "boot",
                                        phase, attempt, round(start, 6), round(end, 6), nbytes,
                                        protocol, endpoint, outcome, reason))

    def fact(self, phase: str, fact: str, value: float, unit: str = "", attempt: int = 1) -> None:
        self.details.append(Detail(self.run, self.name, phase, attempt, fact, float(value), unit))


def read_console(path: Path) -> list[tuple[float, str]]:
    """``console-<n>.log`` as ``(seconds since run start, text)`` fragments."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        t, _, text = line.partition("\t")
        try:
            out.append((float(t), text))
        except ValueError:
            continue
    return out


def _capture_path(run_dir: Path) -> Path | None:
    for name in ("capture.pcap", "capture.pcap.gz"):
        if (run_dir / name).exists():
            return run_dir / name
    return None


def parse_run(run_dir: str | Path) -> ParsedRun:
    """Parse one lab run directory.

    Args:
        run_dir: directory written by ``netbootsim lab run``.

    Returns:
        Records (sorted by guest, then start) and details.

    Raises:
        FileNotFoundError: no ``run.json`` or no capture in ``run_dir``.
    """
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    cfg = meta["config"]
    run = Path(cfg["file"]).stem
    server_ip = str(ipaddress.ip_network(cfg["subnet"])[1])
    t0 = datetime.fromisoformat(meta["start_utc"]).timestamp()
    pcap = _capture_path(run_dir)
    if pcap is None:
        raise FileNotFoundError(f"{run_dir}: no capture.pcap or capture.pcap.gz")
    cap = read_capture(pcap, t0, server_ip)
    https_rows = _https_rows(run_dir / "https.csv", cap)
    details = _capture_facts(run, run_dir, cap)
    records: list[PhaseRecord] = []
    for g in meta["guests"]:
        guest = _Guest(run, int(cfg["seed"]), f"guest{g['guest']}", cfg["case"])
        console_path = run_dir / f"console-{g['guest']}.log"
        console = read_console(console_path) if console_path.exists() else []
        _guest_phases(guest, g["mac"].lower(), cap, console, server_ip, cfg["case"],
                      https_rows, "ipxe.efi" if cfg.get("firmware") in ("ovmf", "aavmf")
                      else "undionly.kpxe")
        guest.records.sort(key=lambda r: (r.start, r.end))
        records += guest.records
        details += guest.details
    return ParsedRun(records, details)


def _capture_facts(run: str, run_dir: Path, cap: Capture) -> list[Detail]:
    out = [Detail(run, "", "capture", 1, "ipv4_packets", cap.packets, "count")]
    err = run_dir / "tcpdump.stderr"
    if err.exists():
        text = err.read_text(errors="replace")
        for fact, pat in (("captured", r"(\d+) packets captured"),
                          ("received_by_filter", r"(\d+) packets received by filter"),
                          ("dropped_by_kernel", r"(\d+) packets dropped by kernel")):
            if m := re.search(pat, text):
                out.append(Detail(run, "", "capture", 1, fact, int(m.group(1)), "count"))
    return out


def _guest_phases(g: _Guest, mac: str, cap: Capture, console: list[tuple[float, str]],
                  server_ip: str, case: str,
                  https_rows: dict[tuple[str, int], list[dict]] | None = None,
                  nbp: str = "undionly.kpxe") -> None:
    https_rows = https_rows or {}
    acks = [p for p in cap.dhcp if p.chaddr == mac and p.kind == "ACK"]
    ip = acks[-1].yiaddr if acks else cap.ip_of_mac.get(mac, "")
    fetches: list[tuple[float, float, str]] = []  # start, end, phase
    for req in _tftp_requests(cap, ip):
        fetches.append(_tftp_fetch(g, req, console, server_ip))
    for conn in (c for c in cap.tcp if c.client_mac == mac):
        if conn.server[1] == 443:
            fetches += _https_fetches(g, conn, server_ip, https_rows.get(conn.client, []),
                                      console)
        else:
            fetches += _http_fetches(g, conn, server_ip)
    chain_end = min((e for s, e, p in fetches if p == f"fetch:{nbp}"), default=None)
    chained = nbp.split(".")[0]  # undionly, or ipxe (ipxe.efi, an OVMF guest's NBP)

    def name(base: str, start: float) -> str:
        return f"{base}:{chained}" if chain_end is not None and start > chain_end else base

    seen: dict[str, int] = {}
    for xid in dict.fromkeys(p.xid for p in cap.dhcp if p.chaddr == mac):
        pk = [p for p in cap.dhcp if p.chaddr == mac and p.xid == xid]
        disc = [p.t for p in pk if p.kind == "DISCOVER"]
        if not disc:
            continue
        ph = name("dhcp-exchange", disc[0])
        seen[ph] = attempt = seen.get(ph, 0) + 1
        offers = [p.t for p in pk if p.kind == "OFFER"]
        reqs = [p.t for p in pk if p.kind == "REQUEST"]
        ack = [p.t for p in pk if p.kind == "ACK"]
        end = ack[0] if ack else pk[-1].t
        g.phase(ph, disc[0], end, protocol="dhcp", endpoint=server_ip, attempt=attempt,
                outcome="ok" if ack else "failed", reason="" if ack else "no DHCPACK")
        for fact, v in (("discovers", len(disc)), ("offers", len(offers)),
                        ("requests", len(reqs)), ("acks", len(ack))):
            g.fact(ph, fact, v, "count", attempt)
        if offers:
            g.fact(ph, "discover_to_offer", offers[0] - disc[0], "s", attempt)
        if offers and reqs:
            g.fact(ph, "offer_to_request", reqs[0] - offers[0], "s", attempt)
        if reqs and ack:
            g.fact(ph, "request_to_ack", ack[0] - reqs[0], "s", attempt)
    seen.clear()
    for i, (t, text) in enumerate(console):
        if text.lstrip().startswith("Configuring ("):
            end = console[i + 1][0] if i + 1 < len(console) else t
            ph = name("dhcp", t)
            seen[ph] = attempt = seen.get(ph, 0) + 1
            ok = text.rstrip().endswith("ok")
            g.phase(ph, t, end, attempt=attempt, outcome="ok" if ok else "failed",
                    reason="" if ok else text.strip()[-60:])


def _tftp_requests(cap: Capture, ip: str) -> list[list[TftpTransfer]]:
    """The client's requests (one client port each) with every transfer they caused."""
    by_port: dict[tuple[str, int], list[TftpTransfer]] = {}
    for tr in cap.tftp:
        if tr.client[0] == ip:
            by_port.setdefault(tr.client, []).append(tr)
    for client, (name, times) in cap.tftp_rrqs.items():
        if client[0] == ip and client not in by_port:
            by_port[client] = [TftpTransfer(client, ("", 0), name, times)]
    return sorted(by_port.values(), key=lambda trs: trs[0].rrq_times[0])


def _median_mean(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.median(values)


def _tftp_fetch(g: _Guest, transfers: list[TftpTransfer], console: list[tuple[float, str]],
                server_ip: str) -> tuple[float, float, str]:
    first = transfers[0]
    ph = f"fetch:{first.filename.rsplit('/', 1)[-1]}"
    rrq = first.rrq_times
    used = [tr for tr in transfers if tr.data]
    tr = used[0] if used else None
    blksize = int((tr or first).options.get("blksize", 512)) if (tr or first).options else 512
    blocks = {b: n for _, b, n in tr.data} if tr else {}
    complete = bool(tr) and any(n < blksize for n in blocks.values())
    last = max([d[0] for d in tr.data] if tr else [rrq[-1]])
    if complete:
        end, outcome, reason = last, "ok", ""
    else:
        # iPXE prints its error when it gives up: the next console fragment
        end = next((t for t, _ in console if t > last), last)
        outcome = "failed"
        reason = f"{len(rrq)} RRQs, no transfer used" if tr is None else "incomplete transfer"
        if tr is not None and tr.errors:
            reason = f"TFTP error {tr.errors[0][1]}: {tr.errors[0][2]}"
    g.phase(ph, rrq[0], end, sum(blocks.values()), "tftp", server_ip, outcome, reason)
    g.fact(ph, "rrq_sent", len(rrq), "count")
    g.fact(ph, "rrq_retransmitted", len(rrq) - 1, "count")
    for k, t in enumerate(rrq[1:], 1):
        g.fact(ph, f"rrq_offset_{k}", t - rrq[0], "s")
    opened = [t for t in transfers if t.server[1]]
    g.fact(ph, "transfers_opened", len(opened), "count")
    orphans = [t for t in opened if not t.data]
    g.fact(ph, "orphan_transfers", len(orphans), "count")
    g.fact(ph, "orphan_oacks", sum(len(t.oack_times) for t in orphans), "count")
    if tr is None:
        return rrq[0], end, ph
    g.fact(ph, "blksize", blksize, "bytes")
    if "tsize" in tr.options:
        g.fact(ph, "tsize", int(tr.options["tsize"]), "bytes")
    g.fact(ph, "data_blocks", len(blocks), "count")
    g.fact(ph, "data_packets", len(tr.data), "count")
    counts: dict[int, int] = {}
    for _, b, _ in tr.data:
        counts[b] = counts.get(b, 0) + 1
    g.fact(ph, "data_retransmitted", sum(1 for c in counts.values() if c > 1), "count")
    before = [t for t in rrq if tr.oack_times and t <= tr.oack_times[0]]
    if before:  # from the latest RRQ copy the OACK can answer
        g.fact(ph, "rrq_to_oack", tr.oack_times[0] - before[-1], "s")
    client_gaps, server_gaps = _tftp_gaps(tr)
    for side, gaps in (("client", client_gaps), ("server", server_gaps)):
        if gaps:
            mean, p50 = _median_mean(gaps)
            g.fact(ph, f"{side}_gap_mean", mean, "s")
            g.fact(ph, f"{side}_gap_p50", p50, "s")
            g.fact(ph, f"{side}_gap_max", max(gaps), "s")
    return rrq[0], end, ph


def _tftp_gaps(tr: TftpTransfer) -> tuple[list[float], list[float]]:
    """Client gaps DATA n → its ACK n; server gaps ACK n → DATA n+1 (n ≥ 1), first copies."""
    data_t: dict[int, float] = {}
    for t, b, _ in tr.data:
        data_t.setdefault(b, t)
    ack_t: dict[int, float] = {}
    for t, b in tr.acks:
        ack_t.setdefault(b, t)
    client = [ack_t[b] - t for b, t in data_t.items() if b in ack_t and ack_t[b] >= t]
    server = [data_t[b + 1] - t for b, t in ack_t.items()
              if b >= 1 and b + 1 in data_t and data_t[b + 1] >= t]
    return client, server


def _https_rows(path: Path, cap: Capture) -> dict[tuple[str, int], list[dict]]:
    """The HTTPS server's rows (``https.csv``) by client ``(ip, port)``.

    The server numbers connections as it accepts them, so its n-th connection is the
    n-th port-443 connection of the capture (by SYN time).
    """
    if not path.exists():
        return {}
    rows = pd.read_csv(path, keep_default_na=False, dtype=str).to_dict("records")
    conns = [c for c in cap.tcp if c.server[1] == 443]
    by_id: dict[int, list[dict]] = {}
    for r in rows:
        by_id.setdefault(int(r["conn"]), []).append(r)
    return {c.client: by_id.get(i, []) for i, c in enumerate(conns, start=1)}


def _fetch_phase(path: str) -> str:
    """``fetch:<file>`` of a request path (its last component, no query)."""
    return f"fetch:{path.split('?')[0].rsplit('/', 1)[-1]}"


def _tcp_handshake(conn: TcpConn) -> tuple:
    """``(SYN, SYN-ACK, the client's ACK after it)`` of a connection (None: not seen)."""
    syn = conn.segments[0]
    synack = next((s for s in conn.segments if not s.from_client and s.flags & 0x12 == 0x12),
                  None)
    ack = next((s for s in conn.segments if synack and s.from_client and s.t >= synack.t
                and s.flags & 0x10), None)
    return syn, synack, ack


def _console_file(console: list[tuple[float, str]], t: float) -> str:
    """The file of the last ``https://...`` fetch the console began by ``t`` (+10 ms)."""
    name = ""
    for when, text in console:
        if when > t + 0.01:
            break
        m = re.search(r"https://\S+?/([^/\s?]+?)(?:\?\S*)?\.\.\.", text)
        if m:
            name = m.group(1)
    return name


def _https_fetches(g: _Guest, conn: TcpConn, server_ip: str, rows: list[dict],
                   console: list[tuple[float, str]]) -> list[tuple[float, float, str]]:
    """An HTTPS connection's fetches, from its TLS records (headers are never encrypted).

    A request is a client application-data record; its response, the server's data
    segments up to the next request. The first fetch runs from the SYN
    and carries the handshake's facts, each a time between two records of the capture:
    ``tls_handshake`` (ClientHello to the first request), ``tls_server_flight``
    (ClientHello to the server's last record of its first flight: one round trip and the
    server's work), ``tls_client_key_exchange`` (that flight to the client's next
    record, its ClientKeyExchange), ``tls_client_validate`` (ClientKeyExchange to the
    client's ChangeCipherSpec: iPXE validates the server's certificate chain before it
    finishes, ``net/tls.c`` [ipxe-src]), ``tls_client_finish`` (to the client's
    Finished) and ``tls_server_finish`` (to the server's Finished). A client that sends
    an alert instead of a request refused the server: the fetch (named from the console's
    ``https://...`` line) fails, and ``tls_refused_after`` is the time from the server's
    flight to the alert. File names and body sizes come from the server's rows
    (``https.csv``) when it has them.
    """
    recs = tls_records(conn)
    syn, synack, ack = _tcp_handshake(conn)
    gets = [r for r in recs if r.from_client and r.kind == TLS_DATA]
    requests = [r for r in rows if r["method"] != "TLS"]
    out = []
    hello = next((r for r in recs if r.from_client and r.kind == TLS_HANDSHAKE), None)
    flight = []  # the server's records from the hello up to the client's next record
    if hello is not None:
        reply = min((c.t_first for c in recs if c.from_client and c.t_first > hello.t_first),
                    default=math.inf)
        flight = [r for r in recs if not r.from_client
                  and hello.t_first <= r.t_first < reply]
    facts: list[tuple[str, float]] = []
    if synack is not None and ack is not None:
        facts.append(("handshake", ack.t - syn.t))
    if hello is not None and flight:
        end = flight[-1].t_last
        facts.append(("tls_server_flight", end - hello.t_first))
        after = [r for r in recs if r.from_client and r.t_first > end]
        kinds = [r.kind for r in after]
        alert = next((r for r in after if r.kind == TLS_ALERT), None)
        if alert is not None and TLS_DATA not in kinds[:kinds.index(TLS_ALERT) + 1]:
            facts.append(("tls_refused_after", alert.t_first - end))
            ph = f"fetch:{_console_file(console, syn.t) or 'https'}"
            g.phase(ph, syn.t, alert.t_first, 0.0, "https", server_ip, "failed",
                    "TLS: the client refused the server's certificate (alert)")
            for f, v in facts:
                g.fact(ph, f, v, "s")
            return [(syn.t, alert.t_first, ph)]
        if len(after) >= 3 and kinds[:3] == [TLS_HANDSHAKE, TLS_CCS, TLS_HANDSHAKE]:
            kx, ccs, fin = after[:3]
            server_fin = next((r for r in recs if not r.from_client
                               and r.kind == TLS_HANDSHAKE and r.t_first >= fin.t_first),
                              None)
            facts += [("tls_client_key_exchange", kx.t_first - end),
                      ("tls_client_validate", ccs.t_first - kx.t_first),
                      ("tls_client_finish", fin.t_first - ccs.t_first)]
            if server_fin is not None:
                facts.append(("tls_server_finish", server_fin.t_last - fin.t_first))
        if gets:
            facts.append(("tls_handshake", gets[0].t_first - hello.t_first))
    # A response's end is its last server segment before the next request, read at the
    # TCP level: a segment the capture dropped (tcpdump under load) cuts the rebuilt TLS
    # stream there, not the segments after it.
    server = [s for s in conn.segments if not s.from_client and s.plen > 0]
    for i, req in enumerate(gets):
        nxt = gets[i + 1].t_first if i + 1 < len(gets) else float("inf")
        data = [s for s in server if req.t_first <= s.t < nxt]
        row = requests[i] if i < len(requests) else None
        ph = _fetch_phase(row["path"] if row is not None else f"https-{i + 1}")
        start = syn.t if i == 0 else req.t_first
        end = data[-1].t if data else req.t_first
        body = float(row["bytes"]) if row is not None else float(sum(s.plen for s in data))
        ok = bool(data) and (row is None or row["status"] == "200")
        g.phase(ph, start, end, body, "https", server_ip, "ok" if ok else "failed",
                "" if ok else "no response seen")
        g.fact(ph, "connection_reused", int(i > 0), "")
        if i == 0:
            for f, v in facts:
                g.fact(ph, f, v, "s")
        if data:
            g.fact(ph, "request_to_first_data", data[0].t - req.t_first, "s")
            g.fact(ph, "first_to_last_data", data[-1].t - data[0].t, "s")
            g.fact(ph, "server_segments", len(data), "count")
        out.append((start, end, ph))
    return out


def _http_fetches(g: _Guest, conn: TcpConn, server_ip: str) -> list[tuple[float, float, str]]:
    segs = conn.segments
    syn, synack, ack = _tcp_handshake(conn)
    c_ws = syn.opts.get(3, b"")
    s_ws = synack.opts.get(3, b"") if synack else b""
    scale = c_ws[0] if c_ws and s_ws else 0
    mss = int.from_bytes(syn.opts.get(2, b"\x05\xb4"), "big")
    wire_payload = mss - (12 if 8 in syn.opts and synack and 8 in synack.opts else 0)
    windows = [s.win << scale for s in segs[1:] if s.from_client]
    out = []
    for i, ex in enumerate(http_exchanges(conn)):
        ph = _fetch_phase(ex.path)
        start = syn.t if i == 0 else ex.t_request
        if ex.method == "HEAD":  # a size query (UEFI HTTP boot's, before its GET): no body
            end = ex.data[-1][0] if ex.data else ex.t_request
            g.phase("head:" + ph.split(":", 1)[1], start, end, 0, "http", server_ip,
                    "ok" if ex.data else "failed", "" if ex.data else "no response seen")
            continue
        body = ex.content_length
        new = sum(n for _, n, r in ex.data if not r)
        if body < 0:
            body = max(new - max(ex.header_len, 0), 0)
        got = new - max(ex.header_len, 0)
        # Under loss a segment that fills a hole counts as a retransmission, so "new"
        # bytes fall short; all bytes seen (an upper bound) decide whether it completed.
        seen = sum(n for _, n, _ in ex.data) - max(ex.header_len, 0)
        end = ex.data[-1][0] if ex.data else ex.t_request
        ok = bool(ex.data) and max(got, seen) >= body
        g.phase(ph, start, end, body, "http", server_ip, "ok" if ok else "failed",
                "" if ok else f"{got} of {body} bytes seen")
        g.fact(ph, "connection_reused", int(i > 0), "")
        if i == 0 and synack and ack:
            g.fact(ph, "handshake", ack.t - syn.t, "s")
            g.fact(ph, "syn_to_synack", synack.t - syn.t, "s")
            g.fact(ph, "synack_to_ack", ack.t - synack.t, "s")
            g.fact(ph, "client_mss", mss, "bytes")
            g.fact(ph, "client_wscale", c_ws[0] if c_ws else -1, "")
            g.fact(ph, "server_wscale", s_ws[0] if s_ws else -1, "")
            g.fact(ph, "client_syn_window", syn.win, "bytes")
            if windows:
                g.fact(ph, "client_window_first", windows[0], "bytes")
                g.fact(ph, "client_window_max", max(windows), "bytes")
        if not ex.data:
            out.append((start, end, ph))
            continue
        g.fact(ph, "server_segments", len(ex.data), "count")
        g.fact(ph, "server_segments_wire",
               sum(-(-n // wire_payload) for _, n, r in ex.data if not r), "count")
        g.fact(ph, "server_segment_max", max(n for _, n, _ in ex.data), "bytes")
        g.fact(ph, "server_retransmissions", sum(1 for *_, r in ex.data if r), "count")
        g.fact(ph, "header_bytes", ex.header_len, "bytes")
        g.fact(ph, "request_to_first_data", ex.data[0][0] - ex.t_request, "s")
        g.fact(ph, "first_to_last_data", ex.data[-1][0] - ex.data[0][0], "s")
        last_new = max(t for t, _, r in ex.data if not r)
        g.fact(ph, "first_to_last_new_data", last_new - ex.data[0][0], "s")
        out.append((start, end, ph))
    return out


def write_parsed(parsed: ParsedRun, out: str | Path) -> tuple[Path, Path]:
    """Write ``phases.csv`` (simulator columns + ``seconds``) and ``details.csv``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    phases, details = out / "phases.csv", out / "details.csv"
    to_frame(parsed.records).to_csv(phases, index=False, float_format="%.9g")
    pd.DataFrame([astuple(d) for d in parsed.details], columns=DETAIL_COLUMNS).to_csv(
        details, index=False, float_format="%.9g")
    return phases, details
