"""``each_site: true`` (netbootsim/scenario/each_site.py): an entry written once per site.

The bad-input corpus holds the user's mistakes (tests/data/bad/each-site-*.yaml,
site-placeholder-outside-template.yaml); here: that a templated scenario is the scenario
written out site by site, that overrides and variants address the template, and the
expansion's invariants over any number of sites.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.api import simulate_scenario
from netbootsim.scenario import Scenario
from netbootsim.scenario.each_site import _fill, expand_sites
from netbootsim.scenario.source import Origin
from netbootsim.topology import site_names


def _base(sites: int = 2) -> dict:
    return {
        "topology": {"shape": "multi-site", "sites": sites, "racks": 1, "servers_per_rack": 3,
                     "wans": [{"bandwidth": "100Mbps", "latency": "20ms"},
                              {"bandwidth": "1Gbps", "latency": "5ms"}],
                     "hosts": [{"name": "central1"}]},
        "services": {"http1": {"kind": "http", "host": "central1"}},
        "images": {"kernel": {"size": "12MiB"}, "initrd": {"size": "32MiB"}},
        "costs": {"currency": "EUR", "services": {"http1": 100}},
        "run": {"seed": 3},
    }


def templated(sites: int = 2) -> dict:
    sc = _base(sites)
    sc["topology"]["hosts"].append(
        {"name": "{site}-boot", "each_site": True, "attach": "{site}-rtr"})
    sc["services"]["dhcp-{site}"] = {"kind": "dhcp", "each_site": True, "host": "{site}-boot"}
    sc["services"]["tftp-{site}"] = {"kind": "tftp", "each_site": True, "host": "{site}-boot"}
    sc["fleet"] = [{"name": "servers-{site}", "each_site": True, "count": 3,
                    "racks": ["{site}-rack01"], "boot": "ipxe", "server": "http1",
                    "dhcp": "dhcp-{site}", "images": ["kernel", "initrd"],
                    "tune": {"post": {"dist": "uniform", "low": "10s", "high": "20s"}}}]
    sc["costs"]["services"]["tftp-{site}"] = 7
    sc["costs"]["egress_gb"] = {"{site}-rtr--dc-rtr": 0.5}
    return sc


def written_out() -> dict:
    sc = _base(2)
    for site in ("s01", "s02"):
        sc["topology"]["hosts"].append({"name": f"{site}-boot", "attach": f"{site}-rtr"})
        sc["services"][f"dhcp-{site}"] = {"kind": "dhcp", "host": f"{site}-boot"}
        sc["services"][f"tftp-{site}"] = {"kind": "tftp", "host": f"{site}-boot"}
    sc["fleet"] = [{"name": f"servers-{site}", "count": 3, "racks": [f"{site}-rack01"],
                    "boot": "ipxe", "server": "http1", "dhcp": f"dhcp-{site}",
                    "images": ["kernel", "initrd"],
                    "tune": {"post": {"dist": "uniform", "low": "10s", "high": "20s"}}}
                   for site in ("s01", "s02")]
    sc["costs"]["services"].update({"tftp-s01": 7, "tftp-s02": 7})
    sc["costs"]["egress_gb"] = {"s01-rtr--dc-rtr": 0.5, "s02-rtr--dc-rtr": 0.5}
    return sc


def test_templated_scenario_runs_as_the_one_written_out_site_by_site():
    # Same entries in the same order (each copy stands where its template stood), so the
    # same servers, the same draws, the same records: summaries equal to the byte.
    a = simulate_scenario(templated())
    b = simulate_scenario(written_out())
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    assert a.servers.equals(b.servers)
    assert sorted(a.servers["group"].unique()) == ["servers-s01", "servers-s02"]
    assert a.summary["costs"] == b.summary["costs"]
    # the priced copies, by hand: http1 100 + "tftp-{site}" 7 at each of the 2 sites; the
    # "{site}-rtr--dc-rtr" egress at each site: its 3 servers' 12 + 32 MiB over the WAN,
    # 3 x 44 x 2**20 B = 0.1384 GB of payload, plus headers (a few %)
    items = {(i["what"], i["name"]): i for i in a.summary["costs"]["items"]}
    assert [items["service", n]["amount"] for n in ("http1", "tftp-s01", "tftp-s02")] == \
        [100.0, 7.0, 7.0]
    for site in ("s01", "s02"):
        gb = items["egress", f"{site}-rtr--dc-rtr"]["quantity"]
        assert 3 * 44 * 2**20 / 1e9 < gb < 1.1 * 3 * 44 * 2**20 / 1e9


def test_an_override_of_the_template_reaches_every_copy():
    sc = Scenario.from_dict(templated(), overrides=["fleet[0].server=tftp-{site}",
                                                     "fleet[0].boot=pxe"])
    assert [(g.name, g.server, g.dhcp) for g in sc.fleet] == [
        ("servers-s01", "tftp-s01", "dhcp-s01"), ("servers-s02", "tftp-s02", "dhcp-s02")]


def test_entries_after_a_template_keep_their_own_lines():
    # A plain group after a template moves from fleet[1] to fleet[2] (two sites): its
    # problems are still named fleet[1], the path the file writes.
    tree = templated()
    tree["fleet"].append({"name": "extra", "count": 1, "racks": ["s02-rack01"],
                          "server": "nowhere", "boot": "ipxe", "images": ["kernel"]})
    origin = Origin("<dict>")
    assert expand_sites(tree, origin) == []
    assert [g["name"] for g in tree["fleet"]] == ["servers-s01", "servers-s02", "extra"]
    assert origin.source_path(("fleet", 2, "server")) == ("fleet", 1, "server")
    assert origin.source_path(("fleet", 1, "racks", 0)) == ("fleet", 0, "racks", 0)
    assert origin.source_path(("services", "dhcp-s02", "host")) == \
        ("services", "dhcp-{site}", "host")


def test_an_ipxe_setting_named_site_is_left_alone():
    assert _fill({"script": "echo ${site} at {site}", "n": [1, "{site}"]}, "s07") == \
        {"script": "echo ${site} at s07", "n": [1, "s07"]}


@settings(max_examples=40, deadline=None)
@given(sites=st.integers(1, 120), plain_before=st.integers(0, 2), plain_after=st.integers(0, 2))
def test_expansion_invariants(sites, plain_before, plain_after):
    # For any number of sites: every template becomes one copy per site in its place,
    # named by its site; plain entries keep their order; no {site} is left; every
    # entry's path leads back to the file's.
    tree = templated(sites)
    plain = [{"name": f"p{i}", "count": 1} for i in range(plain_before + plain_after)]
    tree["fleet"] = plain[:plain_before] + tree["fleet"] + plain[plain_before:]
    before = copy.deepcopy(tree)
    origin = Origin("<dict>")
    assert expand_sites(tree, origin) == []
    names = site_names(sites)
    assert len(set(names)) == sites
    expect = ([f"p{i}" for i in range(plain_before)] + [f"servers-{s}" for s in names]
              + [f"p{i}" for i in range(plain_before, plain_before + plain_after)])
    assert [g["name"] for g in tree["fleet"]] == expect
    assert "{site}" not in json.dumps(tree)
    assert [h["name"] for h in tree["topology"]["hosts"]] == \
        ["central1", *(f"{s}-boot" for s in names)]
    assert list(tree["services"]) == ["http1", *(f"dhcp-{s}" for s in names),
                                      *(f"tftp-{s}" for s in names)]
    for i, group in enumerate(tree["fleet"]):
        src = origin.source_path(("fleet", i))
        written = before["fleet"][src[1]]
        assert written["name"] == group["name"] or \
            written["name"].replace("{site}", group["racks"][0].split("-")[0]) == group["name"]


def test_a_problem_in_an_entry_after_a_template_is_named_at_its_own_line(tmp_path):
    # fleet[0] is a template (2 copies), fleet[1] a plain group with an unknown server:
    # after expansion it is fleet[2]; its problem must be named fleet[1] at its line
    # line, not at the template's (the path fleet[1] of the file is itself an
    # expanded path, a copy's: it must not be translated a second time).
    from netbootsim.errors import InputError
    from netbootsim.scenario import load_scenario

    tree = templated()
    tree["fleet"].append({"name": "extra", "count": 1, "racks": ["s02-rack01"],
                          "server": "nowhere", "boot": "ipxe", "images": ["kernel"]})
    text = json.dumps(tree, indent=1)  # (JSON is YAML: one field a line)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "nowhere" in t)
    with pytest.raises(InputError) as e:
        load_scenario(path)
    (p,) = [p for p in e.value.problems if "nowhere" in p.message]
    assert (p.field, p.line) == ("fleet[1].server", line)
