"""The collector settings of a run: paused_gc's young sweep and restored state."""

import gc
import os
import weakref

import pytest

from netbootsim.runtime import paused_gc, relaxed_gc


class Node:
    def __init__(self):
        self.other = self  # a cycle: only the collector frees it


def test_paused_gc_sweeps_young_cycles_only_past_the_limit():
    assert gc.isenabled()
    with paused_gc(limit=1000) as tidy:
        assert not gc.isenabled()
        gc.collect(0)  # start from an empty young generation
        probe = weakref.ref(Node())  # a dropped cycle
        tidy()  # 2 new containers (the Node, its __dict__... ) < 1000: no sweep
        assert probe() is not None
        keep = [[] for _ in range(1500)]  # 1,500 more live containers: over the limit
        tidy()
        assert probe() is None  # the sweep reclaimed the cycle
        assert gc.get_count()[0] < 10  # and the young generation is empty again
        del keep
    assert gc.isenabled()


def test_paused_gc_doubles_its_limit_after_a_sweep_that_frees_nothing():
    # limit 1,000: 1,500 live lists -> a sweep that frees nothing (< 1 %) -> next limit
    # 2,000, so 1,500 more do not trigger one (the dropped cycle survives); 1,000 more
    # (2,500 > 2,000) do, and that sweep frees the cycle.
    with paused_gc(limit=1000) as tidy:
        gc.collect(0)
        keep = [[] for _ in range(1500)]
        tidy()
        assert gc.get_count()[0] < 10  # swept
        probe = weakref.ref(Node())
        keep2 = [[] for _ in range(1500)]
        tidy()
        assert probe() is not None  # 1,500 < 2,000: not swept
        keep3 = [[] for _ in range(1000)]
        tidy()
        assert probe() is None
        del keep, keep2, keep3


def test_paused_gc_leaves_what_lived_before_it_out_of_its_sweeps():
    # A cycle dropped inside the body but made before it was frozen at entry: no young
    # sweep reclaims it (that is the point: the built scenario is never walked); the
    # first collection after the body does, so nothing leaks.
    gc.collect()
    before = Node()
    probe = weakref.ref(before)
    with paused_gc(limit=10) as tidy:
        assert gc.get_freeze_count() > 0
        del before
        keep = [[] for _ in range(100)]
        tidy()
        assert probe() is not None  # frozen: the sweep did not look at it
        del keep
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert probe() is None


def test_paused_gc_keeps_a_disabled_collector_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_relaxed_gc_restores_thresholds():
    before = gc.get_threshold()
    with relaxed_gc(5, 6, 7):
        assert gc.get_threshold() == (5, 6, 7)
    assert gc.get_threshold() == before


def test_reclaim_frees_frozen_garbage_and_keeps_the_rest_frozen():
    # Inside paused_gc a finished fleet made before the loop is frozen; reclaim() frees
    # it at once (a cycle: only a collection can), and what is still alive stays out of
    # the collector's generations, as the enclosing paused_gc promised.
    from netbootsim.runtime import reclaim

    with paused_gc():
        done = Node()
        probe = weakref.ref(done)
        kept = Node()
        gc.freeze()  # as the fleet's loop froze it
        del done
        assert reclaim() >= 1
        assert probe() is None
        assert kept.other is kept
        assert not any(o is kept for o in gc.get_objects())  # still frozen
    assert gc.get_freeze_count() == 0


def test_reclaim_outside_paused_gc_freezes_nothing():
    from netbootsim.runtime import reclaim

    probe = weakref.ref(Node())
    reclaim()
    assert probe() is None
    assert gc.get_freeze_count() == 0


def test_reclaim_if_large_collects_only_above_its_size():
    # At or below the size the garbage waits (None: no collection made); above it, the
    # same cycle is freed.
    from netbootsim.runtime import RECLAIM_ABOVE, reclaim_if_large

    with paused_gc():
        probe = weakref.ref(Node())
        assert reclaim_if_large(RECLAIM_ABOVE) is None
        assert reclaim_if_large(10.0, above=10.0) is None
        assert probe() is not None  # a cycle: still there without a collection
        assert reclaim_if_large(RECLAIM_ABOVE + 1) >= 1
        assert probe() is None


