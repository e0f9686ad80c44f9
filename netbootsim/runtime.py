"""Process-level settings for running a simulation fast.

CPython's default garbage-collector thresholds (700, 10, 10) make a full collection
every ~70,000 allocations, and each full collection walks every live object. A storm of
100,000 flows keeps ~10^6 objects alive, so the default makes the collector's work grow
with the square of the fleet (measured: 100,000 one-link flows 4.6 s with the defaults,
3.7 s with the collector off). :func:`relaxed_gc` keeps the collector on but makes full
collections 20× rarer while a simulation runs, and restores the thresholds afterwards.
:func:`paused_gc` (the fleet's event loop) turns the automatic passes off and sweeps
only young objects, only when many have piled up. :func:`beside` runs one piece of
work in a forked process while this one does another (a large run's report beside its
records: the second core).
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["relaxed_gc", "paused_gc", "reclaim", "reclaim_if_large", "RECLAIM_ABOVE", "beside",
           "Warm", "ChildFailed", "YOUNG_LIMIT", "YOUNG_LIMIT_MAX", "pool_worker_start"]

#: :func:`paused_gc`: net new container objects that trigger a young-generation sweep
#: (about 200 bytes each: ~0.4 GB of cyclic garbage at most waits for a sweep). The
#: 10,000-server storm holds ~1.06 x 10^6 of them at its fullest (booting servers'
#: generator frames, none garbage): at 10^6 its one sweep took 0.6 s and freed nothing.
YOUNG_LIMIT = 2_000_000
#: :func:`paused_gc`: the most that sweeps freeing nothing can raise the limit to.
YOUNG_LIMIT_MAX = 16_000_000


@contextmanager
def relaxed_gc(threshold0: int = 10_000, threshold1: int = 20,
               threshold2: int = 100) -> Iterator[None]:
    """Run the body with rarer garbage collections (the collector stays enabled)."""
    old = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, threshold2)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def paused_gc(limit: int = YOUNG_LIMIT) -> Iterator[Callable[[], None]]:
    """Run the body with the collector's automatic passes off; yield a ``tidy()``.

    A discrete-event run frees almost everything it makes by reference counting: at
    40,000 servers the bench storm's peak RSS was the same with the collector off
    (1.41 GB), and its automatic passes took 14 s of a 41 s run, a full pass over the
    whole heap (hence over the fleet) every time the heap had grown by a quarter. The
    body calls ``tidy()`` now and then (the event loop: every
    :data:`~netbootsim.fleet.simulate.WATCH_EVERY` steps); it sweeps the young
    generation only when ``limit`` new container objects have piled up since the last
    sweep, so cycles made and dropped while the run goes on are still reclaimed (at
    most ``limit`` of them wait), and each object is looked at about once. A sweep
    that frees less than 1 % of what it looked at doubles the limit for the next one
    (up to :data:`YOUNG_LIMIT_MAX`); one that frees more sets it back: the storm makes
    no cyclic garbage (a finished flow drops its event), and a sweep of the young
    generation costs ~0.5 s per 10^6 objects of booting servers (generator frames,
    measured at 10,000 servers), for nothing.

    The objects alive at entry are moved out of the collector's generations for the
    body (``gc.freeze``): made while the collector was off (load and build), they all
    sit in the young generation, and the first sweep would walk them too. The previous
    state is restored afterwards (a frozen object returns to the oldest generation).
    """
    was = gc.isenabled()
    gc.disable()
    frozen = gc.get_freeze_count()
    gc.freeze()
    base = limit

    def tidy() -> None:
        nonlocal limit
        young = gc.get_count()[0]
        if young > limit:
            freed = gc.collect(0)
            limit = base if freed * 100 > young else min(2 * limit, YOUNG_LIMIT_MAX)

    try:
        yield tidy
    finally:
        if not frozen:  # (an enclosing body froze its own: leave them frozen)
            gc.unfreeze()
        if was:
            gc.enable()


def reclaim() -> int:
    """Free the cyclic garbage now, frozen objects included: the number collected.

    A finished fleet (its world, servers, engine: a web of references) is freed only by
    a collection, which :func:`paused_gc` holds off, and part of it was frozen at the
    loop's start. Freed late, its memory sits under the summary's and the outputs':
    a 20,000-server storm peaked at 697 MiB, the loop's end at 581 MiB. What was
    frozen stays frozen (with whatever was made since), so an enclosing
    :func:`paused_gc` keeps its promise not to walk it again.
    """
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()
    try:
        return gc.collect()
    finally:
        if frozen:
            gc.freeze()


#: :func:`reclaim_if_large` collects only above this resident size: freeing a finished
#: fleet lowers the peak that follows (the summary's and the outputs'), which matters
#: where the fleet is large; below it the collection is time for nothing. Measured with
#: ``netbootsim bench storm --variance``: at 10,000 servers (0.36 GiB peak) it cost 0.21 s
#: of an 11.4 s run; at 20,000 it lowered the peak by 28 MB of 730 MB.
RECLAIM_ABOVE = 512 * 2**20


def reclaim_if_large(resident: float, above: float = RECLAIM_ABOVE) -> int | None:
    """:func:`reclaim` if the process holds more than ``above`` bytes, else ``None``.

    ``resident``: what it holds now (:func:`netbootsim.memguard.rss`). Garbage left
    behind stays bounded: a run after this one (a replication in the same process)
    collects once the process has grown past ``above``.
    """
    return reclaim() if resident > above else None


class ChildFailed(RuntimeError):
    """The work :func:`beside` ran in a forked process raised.

    The message holds the child's traceback.
    """


#: the most of a failed child's traceback passed back (a pipe's buffer holds it whole)
_TRACEBACK_BYTES = 8_000


class Result:
    """What the work :func:`beside` ran returned: ``value``, once the ``with`` has ended."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None


