"""Scenario: load → override → validate → build, each error as FILE:LINE: field: message."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.cli import main
from netbootsim.errors import InputError
from netbootsim.scenario import Scenario, build, load_scenario
from netbootsim.topology import Topology

DATA = Path(__file__).parents[1] / "data" / "scenarios"
MINIMAL = (DATA / "minimal_rack.yaml").read_text()
# minimal_rack.yaml, line by line:
#  1 topology:            6 services:                       11   - name: compute
#  2   shape: rack        7   http1: {kind: http, ...}      12     count: 4
#  3   servers: 4         8 images:                         13     images: [kernel]
#  4   hosts:             9   kernel: {size: 12MiB}         14     server: http1
#  5     - {name: boot1} 10 fleet:
UNITS = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"


def problems_of(path, overrides=()):
    """Every problem line that validating and building ``path`` reports."""
    with pytest.raises(InputError) as e:
        build(load_scenario(path, overrides=overrides))
    return [str(p) for p in e.value.problems]


def edited(tmp_path, old, new, text=MINIMAL):
    assert old in text
    f = tmp_path / "s.yaml"
    f.write_text(text.replace(old, new))
    return f


# -- valid scenarios and defaults ------------------------------------------------------------


def test_minimal_loads_with_defaults_filled():
    s = load_scenario(DATA / "minimal_rack.yaml")
    assert s.name == "minimal_rack"
    # topology.server_link default: 25 Gb/s = 3.125e9 B/s, 1 us
    assert s.topology.server_link.bandwidth == 3.125e9
    assert s.topology.server_link.latency == pytest.approx(1e-6)
    assert s.topology.server_link.loss == 0 and s.topology.nics == 1
    http = s.services["http1"]
    assert (http.model, http.workers, http.disk_rate) == ("apache-prefork", 256, None)
    g = s.fleet[0]
    assert (g.boot, g.profile, g.racks) == ("ipxe", "ipxe-current", None)
    assert (g.power_on.at, g.power_on.per_second) == (0.0, None)
    assert s.images["kernel"].size == 12 * 2**20
    assert s.faults == []
    r = s.run
    # run.until: the default horizon, 7 days (netbootsim.clock.DEFAULT_HORIZON)
    assert (r.seed, r.engine, r.full_recompute, r.until) == (1, "flow", False, 604800.0)
    assert r.out == "results/minimal_rack"


def test_model_defaults_and_si_values():
    s = load_scenario(DATA / "leaf_spine.yaml")
    assert s.services["tftp1"].max_sessions == 50  # dnsmasq --tftp-max default
    assert s.services["http1"].workers == 512  # nginx: 1 worker process x 512 connections
    assert s.services["http1"].disk_rate == 2e9  # 2GB/s is bytes
    assert s.fleet[1].profile == "pxe-rom"  # default for boot: pxe
    assert s.fleet[0].power_on.at == 1.0 and s.fleet[0].power_on.per_second == 10
    assert s.faults[0].duration == 20.0
    assert s.run.until == 7200.0 and s.run.seed == 7


def test_build_leaf_spine():
    b = build(load_scenario(DATA / "leaf_spine.yaml"))
    assert isinstance(b.topology, Topology)
    assert b.seed == 7 and b.run.seed == 7
    assert b.topology.hosts() == ["boot1"]
    assert len(b.topology.nodes_of("spine")) == 2  # default spines
    assert b.servers == [
        ("r01s001", "compute"), ("r01s002", "compute"), ("r01s003", "compute"),
        ("r01s004", "compute"), ("r02s001", "compute"), ("r02s002", "compute"),
        ("r02s003", "legacy"), ("r02s004", "legacy")]
    assert list(b.groups) == ["compute", "legacy"]
    assert set(b.services) == {"tftp1", "http1", "dhcp1"}
    # uplink 100 Gb/s between tor01 and spine1
    ab, _ = b.topology.links()["tor01--spine1"]
    assert ab.capacity == 12.5e9


def test_build_remote_site():
    b = build(load_scenario(DATA / "remote_site.yaml"))
    ab, ba = b.topology.links()["site-rtr--dc-rtr"]
    assert (ab.capacity, ab.latency, ab.loss) == (1.25e8, 0.01, 0.001)
    assert b.topology.graph.out_degree("r01s001") == 2  # nics: 2
    assert b.faults[0].value == 0.01 and b.faults[0].duration == 60
    assert b.services["tftp1"].block_cost == pytest.approx(20e-6)


def test_build_custom_with_reverse_link_and_racks():
    b = build(load_scenario(DATA / "custom.yaml"))
    ab, ba = b.topology.links()["uplink"]
    assert (ab.capacity, ba.capacity) == (1.25e9, 1.25e8)
    assert ab.latency == ba.latency == 0.001
    assert b.topology.domain_of("boot1") == "vlan10"  # joins r1's home domain
    # group b is restricted to rackB, group a takes what is left
    assert b.servers == [("s2", "b"), ("s1", "a")]
    assert b.services["tftp1"].max_sessions is None  # model: unlimited


# -- one error each, with its exact line ----------------------------------------------------


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("kernel: {size: 12MiB}", "kernel: {size: 12MiB, sha: x}",
         "9: images.kernel.sha: unknown field 'sha'; expected one of: size, script"),
        ("{kind: http, host: boot1}", "{kind: http, hots: boot1, host: boot1}",
         "7: services.http1.hots: unknown field 'hots' (did you mean 'host'?); expected one "
         "of: kind, host, model, workers, disk_rate, https, trusted, origin, cache, inactive, "
         "coalesce, fallback, tls, tcp_cc"),
        ("size: 12MiB", "size: 12Mib",
         f"9: images.kernel.size: '12Mib': unknown size unit 'Mib'; known: {UNITS}"),
        ("size: 12MiB", "size: 12",
         f"9: images.kernel.size: 12 has no unit; write the size with one of: {UNITS}"),
        ("images: [kernel]", "images: [kernal]",
         "13: fleet[0].images[0]: unknown image 'kernal' (did you mean 'kernel'?); images: "
         "kernel"),
        ("count: 4", "count: -1", "12: fleet[0].count: must be ≥ 1; got -1"),
        ("count: 4", "count: 0", "12: fleet[0].count: must be ≥ 1; got 0"),
        ("count: 4", "count: '4'", "12: fleet[0].count: expected an integer, got '4'"),
        ("count: 4", "count: 5",
         "12: fleet[0].count: asks for 5 servers but only 4 are free (the topology has 4; "
         "earlier groups took 0)"),
        ("server: http1", "server: http1\n    boot: pex",
         "15: fleet[0].boot: unknown boot path 'pex'; expected one of: pxe, "
         "pxe-chainload-ipxe, ipxe"),
        ("server: http1", "server: http1\n    profile: ipxe-2020",
         "15: fleet[0].profile: unknown firmware profile 'ipxe-2020' (did you mean "
         "'ipxe-2019-qemu'?); known: ipxe-2019-qemu, ipxe-current-arm64, ipxe-current-bios, "
         "ipxe-current-efi, ipxe-current, ipxe-native-rtl8168, ipxe-undionly-rtl8168, pxe-rom, "
         "server-bios, server-coreboot-uefi, server-uefi-arm64, server-uefi"),
        ("server: http1", "server: http1\n    boot: pxe",
         "14: fleet[0].server: boot path 'pxe' fetches over TFTP only, but 'http1' is an "
         "http service"),
        ("server: http1", "server: http2",
         "14: fleet[0].server: unknown service 'http2' (did you mean 'http1'?); services: "
         "http1"),
        ("host: boot1}", "host: boot2}",
         "7: services.http1.host: unknown host 'boot2' (did you mean 'boot1'?); hosts: boot1"),
        ("kind: http,", "kind: ftp,",
         "7: services.http1: unknown kind 'ftp'; expected one of: tftp, http, dhcp, api, "
         "orchestrator, dns, lb, iscsi, aoe, fcoe"),
        ("{name: boot1}", "{name: boot1, attach: tor9}",
         "5: topology.hosts[0].attach: unknown node 'tor9' (did you mean 'tor01'?)"),
        ("{name: boot1}", "{name: boot1}\n  links:\n    - {a: tor01, b: rtr9, bandwidth: 1Gbps}",
         "7: topology.links[0].b: unknown node 'rtr9'"),
        ("{name: boot1}", "{name: boot1}\n  server_link: {bandwidth: 10Gbps, latency: 5}",
         "6: topology.server_link.latency: 5 has no unit; write the time with one of: ns, "
         "us, ms, s, min, h"),
        ("{name: boot1}", "{name: boot1}\n  server_link: {bandwidth: 0Gbps}",
         "6: topology.server_link.bandwidth: '0Gbps' must be > 0"),
        ("shape: rack", "shape: rak",
         "2: topology.shape: unknown topology shape 'rak'; expected one of: rack, leaf-spine, "
         "remote-site, multi-site, custom"),
        ("shape: rack", "shape: leaf-spine\n  racks: 1\n  servers_per_rack: 4\n"
         "  oversubscription: 2",
         "6: topology.servers: not used by shape 'leaf-spine'; use racks and servers_per_rack"),
        ("servers: 4", "servers: 4\n  wan: {bandwidth: 1Gbps}",
         "4: topology.wan: not used by shape 'rack'"),
        ("servers: 4", "servers: 4\n  wans: [{bandwidth: 1Gbps}]",
         "4: topology.wans: not used by shape 'rack'"),
        ("shape: rack\n  servers: 4", "shape: multi-site\n  sites: 2\n  racks: 1\n"
         "  servers_per_rack: 2\n  wan: {bandwidth: 1Gbps}\n  wans: [{bandwidth: 1Gbps}]",
         "7: topology.wans: give wan (every site's) or wans (the sites' in turn), not both"),
        ("fleet:", "run: {engine: flow, seed: -2}\nfleet:",
         "10: run.seed: must be ≥ 0; got -2"),
    ],
)
def test_single_error_line(tmp_path, old, new, expected):
    f = edited(tmp_path, old, new)
    assert problems_of(f) == [f"{f}:{expected}"]


def test_missing_section_and_field(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(MINIMAL.split("fleet:")[0].replace("    - {name: boot1}", "    - {}"))
    assert problems_of(f) == [
        f"{f}:1: fleet: required section missing",
        f"{f}:5: topology.hosts[0].name: required field missing",
        f"{f}:7: services.http1.host: unknown host 'boot1'; hosts: none declared",
    ]


def test_leaf_spine_needs_exactly_one_uplink_form(tmp_path):
    f = edited(tmp_path, "shape: rack\n  servers: 4",
               "shape: leaf-spine\n  racks: 1\n  servers_per_rack: 4")
    assert problems_of(f) == [
        f"{f}:1: topology.uplink: give exactly one of uplink and oversubscription"]


def test_duplicate_names(tmp_path):
    text = MINIMAL + "  - {name: compute, count: 1, images: [kernel], server: http1}\n"
    f = edited(tmp_path, "{name: boot1}", "{name: boot1}\n    - {name: boot1}", text)
    assert problems_of(f) == [
        f"{f}:6: topology.hosts[1].name: duplicate node name 'boot1' (first at "
        "topology.hosts[0].name)",
        f"{f}:16: fleet[1].name: duplicate group name 'compute' (first at fleet[0].name)",
    ]


def test_host_named_like_a_generated_node(tmp_path):
    f = edited(tmp_path, "{name: boot1}", "{name: boot1}\n    - {name: r01s001}")
    assert problems_of(f) == [
        f"{f}:6: topology.hosts[1].name: 'r01s001' is already a node of the rack topology"]


def test_second_group_runs_out_of_servers_and_unknown_rack(tmp_path):
    text = MINIMAL.replace("count: 4", "count: 3") + (
        "  - {name: more, count: 2, racks: [rack01, rack9], images: [kernel], "
        "server: http1}\n")
    f = tmp_path / "s.yaml"
    f.write_text(text)
    assert problems_of(f) == [
        f"{f}:15: fleet[1].count: asks for 2 servers but only 1 are free in racks rack01, "
        "rack9 (the topology has 4; earlier groups took 3)",
        f"{f}:15: fleet[1].racks[1]: unknown rack 'rack9' (did you mean 'rack01'?); "
        "racks: rack01",
    ]


def test_faults_checked_against_services_and_links(tmp_path):
    text = MINIMAL + (
        "faults:\n"
        "  - {kind: service-down, target: http9, at: 1s}\n"
        "  - {kind: link-down, target: tor01--r01s009, at: 1s, value: 0.5}\n"
        "  - {kind: loss, target: tor01--r01s001, at: 1s}\n")
    f = tmp_path / "s.yaml"
    f.write_text(text)
    assert problems_of(f) == [
        f"{f}:16: faults[0].target: unknown service 'http9' (did you mean 'http1'?); "
        "services: http1",
        f"{f}:17: faults[1].target: unknown link 'tor01--r01s009' (did you mean "
        "'tor01--r01s004'?); links are named like 'tor01--r01s001'",
        f"{f}:17: faults[1].value: not used by a link-down fault",
        f"{f}:18: faults[2].value: required for a loss fault (a probability)",
    ]


def test_many_errors_all_reported():
    f = DATA / "many_errors.yaml"
    assert problems_of(f) == [f"{f}:{line}" for line in [
        "5: topology.server_link.bandwidth: required field missing",
        "5: topology.server_link.bandwith: unknown field 'bandwith' (did you mean "
        "'bandwidth'?); expected one of: bandwidth, latency, loss, jitter",
        "10: services.tftp1.host: unknown host 'boot2' (did you mean 'boot1'?); hosts: boot1",
        "10: services.tftp1.max_sessions: must be ≥ 1; got 0",
        "11: services.http1: unknown kind 'htp'; expected one of: tftp, http, dhcp, api, "
        "orchestrator, dns, lb, iscsi, aoe, fcoe",
        f"13: images.kernel.size: 12 has no unit; write the size with one of: {UNITS}",
        f"14: images.initrd.size: '80Mb': unknown size unit 'Mb'; known: {UNITS}",
        "17: fleet[0].count: must be ≥ 1; got -1",
        "18: fleet[0].boot: unknown boot path 'pex'; expected one of: pxe, "
        "pxe-chainload-ipxe, ipxe",
        "19: fleet[0].profile: unknown firmware profile 'ipxe-2020' (did you mean "
        "'ipxe-2019-qemu'?); known: ipxe-2019-qemu, ipxe-current-arm64, ipxe-current-bios, "
        "ipxe-current-efi, ipxe-current, ipxe-native-rtl8168, ipxe-undionly-rtl8168, pxe-rom, "
        "server-bios, server-coreboot-uefi, server-uefi-arm64, server-uefi",
        "20: fleet[0].images[1]: unknown image 'initrdd' (did you mean 'initrd'?); images: "
        "initrd, kernel",
        "22: run.speed: unknown field 'speed' (did you mean 'seed'?); expected one of: seed, "
        "engine, full_recompute, buffer, host_queue, until, out, deadline, replications, "
        "until_ci, max_replications",
    ]]


# -- bad files --------------------------------------------------------------------------------


def test_yaml_syntax_error_has_its_line():
    f = DATA / "syntax_error.yaml"
    assert problems_of(f) == [
        f"{f}:6: YAML syntax error: expected ',' or ']', but got '{{' (while parsing a flow "
        "sequence started on line 5)"]


def test_duplicate_key_has_its_line():
    f = DATA / "duplicate_key.yaml"
    assert problems_of(f) == [
        f"{f}:7: services.http1: duplicate key 'http1': a key may appear only once in a "
        "mapping"]


@pytest.mark.parametrize(
    "content,expected",
    [
        ("", "empty scenario; expected a mapping with the sections topology, services, "
             "images, fleet, faults, run"),
        ("# only a comment\n", "empty scenario; expected a mapping with the sections "
                              "topology, services, images, fleet, faults, run"),
        ("- a\n- b\n", "1: the top level must be a mapping of sections (topology, services, "
                       "images, fleet, faults, events, run, costs, variants), got list"),
        ("just text\n", "1: the top level must be a mapping of sections (topology, services, "
                        "images, fleet, faults, events, run, costs, variants), got str"),
    ],
)
def test_not_a_scenario(tmp_path, content, expected):
    f = tmp_path / "s.yaml"
    f.write_text(content)
    sep = "" if expected[0].isdigit() else " "
    assert problems_of(f) == [f"{f}:{sep}{expected}"]


def test_unreadable_files(tmp_path):
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    assert problems_of(tmp_path) == [f"{tmp_path}: is a directory, not a scenario file"]
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b"topology: {shape: caf\xe9}\n")
    assert problems_of(f) == [f"{f}: not UTF-8 text (invalid continuation byte at byte 21)"]


# -- --set overrides ----------------------------------------------------------------------


def test_overrides_valid():
    s = load_scenario(DATA / "minimal_rack.yaml", overrides=[
        "run.seed=7",                                # section absent from the file
        "fleet[0].count=2", "fleet.0.count=3",       # both index forms; the last wins
        "topology.server_link.bandwidth=10Gbps",     # field with a default, absent
        "services.http1.workers=10",
        "images.kernel={size: 1MiB}",                # a flow mapping
        "fleet[0].images=[kernel, kernel]",
        "run.until=1h",
    ])
    assert s.run.seed == 7 and s.run.until == 3600
    assert s.fleet[0].count == 3
    assert s.topology.server_link.bandwidth == 1.25e9
    assert s.topology.server_link.latency == 0  # a new server_link: its own defaults
    assert s.services["http1"].workers == 10
    assert s.images["kernel"].size == 2**20
    assert s.fleet[0].images == ["kernel", "kernel"]
    assert [g for _, g in build(s).servers] == ["compute"] * 3


def test_overrides_may_add_entries_the_file_does_not_have():
    # a key under a mapping of values (tune:, absent from the file), and a whole new
    # service; both reported with their --set origin if wrong
    s = load_scenario(DATA / "minimal_rack.yaml", overrides=[
        "fleet[0].tune.tftp_client_block_delay=2ms",
        "services.tftp2={kind: tftp, host: boot1}",
    ])
    assert dict(s.fleet[0].tune) == {"tftp_client_block_delay": "2ms"}
    assert s.services["tftp2"].kind == "tftp"
    assert problems_of(DATA / "minimal_rack.yaml", ["services.tftp2={kind: tftp}"]) == [
        "--set services.tftp2={kind: tftp}: services.tftp2.host: required field missing"]


def test_override_errors_are_reported_with_set_origin():
    f = DATA / "minimal_rack.yaml"
    assert problems_of(f, ["fleet[0].count=-1"]) == [
        "--set fleet[0].count=-1: fleet[0].count: must be ≥ 1; got -1"]
    assert problems_of(f, ["images.kernel.size=12"]) == [
        f"--set images.kernel.size=12: images.kernel.size: 12 has no unit; write the size "
        f"with one of: {UNITS}"]
    # the replaced subtree is no longer at its file line
    assert problems_of(f, ["images.kernel={size: 1MB, sha: x}"]) == [
        "--set images.kernel={size: 1MB, sha: x}: images.kernel.sha: unknown field 'sha'; "
        "expected one of: size, script"]
    assert problems_of(f, ["fleet[0].images=[nope]"]) == [
        "--set fleet[0].images=[nope]: fleet[0].images[0]: unknown image 'nope'; images: "
        "kernel"]


@pytest.mark.parametrize(
    "override,expected",
    [
        ("run.sed=3", "run.sed: unknown field 'sed' (did you mean 'seed'?); expected one of: "
                      "seed, engine, full_recompute, buffer, host_queue, until, out, "
                      "deadline, replications, until_ci, max_replications"),
        ("runn.seed=3", "runn: unknown field 'runn' (did you mean 'run'?); expected one of: "
                        "topology, services, images, fleet, faults, events, run, costs, variants"),
        ("fleet[3].count=1", "fleet[3]: index 3 out of range: fleet has 1 entries"),
        ("fleet.x.count=1", "fleet: fleet is a list; give an index, e.g. fleet[0]"),
        ("services.http9.workers=1", "services.http9: no entry 'http9' in services (did you "
                                     "mean 'http1'?); entries: http1 (to add one, set it "
                                     "whole: services.http9={...})"),
        ("services.http1.max_sessions=1", "services.http1.max_sessions: unknown field "
         "'max_sessions'; expected one of: kind, host, model, workers, disk_rate, https, "
         "trusted, origin, cache, inactive, coalesce, fallback, tls, tcp_cc"),
        ("run=[]", "run: expected a mapping, got []"),
        ("run.seed.x=1", "run.seed: run.seed is a value, not a section; it has no field 'x'"),
        ("run.seed", "expected KEY=VALUE, e.g. run.seed=7"),
        ("fleet[0.count=1", "malformed field path 'fleet[0.count'; write e.g. fleet[0].count "
                            "or run.seed"),
        ("run.seed=[1, 2", "run.seed: value '[1, 2' is not a YAML value: expected ',' or ']', "
                           "but got '<stream end>'"),
    ],
)
def test_bad_override_paths(override, expected):
    assert problems_of(DATA / "minimal_rack.yaml", [override]) == [f"--set {override}: {expected}"]


def test_override_and_file_problems_together():
    f = DATA / "many_errors.yaml"
    got = problems_of(f, ["fleet[0].count=2", "run={seed: 1}", "run.bogus=1"])
    assert "--set run.bogus=1: run.bogus: unknown field 'bogus'; expected one of: seed, " \
           "engine, full_recompute, buffer, host_queue, until, out, deadline, replications, " \
           "until_ci, max_replications" in got
    assert not any("count" in p or "speed" in p for p in got)  # both fixed by --set
    assert f"{f}:18: fleet[0].boot: unknown boot path 'pex'; expected one of: pxe, " \
           "pxe-chainload-ipxe, ipxe" in got


# -- dict form --------------------------------------------------------------------------------

DICT = {
    "topology": {"shape": "rack", "servers": 2, "hosts": [{"name": "boot1"}]},
    "services": {"tftp": {"kind": "tftp", "host": "boot1", "max_sessions": 200}},
    "images": {"nbp": {"size": "70KiB"}},
    "fleet": [{"name": "g", "count": 2, "boot": "pxe", "images": ["nbp"], "server": "tftp"}],
}


def test_from_dict():
    d = copy.deepcopy(DICT)
    s = Scenario.from_dict(d, overrides=["run.seed=3"])
    assert d == DICT  # not modified
    assert s.name == "scenario" and s.run.out == "results/scenario" and s.run.seed == 3
    assert s.services["tftp"].max_sessions == 200 and s.images["nbp"].size == 70 * 1024
    assert build(s).servers == [("r01s001", "g"), ("r01s002", "g")]
    assert Scenario.from_dict(DICT, source="lab/storm.yaml").name == "storm"


def test_from_dict_errors_name_the_source():
    d = copy.deepcopy(DICT)
    d["fleet"][0]["count"] = 0
    d["images"]["nbp"]["size"] = 70
    with pytest.raises(InputError) as e:
        Scenario.from_dict(d)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: fleet[0].count: must be ≥ 1; got 0",
        f"<dict>: images.nbp.size: 70 has no unit; write the size with one of: {UNITS}"]
    with pytest.raises(InputError, match=r"^<dict>: the top level must be a mapping"):
        Scenario.from_dict([1, 2])


def test_scenario_is_frozen():
    s = Scenario.from_dict(DICT)
    with pytest.raises(Exception, match="frozen"):
        s.run.seed = 5


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=False),
                  st.sampled_from(["", "x", "1Gbps", "10MiB", "1s", "tftp", "boot1", "rack"]))
_keys = st.sampled_from(["topology", "services", "images", "fleet", "faults", "run", "shape",
                         "servers", "hosts", "name", "kind", "host", "count", "images",
                         "server", "size", "seed", "links", "a", "b", "bandwidth", "x"])
_tree = st.recursive(_leaf, lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(_keys, kids, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _tree, max_size=6), st.lists(st.sampled_from(
    ["run.seed=2", "fleet[0].count=1", "topology.hosts[0].name=h", "services.x.kind=http",
     "fleet.0.images=[a]", "x=1", "topology=5"]), max_size=2))
def test_any_tree_gives_a_scenario_or_input_error(tree, overrides):
    try:
        build(Scenario.from_dict(tree, overrides=overrides))
    except InputError as e:
        assert e.problems and all(str(p) for p in e.problems)


# -- netbootsim validate ----------------------------------------------------------------------


def test_validate_command_ok(capsys):
    assert main(["validate", str(DATA / "leaf_spine.yaml"), "--set", "run.seed=3"]) == 0
    out, err = capsys.readouterr()
    assert out == (f"{DATA / 'leaf_spine.yaml'}: OK: 8 servers in 2 groups, 3 services, "
                   "3 images; leaf-spine topology with 14 nodes and 15 links\n")
    assert err == ""


def test_validate_command_reports_problems(capsys):
    f = DATA / "many_errors.yaml"
    assert main(["validate", str(f), "--set", "fleet[0].count=-5"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 12
    assert lines[0] == "--set fleet[0].count=-5: fleet[0].count: must be ≥ 1; got -5"
    assert all(line.startswith(f"{f}:") for line in lines[1:])


@pytest.mark.parametrize("name", ["syntax_error.yaml", "duplicate_key.yaml",
                                  "many_errors.yaml", "missing.yaml"])
def test_validate_subprocess_exit_2_without_traceback(name):
    r = subprocess.run([sys.executable, "-m", "netbootsim", "validate",
                        str(DATA / name)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith(str(DATA / name))
    assert r.stdout == ""


def test_service_kind_missing_or_not_a_mapping():
    d = copy.deepcopy(DICT)
    d["services"] = {"tftp": {"host": "boot1"}, "other": 5}
    with pytest.raises(InputError) as e:
        Scenario.from_dict(d)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: services.other: expected a mapping, got 5",
        "<dict>: services.tftp: required field 'kind' missing; one of: tftp, http, dhcp, api, "
        "orchestrator, dns, lb, iscsi, aoe, fcoe"]


def test_custom_shape_needs_attach_and_reports_topology_problems():
    d = copy.deepcopy(DICT)
    d["topology"] = {"shape": "custom", "hosts": [{"name": "boot1"}],
                     "nodes": [{"name": "s1", "kind": "server"}]}
    with pytest.raises(InputError) as e:
        Scenario.from_dict(d)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: topology.hosts[0].attach: required for shape 'custom' (there is no default "
        "switch)"]
    d["topology"]["hosts"][0]["attach"] = "s1"
    with pytest.raises(InputError) as e:
        Scenario.from_dict(d)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: topology.hosts[0].attach: cannot attach to 's1', a server; attach to a "
        "switch or router"]


def test_set_into_a_null_list_entry_is_reported_not_a_crash():
    # Found by hypothesis on a fresh clone: fleet: [null] with --set fleet[0].count=1.
    from netbootsim.errors import InputError
    from netbootsim.scenario import Scenario

    with pytest.raises(InputError) as e:
        Scenario.from_dict({"fleet": [None]}, overrides=["fleet[0].count=1"])
    assert "<dict>: fleet[0].name: required field missing" in str(e.value)