def test_beside_runs_the_work_in_another_process_at_the_same_time(tmp_path):
    # the child writes its pid; the body runs meanwhile here and waits for the child's
    # file before leaving (so the two ran at once, in two processes)
    import os
    import time

    from netbootsim.runtime import beside

    mark = tmp_path / "child"

    def work():
        mark.write_text(str(os.getpid()))

    with beside(work):
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mark.exists()  # written while the body ran
    assert int(mark.read_text()) != os.getpid()


def test_beside_without_fork_runs_the_work_after_the_body():
    from netbootsim.runtime import beside

    order = []
    with beside(lambda: order.append("work"), fork=False):
        order.append("body")
    assert order == ["body", "work"]


def test_beside_reports_the_childs_failure_with_its_traceback():
    import pytest

    from netbootsim.runtime import ChildFailed, beside

    def work():
        raise KeyError("no such figure")

    with pytest.raises(ChildFailed, match="KeyError: 'no such figure'"):
        with beside(work):
            pass


def test_beside_kills_the_child_when_the_body_fails(tmp_path):
    # the child would sleep 60 s then write; the body fails at once: the child is killed
    # and reaped before the exception leaves, and never writes
    import time

    import pytest

    from netbootsim.runtime import beside

    mark = tmp_path / "late"

    def work():
        time.sleep(60)
        mark.write_text("late")

    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="body"):
        with beside(work):
            raise RuntimeError("body failed")
    assert time.monotonic() - t0 < 30 and not mark.exists()


def test_beside_hands_back_what_the_work_returned_in_both_modes():
    # the child's pid comes back through the pipe: another process's (forked), this
    # one's (not forked); a value larger than a pipe's buffer (64 KiB) comes back whole
    import os

    from netbootsim.runtime import beside

    with beside(lambda: (os.getpid(), "x" * 200_000)) as forked:
        assert forked.value is None  # not before the with has ended
    with beside(lambda: (os.getpid(), "y"), fork=False) as here:
        pass
    assert forked.value[0] != os.getpid() and len(forked.value[1]) == 200_000
    assert here.value == (os.getpid(), "y")


def test_warm_runs_its_job_in_a_process_that_imported_its_modules_first():
    # colorsys: a standard module nothing here imports; the job (eval, a builtin: it
    # pickles by name) asks the child whether it has it, and for its pid
    from netbootsim.runtime import Warm

    with Warm(("colorsys",)) as warm:
        pid = warm.pid
        with warm.beside(eval, "('colorsys' in __import__('sys').modules, "
                               "__import__('os').getpid())") as got:
            pass
        assert got.value == (True, pid) and pid != os.getpid()
        assert warm.pid is None
        with pytest.raises(RuntimeError, match="no job"):
            with warm.beside(eval, "1"):
                pass


def test_warm_reports_the_jobs_failure_and_a_failed_import():
    from netbootsim.runtime import ChildFailed, Warm

    with pytest.raises(ChildFailed, match="ZeroDivisionError"):
        with Warm(()).beside(eval, "1 / 0"):
            pass
    with pytest.raises(ChildFailed, match="No module named 'no_such_module_here'"):
        with Warm(("no_such_module_here",)).beside(eval, "1"):
            pass


def test_warm_kills_its_child_when_the_body_fails_or_it_is_closed():
    from netbootsim.runtime import Warm

    warm = Warm(())
    pid = warm.pid
    with pytest.raises(KeyError):
        with warm.beside(eval, "__import__('time').sleep(60)"):
            raise KeyError("the body failed")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and waited for: gone
    closed = Warm(())
    pid = closed.pid
    closed.close()
    closed.close()  # (twice: nothing more to do)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)

