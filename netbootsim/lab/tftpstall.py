"""TFTP transfers held up by loss, read off a lab capture (issue 17, item 5).

A stall is a block that came late after the client's ACK of the one before: a lost DATA
block waits for the server's own resend timer (dnsmasq's, armed in whole seconds), a lost
ACK for the client's retry timer. :mod:`netbootsim.lab.tftploss` compares the drawn TFTP
law with them; :func:`netbootsim.lab.calibrate.fit` takes the server's resend timer from
them (the mean wait of the lost blocks).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

from .pcap import TftpTransfer, read_capture

__all__ = ["STALL", "DATA_FLOOR", "RESENT_ONCE", "Stall", "stalls", "captured_stalls"]

#: A block that came this long after the client's ACK of the one before was held up by a
#: loss (s). Without loss the gap is the round trip plus both sides' per-block costs:
#: 0.1–0.5 ms in these runs.
STALL = 0.1
#: dnsmasq arms its resend timer in whole seconds, ``now + 2`` when it sends a block, with
#: ``now`` truncated to the second (dnsmasq's ``tftp.c``): a lost DATA block is resent
#: more than 1 s after it was sent. iPXE re-ACKs after 0.25 s (retry.c's minimum), 0.75 s
#: with one re-ACK lost too: a stall under 1 s is lost ACKs, one over it a lost block.
DATA_FLOOR = 1.0
#: dnsmasq resends a block more than 1 s and at most ~2 s after its first send, then 2 s
#: and 3 s apart (its backoff ``1 + 2^(k/2)`` s): a stall this long or longer lost the
#: resent copy too.
RESENT_ONCE = 3.0


@dataclass(frozen=True)
class Stall:
    """A block of a transfer held up by loss, as the guest's side of the relay saw it.

    Attributes:
        block: the block that came late (0: the OACK, the request's answer).
        cause: ``"data"`` (a DATA block lost: the server's resend timer) or ``"ack"``
            (the client's ACK lost: its retry timer; for block 0, the request).
        seconds: from the client's first ACK of the block before (its first request) to
            the block's first arrival.
        sends: ACKs of the block before (requests) the client sent until then.
    """

    block: int
    cause: str
    seconds: float
    sends: int


def stalls(tr: TftpTransfer) -> list[Stall]:
    """The stalls of one captured transfer, in block order (module docstring for causes)."""
    copies: dict[int, list[float]] = defaultdict(list)  # every arrival of each block
    for t, block, _ in tr.data:
        copies[block].append(t)
    first = {block: times[0] for block, times in copies.items()}
    acks: dict[int, list[float]] = defaultdict(list)
    for t, block in tr.acks:
        acks[block].append(t)
    out = []
    if tr.rrq_times and tr.oack_times:
        sent = tr.rrq_times
        gap = tr.oack_times[0] - sent[0]
        if gap > STALL:
            out.append(Stall(0, "ack", gap, sum(t < tr.oack_times[0] for t in sent)))
    for block in sorted(first):
        sent = acks.get(block - 1)
        if not sent:
            continue
        gap = first[block] - sent[0]
        if gap > STALL:
            # the block before sent again meanwhile: the server's timer answered a lost
            # ACK (iPXE's timer, still backed off from a stall just before, was later)
            resent = any(sent[0] < t < first[block] for t in copies[block - 1])
            data = gap >= DATA_FLOOR and not resent
            out.append(Stall(block, "data" if data else "ack", gap,
                             sum(t < first[block] for t in sent)))
    return out


def captured_stalls(run_dir: Path) -> dict[str, list[Stall]]:
    """The stalls of each TFTP transfer in a run's kept capture, by file (none: ``{}``)."""
    path = run_dir / "capture.pcap.gz"
    if not path.is_file():
        return {}
    meta = json.loads((run_dir / "run.json").read_text())
    cap = read_capture(path, 0.0, str(ip_network(meta["config"]["subnet"])[1]))
    return {tr.filename: stalls(tr) for tr in cap.tftp if tr.data}