@contextmanager
def beside(work: Callable[[], Any], fork: bool = True) -> Iterator[Result]:
    """Run ``work()`` in a forked process while the body of the ``with`` runs here.

    The exit waits for the child; if ``work`` raised there, :class:`ChildFailed` is raised
    here with its traceback. If the body raises, the child is killed and waited for
    before the exception goes on (nothing of it is left running). The child shares this
    process's memory copy-on-write and ends with ``os._exit``: it runs no ``atexit``
    handler and writes nothing but what ``work`` writes; what ``work`` returns comes
    back pickled, as the yielded :class:`Result`'s ``value`` once the ``with`` has
    ended. Without ``fork`` (or where the system has no ``os.fork``) ``work()`` runs
    here, after the body: the same results, one after the other.
    """
    result = Result()
    if not fork or not hasattr(os, "fork"):
        yield result
        result.value = work()
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the work, then out, whatever happens
        os.close(read)
        _child_end(write, work)
    os.close(write)

    def wait() -> int:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    def kill() -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)

    with os.fdopen(read, "rb") as pipe, _waited(result, pipe.read, wait, kill):
        yield result


def _child_end(write: int, work: Callable[[], Any]) -> None:
    """In a forked child: ``work()``, its value (or traceback) to ``write``, then out."""
    code = 0
    try:
        value = pickle.dumps(work())
        with os.fdopen(write, "wb") as pipe:
            pipe.write(value)
    except BaseException:  # noqa: BLE001 -- reported to the parent, not lost
        code = 1
        try:
            os.write(write, traceback.format_exc().encode()[-_TRACEBACK_BYTES:])
        except OSError:
            pass
    finally:
        os._exit(code)


@contextmanager
def _waited(result: Result, read: Callable[[], bytes], wait: Callable[[], int],
            kill: Callable[[], None]) -> Iterator[None]:
    """The parent's side of a child's work: after the body, its value into ``result``.

    ``read`` takes what the child wrote until it ended, ``wait`` its exit code; a
    failed body (or child) leaves no child behind: ``kill`` ends it and waits for it.
    """
    done = False
    try:
        yield
        said = read()  # until the child ends (its end of the pipe closes)
        code = wait()
        done = True
        if code != 0:
            raise ChildFailed(said.decode(errors="replace").strip()
                              or f"the work's process ended with status {code}")
        result.value = pickle.loads(said)
    finally:
        if not done:
            kill()


