"""Transfers: resources, flows, the pure max-min solver and the flow engine."""

from .engine import FlowEngine
from .flow import Flow, Resource
from .solver import Solution, maxmin

__all__ = ["FlowEngine", "Flow", "Resource", "Solution", "maxmin"]
