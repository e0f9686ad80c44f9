"""The collector settings of a run: paused_gc's young sweep and restored state."""

import gc
import weakref

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
