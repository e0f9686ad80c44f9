"""Simulated time: the range the float64 clock keeps exact, and the run's horizon.

The simulation clock (SimPy's ``env.now``) is a float64 count of seconds. The engines
compare instants to 1 ns: the flow engine's completion tolerance
(``netbootsim.net.base._DONE_TOL_TIME``), the DHCP timers' slack
(``netbootsim.services.dhcp._EPS``). That only works while the clock resolves 1 ns, so every time
a scenario writes is held to :data:`TIME_LIMIT`, and every run stops at a horizon
(``run.until``, default :data:`DEFAULT_HORIZON`) which is itself within the limit: the
clock of a run never passes 2**22 s.
"""

from __future__ import annotations

__all__ = ["DEFAULT_HORIZON", "TIME_LIMIT", "time_limit_problem"]

#: The latest time a scenario may write, s: 2**22 s = 4,194,304 s ≈ 48.5 days.
#: A float64 has a 53-bit significand, so between 2**21 and 2**22 s consecutive
#: representable times are 2**(21 - 52) = 2**-31 s ≈ 0.47 ns apart, and at 2**22 s
#: itself 2**-30 s ≈ 0.93 ns: still finer than the 1 ns to which the engines compare
#: instants. At 2**23 s the spacing is 1.9 ns, and at 1e8 s 15 ns: a wake-up 1 ns
#: ahead lands on ``now`` itself, durations under a few ns vanish, and "done within
#: 1 ns" stops meaning anything.
TIME_LIMIT = 2.0**22

#: ``run.until`` when the scenario gives none, s: 7 days. A guard, not a model of the
#: world: it stops a run that would never end (an iPXE ``sleep 999999999``, a server
#: waiting on something that never comes) with its servers ``unfinished``. Boot-time
#: questions live in minutes to hours (MAAS times commissioning out at 20 min and a
#: deploy at 40 min, node_status.py [maas-src]; a stage retried a few times stays within
#: hours), so no plausible scenario meets it by accident; it is well inside
#: :data:`TIME_LIMIT`. A scenario that means a deadline writes its own ``run.until``.
DEFAULT_HORIZON = 7 * 86400.0


def time_limit_problem(text: object, seconds: float) -> str | None:
    """Why a time written as ``text`` (``seconds`` once parsed) is refused, or ``None``."""
    if seconds <= TIME_LIMIT:
        return None
    return (f"{text!r} is past the latest time a scenario can give, 2**22 s = "
            f"{TIME_LIMIT:.0f} s (48.5 days): beyond it the simulation clock (float64 "
            f"seconds) no longer resolves the 1 ns to which the engines compare instants")
