"""Transfers: resources, flows, the pure max-min solver and the flow engines."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from .base import LATE, BaseEngine
from .engine import _VECTOR_FROM, FlowEngine
from .flow import Flow, Resource
from .reference import ReferenceEngine
from .solver import Solution, maxmin

__all__ = ["BaseEngine", "LATE", "FlowEngine", "ReferenceEngine", "make_engine", "Flow", "Resource",
           "Solution", "maxmin"]


def make_engine(env: simpy.Environment, *, full_recompute: bool = False,
                on_solve: Callable | None = None, vector_from: int = _VECTOR_FROM
                ) -> BaseEngine:
    """The flow engine of a run: the incremental one, or the reference if asked.

    Args:
        env: the SimPy environment.
        full_recompute: the reference (:class:`ReferenceEngine`, every flow re-solved on
            every event) instead of the incremental :class:`FlowEngine`.
        on_solve: observer called as ``on_solve(now, engine)`` whenever rates change.
        vector_from: the incremental engine's switch to the NumPy solver (classes).
    """
    if full_recompute:
        return ReferenceEngine(env, on_solve=on_solve)
    return FlowEngine(env, on_solve=on_solve, vector_from=vector_from)
