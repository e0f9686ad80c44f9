"""The registry of named service models: adding a model is one entry, and everyone reads it."""

import subprocess
import sys

import pytest

from netbootsim.api import simulate_scenario
from netbootsim.cli import main
from netbootsim.errors import InputError
from netbootsim.plan.assemble import run_built
from netbootsim.profiles import PROFILES
from netbootsim.scenario import Scenario, build
from netbootsim.services import registry
from netbootsim.services.registry import HTTP, KINDS, HttpModel

#: A model no shipped code knows: one worker, a backlog of one, 1 s keep-alive.
LIGHTTPD = HttpModel(name="lighttpd", description="{workers} worker, keep-alive "
                     "{keepalive:g} s, backlog {backlog}", sources=("made up for a test",),
                     workers=1, keepalive=1.0, backlog=1)


def scenario(**http):
    """Three servers fetching a 1 MiB kernel from ``http1``."""
    return {"topology": {"shape": "rack", "servers": 3, "hosts": [{"name": "boot1"}]},
            "services": {"http1": {"kind": "http", "host": "boot1", **http}},
            "images": {"kernel": {"size": "1MiB"}},
            "fleet": [{"name": "g", "count": 3, "images": ["kernel"], "server": "http1"}],
            "run": {"until": "10min"}}


@pytest.fixture
def lighttpd(monkeypatch):
    """``lighttpd`` registered as an HTTP model, for this test only."""
    monkeypatch.setitem(HTTP.models, "lighttpd", LIGHTTPD)
    return LIGHTTPD


def test_a_registered_model_validates_and_runs_with_its_defaults(lighttpd):
    sc = Scenario.from_dict(scenario(model="lighttpd"))
    svc = sc.services["http1"]
    assert (svc.model, svc.workers) == ("lighttpd", 1)
    assert "workers" not in svc.model_fields_set  # a default, not the text's
    run, inputs, _ = run_built(build(sc))
    spec = inputs.services["http1"]
    assert (spec.workers, spec.keepalive, spec.backlog) == (1, 1.0, 1)
    pool = run.workers["http1"]
    assert (pool.workers.capacity, pool.keepalive, pool.backlog) == (1, 1.0, 1)
    # one worker, held 1 s after each response, and room for one connection waiting:
    # the third server's first SYNs are dropped and re-sent on iPXE's timer until the
    # backlog has room again, and every server still boots
    summary = simulate_scenario(scenario(model="lighttpd")).summary
    http1 = summary["services"]["http1"]
    assert http1["limit"] == "1 workers" and http1["dropped_syns"] > 0
    assert (summary["completed"], summary["failed"]) == (3, 0)


def test_the_texts_values_win_over_the_models(lighttpd):
    sc = Scenario.from_dict(scenario(model="lighttpd", workers=4))
    assert sc.services["http1"].workers == 4


def test_an_unknown_model_names_the_registered_ones(lighttpd):
    with pytest.raises(InputError) as e:
        Scenario.from_dict(scenario(model="lighty"))
    assert [str(p) for p in e.value.problems] == [
        "<dict>: services.http1.model: unknown model 'lighty'; expected one of: "
        "apache-prefork, nginx, lighttpd"]


def test_without_the_entry_the_name_is_refused():
    assert "lighttpd" not in HTTP.models
    with pytest.raises(InputError, match="unknown model 'lighttpd'"):
        Scenario.from_dict(scenario(model="lighttpd"))


def test_models_lists_every_registry_entry(capsys, lighttpd):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for kind in KINDS.values():
        for m in kind.models.values():
            row = [ln for ln in lines if ln.startswith(f"{kind.label:13s} {m.name:22s} ")]
            assert len(row) == 1, (kind.name, m.name)
            assert m.line() in row[0] and row[0].endswith(f"[{'; '.join(m.sources)}]")
    assert any("lighttpd" in ln and "1 worker, keep-alive 1 s, backlog 1" in ln
               for ln in lines)


def test_each_kinds_default_is_one_of_its_models_and_every_value_has_a_source():
    assert list(KINDS) == ["tftp", "http", "dhcp", "api", "orchestrator", "dns", "lb", "iscsi",
                           "aoe", "fcoe"]
    for kind in KINDS.values():
        assert kind.default in kind.models
        for name, m in kind.models.items():
            assert m.name == name and m.sources and m.line()
            for f in (*m.SCENARIO, *m.BEHAVIOUR):
                assert hasattr(m, f)


def test_the_registry_imports_no_simpy():
    # the scenario layer reads it: importing it must not bring in the simulation
    code = f"import sys, {registry.__name__}; assert 'simpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_each_profile_names_its_ipxe_build():
    # the build a group's scripts are linted and run against, when the group sets none
    assert {n: p.build for n, p in PROFILES.items()} == {
        "ipxe-2019-qemu": "debian-2019", "ipxe-current": "master-default",
        "ipxe-current-bios": "all", "ipxe-current-efi": "all", "ipxe-current-arm64": "all",
        "ipxe-native-rtl8168": "master-default", "ipxe-undionly-rtl8168": "master-default",
        "pxe-rom": "all", "server-bios": "all", "server-coreboot-uefi": "all",
        "server-uefi-arm64": "all", "server-uefi": "all"}  # PXE clients: no iPXE build
