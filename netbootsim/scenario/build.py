"""Build: from a validated scenario to the objects a run needs.

The topology and the servers' places come from :mod:`.place`; every problem is
collected and raised together as an :class:`~netbootsim.errors.InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..topology import Topology
from .load import Scenario
from .place import allocate, build_topology, cost_target_checks, fault_target_checks
from .schema import Fault, FleetGroup, Image, Run

__all__ = ["BuiltScenario", "build"]


@dataclass
class BuiltScenario:
    """A scenario ready to run.

    Attributes:
        scenario: the validated scenario it was built from.
        topology: the network.
        services: services by name (SI values).
        images: images by name (``size`` in bytes).
        groups: fleet groups by name, in file order.
        servers: ``(server, group)`` pairs: groups in file order, servers in topology
            order within each.
        faults: faults in file order.
        run: the run settings (``out`` filled in).
        seed: the run's seed (``run.seed``).
    """

    scenario: Scenario
    topology: Topology
    services: dict
    images: dict[str, Image]
    groups: dict[str, FleetGroup]
    servers: list[tuple[str, str]]
    faults: list[Fault]
    run: Run
    seed: int


def build(scenario: Scenario) -> BuiltScenario:
    """Build a validated scenario.

    Raises:
        InputError: a problem only the built topology shows (each with its line).
    """
    placed = scenario.take_placed()  # what the checks built when it was loaded
    if placed is None:
        topo, issues = build_topology(scenario.topology)
        servers: list[tuple[str, str]] = []
        if topo is not None:
            servers, more = allocate(topo, list(enumerate(scenario.fleet)))
            issues += more + fault_target_checks(
                topo, list(enumerate(scenario.faults)),
                frozenset(g.name for g in scenario.fleet))
            issues += cost_target_checks(topo, scenario.costs, set(scenario.services))
        if issues or topo is None:
            raise InputError([scenario.origin.problem(p, m) for p, m in issues])
        placed = topo, servers
    topo, servers = placed
    return BuiltScenario(
        scenario=scenario, topology=topo, services=dict(scenario.services),
        images=dict(scenario.images), groups={g.name: g for g in scenario.fleet},
        servers=servers, faults=list(scenario.faults), run=scenario.run,
        seed=scenario.run.seed)
