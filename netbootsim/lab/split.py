r"""The lab network with a ``path`` section: guests and servers split by the delay relay.

Without ``path`` the lab has one bridge (:data:`~.dnsmasq.BRIDGE`) holding the
servers' address and every guest tap. With it, the namespace gets the topology of
:mod:`.relay`::

    guests' taps --- br-g --- vg0 ==veth== vg1 \\
                                                relay (vg1 <-> vs1): delay, loss
    servers ------- br-s --- vs0 ==veth== vs1 /
    (192.168.77.1: dnsmasq, HTTP)

The relay is started before the guests and waited for until it prints ``relay
ready``; at teardown :meth:`.Netns.delete` SIGTERMs it (after the guests, before the
servers), which makes it write ``relay.json`` (its statistics) into the run dir.
tcpdump captures on ``br-g``, the guests' side, so packet times are those the
client sees (the bridge is promiscuous while captured, so it sees forwarded
frames too).

The namespace's kernel owns the server address, and Linux answers ARP for a local
address on *any* interface: without care ``br-g`` and ``vg1`` reply to the guests'
"who-has 192.168.77.1" at once, the guests then send to ``br-g``'s MAC and their
packets are delivered locally on the guests' side, bypassing the relay (seen here:
the TCP handshake got only one way of delay). So ``br-g``, ``vg1`` and ``vs1`` get
``arp_ignore=8`` (never answer ARP) and no IPv6 link-local address: the only
answer to the guests comes from ``br-s``, through the relay.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from .config import LabConfig
from .netns import Netns
from .relay import RelaySpec, relay_command

__all__ = ["GUEST_BRIDGE", "SERVER_BRIDGE", "capture_interface", "relay_spec", "relay_summary",
           "server_bridge", "setup_network"]

#: Bridge of the guests' taps when a relay is used.
GUEST_BRIDGE = "br-g"
#: Bridge of the servers (their address lives here) when a relay is used.
SERVER_BRIDGE = "br-s"
#: Single bridge of the layout without a relay (same name as before).
BRIDGE = "nbs-br0"
#: (bridge end, relay end, bridge) of each veth pair.
_VETHS = (("vg0", "vg1", GUEST_BRIDGE), ("vs0", "vs1", SERVER_BRIDGE))
_READY_TIMEOUT = 15.0


def server_bridge(cfg: LabConfig) -> str:
    """The bridge holding the server address (where dnsmasq listens)."""
    return SERVER_BRIDGE if cfg.path else BRIDGE


def capture_interface(cfg: LabConfig) -> str:
    """Where tcpdump captures: the guests' side of the relay, or the only bridge."""
    return GUEST_BRIDGE if cfg.path else BRIDGE


def relay_spec(cfg: LabConfig, out: Path) -> RelaySpec:
    """The relay for ``cfg.path``: same delay and loss both ways, stats to ``out/relay.json``.

    Direction ``ab`` is guests → servers, ``ba`` servers → guests.
    """
    p = cfg.path
    if p is None:
        raise ValueError("config has no path section")
    return RelaySpec(a=_VETHS[0][1], b=_VETHS[1][1], delay_ab=p.delay, delay_ba=p.delay,
                     loss_ab=p.loss, loss_ba=p.loss, seed=cfg.seed,
                     stats=str(out / "relay.json"))


def setup_network(ns: Netns, cfg: LabConfig, taps: list[str], out: Path,
                  address6: str | None) -> str:
    """Create the namespace and its devices; with ``cfg.path`` also start the relay.

    Args:
        ns: the (not yet created) namespace.
        cfg: the config.
        taps: guest tap names.
        out: run directory (relay stats and stderr go there).
        address6: IPv6 address/prefix of the server bridge, or None.

    Returns:
        A one-line description for the progress output.

    Raises:
        RuntimeError: the relay did not print ``relay ready`` in time.
    """
    address = f"{cfg.server_ip}/24"
    if not cfg.path:
        ns.create(BRIDGE, address, taps, address6)
        return f"bridge {BRIDGE} {address}, taps {', '.join(taps)}"
    ns.create(SERVER_BRIDGE, address, [], address6)
    ns.ip("link", "add", GUEST_BRIDGE, "type", "bridge", "stp_state", "0")
    for end, peer, _ in _VETHS:
        ns.ip("link", "add", end, "type", "veth", "peer", "name", peer)
    quiet = (GUEST_BRIDGE, _VETHS[0][1], _VETHS[1][1])
    subprocess.run(["ip", "netns", "exec", ns.name, "sysctl", "-qw",
                    *(f"net.ipv4.conf.{dev}.arp_ignore=8" for dev in quiet)],
                   check=True, capture_output=True)
    for dev in (GUEST_BRIDGE, *(d for pair in _VETHS for d in pair[:2])):
        ns.ip("link", "set", dev, "addrgenmode", "none")
    ns.ip("link", "set", GUEST_BRIDGE, "up")
    for end, peer, bridge in _VETHS:
        ns.ip("link", "set", end, "master", bridge, "up")
        ns.ip("link", "set", peer, "up")
    for tap in taps:
        ns.ip("tuntap", "add", "dev", tap, "mode", "tap")
        ns.ip("link", "set", tap, "master", GUEST_BRIDGE, "up")
    _start_relay(ns, relay_spec(cfg, out), out / "relay.stderr")
    return (f"taps {', '.join(taps)} on {GUEST_BRIDGE}, servers {address} on {SERVER_BRIDGE}, "
            f"relay vg1<->vs1 delay {cfg.path.delay * 1e3:g}ms loss {cfg.path.loss:g} each way")


def _start_relay(ns: Netns, spec: RelaySpec, errfile: Path) -> subprocess.Popen:
    with open(errfile, "wb") as err:
        proc = ns.spawn(relay_command(spec), stdout=subprocess.PIPE, stderr=err)
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith(b"relay ready"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(_READY_TIMEOUT):
        tail = errfile.read_text(errors="replace")[-2000:] if errfile.exists() else ""
        raise RuntimeError(f"relay did not start (exit {proc.poll()}): {tail.strip()}")
    return proc


def relay_summary(stats_file: Path) -> dict[str, Any] | None:
    """The relay's ``relay.json`` boiled down for ``run.json`` (None if it is missing).

    Directions are named ``guest_to_server`` (relay ``ab``) and ``server_to_guest``.
    """
    try:
        stats = json.loads(stats_file.read_text())
    except (OSError, ValueError):
        return None
    keys = ("frames_in", "frames_dropped", "frames_sent", "bytes_sent", "kernel_drops",
            "send_errors", "gso", "max_queue", "unsent_at_exit", "read_lag_max_s",
            "late_max_s", "late_over_1ms")
    spec = stats.get("spec", {})
    return {"stats_file": stats_file.name, "elapsed_s": round(stats.get("elapsed_s", 0.0), 3),
            "delay_s": spec.get("delay_ab"), "loss": spec.get("loss_ab"),
            "offload_failures": {k: v for k, v in stats.get("offload_failures", {}).items() if v},
            "scheduler": stats.get("scheduler"),
            **{name: {k: stats.get(d, {}).get(k) for k in keys}
               for name, d in (("guest_to_server", "ab"), ("server_to_guest", "ba"))}}
