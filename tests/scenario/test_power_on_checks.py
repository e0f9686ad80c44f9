"""``power_on`` policies and orchestrators in scenario text: what is refused, what is meant."""

import pytest

from netbootsim.errors import InputError
from netbootsim.plan.assemble import fleet_inputs
from netbootsim.scenario import Scenario, build
from netbootsim.services.registry import ORCHESTRATOR


def base(**power_on) -> dict:
    """One rack of four servers fetching a kernel over HTTP, as a dict."""
    g = {"name": "g", "count": 4, "images": ["kernel"], "server": "http1"}
    if power_on:
        g["power_on"] = power_on
    return {"topology": {"shape": "rack", "servers": 8, "hosts": [{"name": "boot1"}]},
            "services": {"http1": {"kind": "http", "host": "boot1"}},
            "images": {"kernel": {"size": "12MiB"}},
            "fleet": [g]}


def problems(sc: dict) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as e:
        Scenario.from_dict(sc)
    return [(p.field, p.message) for p in e.value.problems]


def test_the_default_is_the_old_schedule():
    g = Scenario.from_dict(base(at="2s", per_second=4)).fleet[0]
    assert (g.power_on.policy, g.power_on.at, g.power_on.per_second) == (None, 2.0, 4.0)
    built = build(Scenario.from_dict(base(at="2s", per_second=4)))
    (grp,) = fleet_inputs(built).groups
    assert grp.power is None and (grp.power_on_at, grp.per_second) == (2.0, 4.0)


def test_a_policy_with_its_fields_is_assembled():
    built = build(Scenario.from_dict(base(policy="batches", at="1s", batch=2, every="30s")))
    (grp,) = fleet_inputs(built).groups
    assert (grp.power.kind, grp.power.at, grp.power.batch, grp.power.every) == \
        ("batches", 1.0, 2, 30.0)
    assert grp.power.orchestrator is None


def test_the_only_orchestrator_powers_every_group_on_by_default():
    sc = base()
    sc["services"]["conductor"] = {"kind": "orchestrator", "host": "boot1"}
    inputs = fleet_inputs(build(Scenario.from_dict(sc)))
    (grp,) = inputs.groups
    assert grp.power.kind is None and grp.power.orchestrator == "conductor"
    o = inputs.orchestrators["conductor"]
    ironic = ORCHESTRATOR.model("ironic")
    assert (o.power_workers, o.power_latency, o.power_time, o.step_workers, o.step_time) \
        == (ironic.power_workers, 5.0, 10.0, ironic.step_workers, 0.0)


def test_several_orchestrators_must_be_named():
    sc = base()
    sc["services"]["a"] = {"kind": "orchestrator", "host": "boot1"}
    sc["services"]["b"] = {"kind": "orchestrator", "host": "boot1", "model": "maas"}
    (p,) = problems(sc)
    assert p[0] == "fleet[0].power_on.orchestrator" and "several orchestrators (a, b)" in p[1]
    sc["fleet"][0]["power_on"] = {"orchestrator": "b"}
    (grp,) = fleet_inputs(build(Scenario.from_dict(sc))).groups
    assert grp.power.orchestrator == "b"


def test_fleet_wide_caps_must_agree():
    sc = base(policy="admission", max_booting=4, scope="fleet")
    sc["fleet"].append({"name": "h", "count": 4, "images": ["kernel"], "server": "http1",
                        "power_on": {"policy": "admission", "max_booting": 8,
                                     "scope": "fleet"}})
    (p,) = problems(sc)
    assert p[0] == "fleet[1].power_on.max_booting" and "the fleet-wide cap is 4" in p[1]


@pytest.mark.parametrize("power_on, field, text", [
    ({"policy": "random"}, "window", "required by policy 'random'"),
    ({"policy": "admission"}, "max_booting", "required by policy 'admission'"),
    ({"policy": "batches", "every": "1s"}, "batch", "required by policy 'batches'"),
    ({"policy": "per-rack", "per_second": 2, "interval": "1s"}, "per_second",
     "not used by policy 'per-rack'; per_second is for no policy"),
    ({"rack_interval": "1s", "max_booting": 3}, "max_booting",
     "not used without a policy; max_booting is for 'admission'"),
    ({"policy": "stagger", "interval": "1000h"}, "interval", "2**22 s"),
    ({"policy": "stagger", "interval": "400h"}, "interval",
     "the last server of the group would power on at 4320000 s, past 2**22 s"),
    ({"per_second": 0.0000001}, "per_second", "would power on at 30000000 s"),
    ({"orchestrator": "http1"}, "orchestrator", "is a http service, not an orchestrator"),
])
def test_each_field_belongs_to_its_policy(power_on, field, text):
    (p,) = problems(base(**power_on))
    assert p[0] == f"fleet[0].power_on.{field}" and text in p[1], p


def test_a_fault_of_an_orchestrator_is_refused():
    sc = base()
    sc["services"]["conductor"] = {"kind": "orchestrator", "host": "boot1"}
    sc["faults"] = [{"kind": "service-down", "target": "conductor", "at": "1s"}]
    (p,) = problems(sc)
    assert p == ("faults[0].target", "a service-down fault of an orchestrator is not "
                 "modelled (its power commands and steps are)")


def test_an_orchestrator_is_not_a_boot_service():
    sc = base()
    sc["services"]["conductor"] = {"kind": "orchestrator", "host": "boot1"}
    sc["fleet"][0]["server"] = "conductor"
    (p,) = problems(sc)
    assert p[0] == "fleet[0].server" and "orchestrator service" in p[1]