class Warm:
    """A fresh Python process that imports ``modules`` now and then waits for one job.

    :func:`beside` forks when the work is due, so the work's imports come after: a
    10,000-server run's report figures took 0.31 s to import matplotlib and 0.41 s to
    draw, with the parent's own part (records, report text) done in 0.3 s. Started
    before the simulation instead, the child imports on the second core while this
    process simulates, and :meth:`beside` hands it the work (pickled: a module-level
    function and its arguments) when it is due. :meth:`close` without a job ends it.

    The child is a new interpreter (``python -m netbootsim.runtime``), not a fork: a
    fork made before the run shares this process's heap copy-on-write, and every page
    the run then touched was copied (measured: the 10,000-server storm's event loop
    0.5 s slower, more than the imports saved). Its standard error is this process's.
    """

    def __init__(self, modules: tuple[str, ...]) -> None:
        self._proc: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-m", "netbootsim.runtime", *modules],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    @property
    def pid(self) -> int | None:
        """The child's process id (``None`` once its job is handed over or it is closed)."""
        return None if self._proc is None else self._proc.pid

    @contextmanager
    def beside(self, work: Callable[..., Any], *args: Any) -> Iterator[Result]:
        """As :func:`beside` of ``work(*args)``, run by the waiting child (once only).

        Raises:
            ChildFailed: the work (or the child's imports) raised there, or it died.
            RuntimeError: the job was handed over already, or the child closed.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            raise RuntimeError("this Warm process has no job to take any more")
        result = Result()
        data = pickle.dumps((work, args), protocol=pickle.HIGHEST_PROTOCOL)
        # sent from a thread: the child may still be importing, and the body need not
        # wait for it (the write gives the interpreter lock up while it blocks)
        assert proc.stdin is not None and proc.stdout is not None
        sender = threading.Thread(target=_send, args=(proc.stdin, data),
                                  name="netbootsim-warm-job", daemon=True)
        sender.start()

        def kill() -> None:
            proc.kill()
            proc.wait()

        try:
            with proc.stdout, _waited(result, proc.stdout.read, proc.wait, kill):
                yield result
        finally:
            sender.join()

    def close(self) -> None:
        """End the child without a job (it has nothing to finish: killed); wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass

    def __enter__(self) -> Warm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _send(pipe, data: bytes) -> None:
    """Write ``data`` to ``pipe`` and close it (a reader gone: nothing to say)."""
    try:
        with pipe:
            pipe.write(data)
    except BrokenPipeError:  # the child failed before it read: its traceback says why
        pass


def _warm_main(modules: list[str]) -> None:
    """A :class:`Warm` child: import ``modules``, read the job, write its value, out.

    A job that raised (or failed imports) writes its traceback instead and ends with
    status 1; no job (standard input closed empty) ends it with status 0.
    """
    import importlib

    out = sys.stdout.buffer
    code = 0
    try:
        for name in modules:
            importlib.import_module(name)
        data = sys.stdin.buffer.read()
        if data:
            work, args = pickle.loads(data)
            out.write(pickle.dumps(work(*args), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # noqa: BLE001 -- reported to the parent, not lost
        code = 1
        out.write(traceback.format_exc().encode()[-_TRACEBACK_BYTES:])
    out.flush()
    os._exit(code)


def pool_worker_start(parent: int) -> None:
    """A pool worker's initializer: Ctrl-C is the parent's, and the parent's death is ours.

    A worker of ``concurrent.futures.ProcessPoolExecutor`` waits on its task queue for
    ever: when the parent is killed (``kill -9``, out of memory) nothing tells it, and it
    stays, holding its memory (measured: 253 such workers, 37 GB of address space, after
    a day of stopped studies). A daemon thread here checks every half second that the
    parent is still the one that started the worker and ends the worker at once if not.

    Args:
        parent: the pool's process id (``os.getpid()`` there, given as ``initargs``: a
            parent killed while the worker started is not this worker's parent by now).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="netbootsim-parent-watch", daemon=True).start()


if __name__ == "__main__":  # a Warm child
    _warm_main(sys.argv[1:])
