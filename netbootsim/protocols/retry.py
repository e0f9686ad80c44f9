"""iPXE's generic retry timer: the waits of a sender that resends until answered.

iPXE's protocols resend on one generic timer (net/retry.c, include/ipxe/retry.h
[ipxe-src]); netbootsim takes its waits for DHCP, the TFTP request and blocks, ARP and
the TCP SYN, on both engines. The timer starts at its timeout (at least
``DEFAULT_MIN_TIMEOUT``, 0.25 s, retry.h:16; a timer that has measured round trips
smooths ``t := t - t/8 + runtime/2``, which converges to 4 × the round trip) and
doubles on each expiry; when the doubled value exceeds ``DEFAULT_MAX_TIMEOUT`` (10 s,
retry.h:19) the owner is told to fail (retry.c:181-183 [ipxe-src]). From the floor on a
LAN: waits of 0.25, 0.5, 1, 2, 4, 8 s — six sends, given up at 15.75 s.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_TIMEOUT", "DEFAULT_MAX_TIMEOUT", "retry_waits"]

#: The timer's floor, iPXE ``DEFAULT_MIN_TIMEOUT`` = TICKS_PER_SEC / 4 (retry.h:16 [ipxe-src]).
DEFAULT_MIN_TIMEOUT = 0.25
#: The backoff ceiling, iPXE ``DEFAULT_MAX_TIMEOUT`` = 10 × TICKS_PER_SEC (retry.h:19 [ipxe-src]).
DEFAULT_MAX_TIMEOUT = 10.0


def retry_waits(first: float, maximum: float) -> list[float]:
    """Waits of iPXE's retry timer before it gives up (retry.c:181-183 [ipxe-src]).

    Each expiry doubles the timeout; when the doubled value exceeds ``maximum`` the
    owner fails. ``retry_waits(0.25, 10)`` → ``[0.25, 0.5, 1, 2, 4, 8]`` (15.75 s).
    """
    waits = [first]
    while waits[-1] * 2 <= maximum:
        waits.append(waits[-1] * 2)
    return waits
