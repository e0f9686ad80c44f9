"""SAN protocols as iPXE and the OS speak them: timers and header bytes.

Constants of :mod:`netbootsim.fleet.san` (the root paths' syntax is iPXE's:
:mod:`netbootsim.ipxe.sanpath`).
"""

from __future__ import annotations

import math

__all__ = ["SAN_COMMAND_TIMEOUT", "SAN_DEFAULT_RETRIES", "SAN_REOPEN_DELAY", "WIRE_OVERHEAD",
           "OS_NOOP_TIMEOUT", "OS_REPLACEMENT_TIMEOUT", "FC_DEV_LOSS_TMO", "SAN_KINDS",
           "NOT_ROUTED", "FCOE_FRAME_DATA", "FCOE_FRAME_OVERHEAD", "FCP_COMMAND_OVERHEAD",
           "wire_bytes", "loader_detect", "os_timers", "AOE_MINTIMER", "AOE_DEADSECS"]

#: The SAN target kinds (scenario services ``kind: iscsi | aoe | fcoe``).
SAN_KINDS = ("iscsi", "aoe", "fcoe")
#: Kinds whose frames no IP router forwards: AoE is Ethernet (AoE r11 [aoe-r11]); FCoE
#: is Ethernet between the server and its FCoE forwarder (FC-BB-5 [fc-bb-5]; a fabric of
#: FCoE switches beyond is not modelled): a target must share an L2 domain with its
#: initiator.
NOT_ROUTED = frozenset({"aoe", "fcoe"})

#: iPXE's SAN command timeout: a command (an attach's first) not answered in 15 s fails
#: (SAN_COMMAND_TIMEOUT, core/sanboot.c:58 [ipxe-src]).
SAN_COMMAND_TIMEOUT = 15.0
#: A SAN command is tried once and then up to 10 times more (SAN_DEFAULT_RETRIES,
#: core/sanboot.c:68 [ipxe-src]; the setting ``san-retries``) ...
SAN_DEFAULT_RETRIES = 10
#: ... the device reopened 5 s after a failure (SAN_REOPEN_DELAY_SECS, core/sanboot.c:78
#: [ipxe-src]; 5.22 s apart in the lab, docs/calibration.md's SAN section).
SAN_REOPEN_DELAY = 5.0
#: The booted OS's initiator (open-iscsi) finds a dead connection by its NOP-Out ping:
#: ``node.conn[0].timeo.noop_out_timeout`` 15 s (etc/iscsid.conf [open-iscsi]) ...
OS_NOOP_TIMEOUT = 15.0
#: ... and fails its I/O if the session is not back within
#: ``node.session.timeo.replacement_timeout``, 120 s (etc/iscsid.conf [open-iscsi]); with a
#: second path dm-multipath moves the I/O there when the first fails.
OS_REPLACEMENT_TIMEOUT = 120.0
#: Bytes on the wire per command beyond its data: iSCSI's 48-byte header (RFC 7143 §11.2
#: [rfc7143]) with TCP/IP/Ethernet's 78; AoE's 36-byte header (AoE r11 §3.1 [aoe-r11])
#: with Ethernet's 38 (frame, FCS, preamble, gap). FCoE's are per frame
#: (:func:`wire_bytes`).
WIRE_OVERHEAD = {"iscsi": 48 + 78, "aoe": 36 + 38}
#: FCoE: data bytes per frame. iPXE logs in with a receive size of 1,452 B
#: (FC_LOGIN_DEFAULT_MTU, include/ipxe/fcels.h:169 [ipxe-src]), so a target sends it at
#: most that a frame; the booted OS's reads are counted in the same frames (Linux's
#: initiator takes 2,048 B: their headers are then overstated by 1.7 % of the bytes).
FCOE_FRAME_DATA = 1452
#: FCoE: bytes a frame adds to its data: Ethernet with its 802.1Q tag (18), the FCoE
#: header with SOF (14), the FC frame header (24), the FC CRC (4), the FCoE trailer with
#: EOF (4), the Ethernet FCS (4), preamble and gap (20) (FC-BB-5 [fc-bb-5]).
FCOE_FRAME_OVERHEAD = 18 + 14 + 24 + 4 + 4 + 4 + 20
#: FCoE: what a read command adds beyond its data frames: the FCP_CMND frame (32 B of
#: payload) and the FCP_RSP frame (24 B) (FCP-4 [fcp-4]), each a frame.
FCP_COMMAND_OVERHEAD = 2 * FCOE_FRAME_OVERHEAD + 32 + 24
#: The FC transport's ``dev_loss_tmo``: the booted Linux OS keeps a lost remote port's
#: I/O queued 60 s before failing it (drivers/scsi/scsi_transport_fc.c [linux-fc]).
FC_DEV_LOSS_TMO = 60.0
#: Linux's AoE driver resends an unanswered frame after at least ``MINTIMER``, two
#: ticks of HZ/10: 0.2 s (its timer then follows the round trip), on another of the
#: target's interfaces when it has several (drivers/block/aoe/aoecmd.c [linux-aoe]) ...
AOE_MINTIMER = 0.2
#: ... and fails the device when a frame has waited ``aoe_deadsecs``, 60 × 3 = 180 s
#: (drivers/block/aoe/aoecmd.c [linux-aoe]).
AOE_DEADSECS = 180.0


def wire_bytes(kind: str, request: float) -> float:
    """Bytes on the wire for one read command of ``request`` data bytes.

    iSCSI and AoE: the data and :data:`WIRE_OVERHEAD`; FCoE: the data in frames of
    :data:`FCOE_FRAME_DATA`, each with :data:`FCOE_FRAME_OVERHEAD`, and the command's
    own frames (:data:`FCP_COMMAND_OVERHEAD`). E.g. FCoE, 65,024 B (127 sectors):
    45 frames, 65,024 + 45 × 88 + 232 = 69,216 B.
    """
    if kind == "fcoe":
        return (request + math.ceil(request / FCOE_FRAME_DATA) * FCOE_FRAME_OVERHEAD
                + FCP_COMMAND_OVERHEAD)
    return request + WIRE_OVERHEAD[kind]


def loader_detect(kind: str) -> float:
    """How long iPXE takes to find a target gone while its boot loader reads (s).

    iSCSI: at once (its TCP connection is refused, as the lab saw); AoE and FCoE: the
    command is not answered, so iPXE's SAN command timeout, 15 s.
    """
    return 0.0 if kind == "iscsi" else SAN_COMMAND_TIMEOUT


def os_timers(kind: str) -> tuple[float, float]:
    """The booted OS's ``(detect, give up)`` for a target gone (s).

    iSCSI: open-iscsi's NOP-Out timeout, 15 s, then its replacement timeout, 120 s.
    AoE: Linux's driver resends after 0.2 s (:data:`AOE_MINTIMER`) and fails the device
    after 180 s (:data:`AOE_DEADSECS`). FCoE: the fabric tells the initiator at once (a
    registered state change notification, RSCN, when the target's port logs out of the
    fabric, FC-LS [fc-ls]), then the FC transport's ``dev_loss_tmo``, 60 s.
    """
    if kind == "fcoe":
        return 0.0, FC_DEV_LOSS_TMO
    if kind == "aoe":
        return AOE_MINTIMER, AOE_DEADSECS
    return OS_NOOP_TIMEOUT, OS_REPLACEMENT_TIMEOUT
