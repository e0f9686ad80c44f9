"""SAN protocols as iPXE and the OS speak them: timers and header bytes.

Constants of :mod:`netbootsim.fleet.san` (the root paths' syntax is iPXE's:
:mod:`netbootsim.ipxe.sanpath`).
"""

from __future__ import annotations

__all__ = ["SAN_COMMAND_TIMEOUT", "SAN_DEFAULT_RETRIES", "SAN_REOPEN_DELAY", "WIRE_OVERHEAD",
           "OS_NOOP_TIMEOUT", "OS_REPLACEMENT_TIMEOUT"]

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
#: with Ethernet's 38 (frame, FCS, preamble, gap).
WIRE_OVERHEAD = {"iscsi": 48 + 78, "aoe": 36 + 38}
