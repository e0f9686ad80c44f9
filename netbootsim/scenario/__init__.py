"""Scenario: a YAML file (or dict) of sections, loaded, defaulted, validated, then built.

Sections: ``topology``, ``services``, ``images``, ``fleet``, ``faults``, ``run``.
Quantities carry units in the text (``"25Gbps"``, ``"350MiB"``, ``"250us"``) and are SI
floats once validated. Every problem is reported at once, each as
``FILE:LINE: field.path: message`` (or ``--set TEXT: field: message``)::

    scenario = load_scenario("storm.yaml", overrides=["run.seed=7"])
    built = build(scenario)        # topology, services, images, servers, faults, run, seed
"""

from .build import BuiltScenario, build
from .load import Scenario, load_scenario
from .schema import (
    BOOT_PATHS,
    SHAPES,
    DhcpService,
    Fault,
    FleetGroup,
    HttpService,
    Image,
    Run,
    TftpService,
    TopologySection,
)

__all__ = [
    "BOOT_PATHS",
    "SHAPES",
    "BuiltScenario",
    "DhcpService",
    "Fault",
    "FleetGroup",
    "HttpService",
    "Image",
    "Run",
    "Scenario",
    "TftpService",
    "TopologySection",
    "build",
    "load_scenario",
]
