"""A server's life in the run: power-on, then its group's stages, then ready or not.

:func:`lifecycle` is the SimPy process of one :class:`~.machine.Machine`. Each
:class:`~.spec.Stage` (``commissioning``, ``deploy``...) waits for its fleet-wide
in-flight cap, then makes attempts until one succeeds or its policy gives up:

* ``timeout``: the orchestrator powers the server off that long after the stage (or
  its last retry) began;
* ``on_failure: reboot``: the server reboots into the next attempt at once (after
  ``reboot_after``), while the stage's time lasts;
* ``on_failure: retry``: up to ``retries`` more attempts, each noticed only at the
  stage's timeout;
* else the stage, and the server, have failed.

With a power-on policy or an orchestrator (:mod:`.power`), the first power-on waits
for its instant, its admission and the orchestrator's power command; each later stage
and each ``retry`` starts with the orchestrator's step and power cycle.

One attempt is the BIOS and ROM start-up, the group's boot path
(:mod:`.boot`), then the OS phase: the installer streams the stage's image to disk
over HTTP (Linux TCP, bounded by the disk's write rate), then the stage's ``work``
time (commissioning scripts, first boot, reporting ready).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from .boot import ipxe_autoboot, pxe_rom
from .machine import Failed, Machine
from .san import drive_reads
from .spec import Group, Stage

__all__ = ["lifecycle", "server_fails", "rerun", "stop"]


def lifecycle(m: Machine) -> Generator[simpy.Event, Any, None]:
    """The whole life of the server in the run (a SimPy process)."""
    env = m.env
    power = _power(m)
    if power is None:
        yield env.timeout(m.at)
        m.stage = m.group.stages[0].name
        if m.dead:  # failed before its power-on: it never comes up
            m.outcome, m.reason = "failed", m.dead
            return
        m.record("power-on", env.now, env.now)
    else:  # a power-on policy, admission control, an orchestrator (.power)
        yield from power.power_on(m)
    stages = m.group.stages
    j = 0
    while j < len(stages):  # (by index: no iterator kept in the frame for the whole boot)
        m.stage_no, stage = j, stages[j]
        ok, reason = yield from _stage(m, stage)
        if not ok:
            m.outcome = "failed"
            m.reason = f"{stage.name}: {reason}" if len(m.group.stages) > 1 else reason
            if power is not None:
                power.done(m)
            return
        j += 1
    m.ready, m.outcome, m.up = env.now, "ok", True
    if power is not None:
        power.done(m)


def rerun(m: Machine, group: Group, works: tuple[float, ...]
          ) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """Boot the machine again, now, as ``group``: ``(ok, reason)`` (:mod:`.events`).

    A lifecycle event's boot: a reprovision's reboot into another image, a standby
    replacing a node, a pool server a demand asks for. The machine's first outcome
    (``ready``, ``outcome``: the fleet's commissioning) is left as it was; ``works``
    are its work times in ``group``'s stages. With an orchestrator, the power cycle is
    its step and power command; else the server powers on at once.
    """
    env = m.env
    m.group, m.works, m.up = group, works, False
    m.stage = group.stages[0].name
    m.stage_no = 0
    power = _power(m)
    if power is not None:
        yield from power.stage_start(m)
    if m.dead:
        return False, m.dead
    m.record("power-on", env.now, env.now)
    j = 0
    while j < len(group.stages):
        m.stage_no, stage = j, group.stages[j]
        ok, reason = yield from _stage(m, stage)
        if not ok:
            return False, (f"{stage.name}: {reason}" if len(group.stages) > 1 else reason)
        j += 1
    m.up = True
    return True, ""


def stop(m: Machine, why: str, stage: str) -> None:
    """The machine goes down for good now (a replaced node), whatever it was doing.

    Its attempt, if one runs, is interrupted (its stage then fails with ``why``); its
    SAN sessions and keep-alive connections go. The ``server-fail`` record is under
    ``stage`` (the event's).
    """
    if not m.dead:
        m.dead = why
    _failure_record(m, why, stage)
    proc = m.attempt_proc
    if proc is not None and proc.is_alive:
        proc.interrupt("server-fail")
    _logout(m)
    m.world.release_connections(m.server)


def _power(m: Machine):
    """The run's :class:`~.power.PowerControl` if it governs the machine's group."""
    power = m.world.power
    return power if power is not None and power.governs(m.group) else None


def _stage(m: Machine, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """One stage, within its fleet-wide in-flight cap: ``(ok, reason)``.

    Without a cap or an orchestrator to start it, the stage is its attempts (no
    generator frame of its own: one less a server for the whole of its boot).
    """
    m.stage = stage.name
    cap = m.world.stage_cap(stage.name, stage.max_in_flight)
    if cap is None and (m.stage_no == 0 or _power(m) is None):
        return _attempts(m, stage)
    return _stage_held(m, stage, cap)


def _stage_held(m: Machine, stage: Stage, cap: simpy.Resource | None
                ) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """A stage under its in-flight ``cap``, started by the orchestrator after the first."""
    env = m.env
    req = None
    if cap is not None:
        t0 = env.now
        req = cap.request()
        yield req
        if env.now > t0:
            m.record("queued", t0, env.now, reason=f"{stage.name}: at most "
                     f"{stage.max_in_flight} in flight")
    power = _power(m)
    try:
        if power is not None and m.stage_no > 0:  # the orchestrator starts the stage
            yield from power.stage_start(m)
        return (yield from _attempts(m, stage))
    finally:
        if req is not None:
            cap.release(req)


def _attempts(m: Machine, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """Attempts at a stage under its timeout and on-failure policy: ``(ok, reason)``."""
    env = m.env
    began = env.now
    retries = stage.retries
    m.attempt = 0
    m.last_error = ""
    restarted = False
    while True:
        if m.dead:
            return False, m.dead
        m.attempt += 1
        if restarted:  # the orchestrator's retry: its step and power cycle
            restarted = False
            yield from _power(m).stage_start(m)
            began = env.now
        tried = env.now
        proc = m.attempt_proc = env.process(_attempt(m, stage))
        deadline = began + stage.timeout if stage.timeout is not None else math.inf
        if math.isfinite(deadline):
            yield proc | env.timeout(max(deadline - env.now, 0.0))
        else:
            yield proc
        if m.dead:  # the server failed (server_fails interrupted the attempt)
            if proc.is_alive:
                yield proc
            return False, m.dead
        if proc.is_alive:  # the orchestrator's timeout: power the server off
            proc.interrupt("timeout")
            yield proc
            # what kept it from finishing, if it met a failure (a script looping on a
            # fetch that fails, a retried DHCP): the timeout alone would hide it
            last = m.last_error
            why = f"timed out after {stage.timeout:g} s" + (f"; last error: {last}"
                                                            if last else "")
            m.record("timeout", env.now, env.now, outcome="failed", reason=why)
            m.last_error = last
            timed_out = True
        else:
            ok, why = proc.value
            if ok:
                return True, ""
            m.last_error = why
            timed_out = False
        if stage.on_failure == "reboot" and not timed_out:
            if stage.reboot_after:
                yield env.timeout(stage.reboot_after)  # the BIOS boot order, again
            elif env.now == tried:  # no time passed: the same attempt, for ever
                return False, (f"{why} (failed in no simulated time; rebooting at "
                               "once would repeat it for ever: give reboot_after)")
            if env.now < deadline:
                continue
            return False, why
        if stage.on_failure == "retry" and retries > 0:
            retries -= 1
            if math.isfinite(deadline) and env.now < deadline:
                yield env.timeout(deadline - env.now)  # the orchestrator notices then
            began = env.now
            restarted = _power(m) is not None
            continue
        return False, why


def _attempt(m: Machine, stage: Stage) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """Power on (or cycle), firmware, boot path, OS phase: ``(ok, reason)``."""
    env = m.env
    g = m.group
    world = m.world
    m.link_up = env.now
    m.san_boot = None
    _logout(m)  # a reboot drops the sessions of the run before (a stage's reboot)
    try:
        first = m.firmware
        if first.post > 0:  # POST, UEFI or BIOS initialisation, to the NIC's boot ROM
            t0 = env.now
            yield env.timeout(first.post)
            m.record("post", t0, env.now)
        rom = first.rom_start
        if rom > 0:  # BIOS/POST and the ROM's start-up, to its first network packet
            t0 = env.now
            yield env.timeout(rom)
            m.record("firmware", t0, env.now)
        station = world.topology.stations.get(m.server)
        if station is not None and world.topology.associate > 0:
            # a Wi-Fi station scans and associates before its first packet
            t0 = env.now
            yield env.timeout(world.topology.associate)
            m.record("associate", t0, env.now, endpoint=station[0])
        if g.boot == "ipxe":
            yield from ipxe_autoboot(m)
        else:
            yield from pxe_rom(m, first)
        # the kernel runs now: iPXE's keep-alive connections are gone (their workers
        # are freed after the server's keep-alive timeout); the installer opens its own
        world.release_connections(m.server)
        if m.san_boot is not None:  # booted from a SAN disk: the OS reads it as it boots
            yield from os_reads(m)
        if stage.install is not None:
            inst = stage.install
            svc = inst.service
            if inst.via is not None:  # the installer follows the redirector's 302
                ask, mirror = yield from world.redirect(m.server, world.lbs[inst.via])
                m.record(f"redirect:install:{inst.image}", ask.start, ask.end, 0.0, "http",
                         inst.via, ask.outcome, ask.reason or f"302 to {mirror}")
                if mirror is None:
                    raise Failed(f"redirect:install:{inst.image}: {ask.reason}")
                svc = world.services[mirror]
            assert svc is not None
            res = yield from world.http(m.server, g.name, m.rack, stage.name, m.attempt,
                                        None, svc, inst.image, inst.size,
                                        rate_cap=inst.disk_rate)
            m.fetched(f"install:{inst.image}", svc.name, res)
        work = m.works[m.stage_no]
        if work > 0:
            t0 = env.now
            yield env.timeout(work)
            m.record("work", t0, env.now)
        return True, ""
    except Failed as f:
        _logout(m)
        return False, f.reason
    except simpy.Interrupt:
        _logout(m)
        return False, "interrupted"
    finally:
        world.release_connections(m.server)


def server_fails(m: Machine) -> None:
    """The server fails now and stays down (a ``server-fail`` fault).

    What it was doing stops: its attempt is interrupted (a transfer in flight is cut,
    its bytes so far stay counted; its keep-alive connections are released), and its
    stage fails with the reason at once. Waiting for its power-on, a stage's in-flight
    cap or the orchestrator, it fails when that wait ends, without booting. A server
    already ready or failed is not affected: its commissioning is over; so is one up
    after a lifecycle event's boot (:mod:`.events`), while one in such a boot fails as a
    booting one does. A standby never powered on is down from then on (a demand passes
    it over; a replace fails its boot); its record is the event log's
    (``standby:failure``).
    """
    if m.dead:
        return
    in_event = m.index in m.world.event_boots
    if not in_event and (m.up or m.outcome != "unfinished"):
        return
    now = m.env.now
    m.dead = f"server failed at {now:g} s (server-fail fault)"
    if m.at == math.inf and not in_event:  # a standby that never powered on
        m.world.event_stages.add("standby:failure")
        _failure_record(m, m.dead, "standby:failure")
        return
    m.record("server-fail", now, now, outcome="failed", reason=m.dead)
    proc = m.attempt_proc
    if proc is not None and proc.is_alive:
        proc.interrupt("server-fail")


def _failure_record(m: Machine, why: str, stage: str) -> None:
    """The ``server-fail`` record, now, under ``stage`` (an event's: the event log)."""
    now = m.env.now
    was, m.stage = m.stage, stage
    m.record("server-fail", now, now, outcome="failed", reason=why)
    m.stage = was


def _logout(m: Machine) -> None:
    """The server's SAN sessions go back: its attempt failed, or it reboots."""
    for spec in m.san_sessions:
        m.world.san.logout(spec)
    m.san_sessions.clear()


def os_reads(m: Machine) -> Generator[simpy.Event, Any, None]:
    """The booted OS's reads from the SAN drive iPXE handed over to (``m.san_boot``).

    Recorded as ``san-read:os``; a failed read fails the attempt (:class:`Failed`).
    """
    paths, at = m.san_boot
    if paths[at][0].boot.os <= 0:
        return
    res, _ = yield from drive_reads(m, paths, at, "os")
    if res.outcome != "ok":
        raise Failed(f"san-read:os: {res.reason}")
