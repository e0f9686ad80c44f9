"""The scenario's ``costs:`` section: the user's prices, summed beside the run's times."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ruamel.yaml import YAML
from small_scenarios import cli_refuses, scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError

PRICES = {"currency": "EUR", "servers": {"g": 100}, "services": {"http1": 50.5},
          "links": {"tor01--boot1": 10}, "egress_gb": {"http1": 0.05}}


def priced(**costs) -> dict:
    sc = scenario(servers=2)
    sc["fleet"][0]["count"] = 2
    sc["costs"] = costs or PRICES
    return sc


def test_the_total_is_the_priced_items_by_hand():
    # 2 servers x 100 + one http1 x 50.5 + one link x 10 + what http1 served, the two
    # servers' 8 MiB kernel and 32 MiB initrd: 2 x 40 MiB = 83,886,080 B = 0.08388608 GB
    # x 0.05 = 0.004194304. Total 260.504194304 EUR.
    c = simulate_scenario(priced()).summary["costs"]
    assert c["currency"] == "EUR"
    assert [(i["what"], i["name"], i["quantity"], i["amount"]) for i in c["items"]] == [
        ("servers", "g", 2.0, 200.0), ("service", "http1", 1.0, 50.5),
        ("link", "tor01--boot1", 1.0, 10.0),
        ("egress", "http1", pytest.approx(0.08388608), pytest.approx(0.004194304))]
    assert c["total"] == pytest.approx(260.504194304)


def test_link_egress_counts_the_wire_bytes_both_ways_and_replications_average():
    one = simulate_scenario(priced(egress_gb={"tor01--boot1": 1.0})).summary["costs"]
    (item,) = one["items"]
    assert item["unit"] == "GB carried"
    # the payload plus its TCP/IP headers and the requests: a little over 0.0839 GB
    assert 0.08388608 < item["quantity"] < 0.08388608 * 1.1
    reps = simulate_scenario(priced(), replications=2).summary["costs"]
    assert reps["total"] == pytest.approx(260.504194304)


def test_unpriced_runs_have_no_cost():
    res = simulate_scenario(scenario(servers=1))
    assert "costs" not in res.summary


@pytest.mark.parametrize("costs, field, words", [
    ({"servers": {"g": -1}}, "costs.servers.g", "must be ≥ 0"),
    ({"servers": {"gg": 1}}, "costs.servers.gg", "unknown fleet group 'gg'"),
    ({"services": {"http9": 1}}, "costs.services.http9", "unknown service 'http9'"),
    ({"links": {"tor01--boot9": 1}}, "costs.links.tor01--boot9", "unknown link"),
    ({"egress_gb": {"nowhere": 1}}, "costs.egress_gb.nowhere", "unknown service or link"),
])
def test_bad_prices_are_refused(costs, field, words):
    with pytest.raises(InputError) as e:
        simulate_scenario(priced(**costs))
    text = str(e.value.problems[0])
    assert field in text and words in text


def sites_scenario(**costs) -> dict:
    # two sites (s01, s02) of one rack of 2 servers behind 1 Gb/s WAN links
    return {"topology": {"shape": "multi-site", "sites": 2, "racks": 1,
                         "servers_per_rack": 2, "wan": {"bandwidth": "1Gbps",
                                                        "latency": "20ms"},
                         "hosts": [{"name": "central"}]},
            "services": {"dhcp1": {"kind": "dhcp", "host": "central", "ping": False},
                         "http1": {"kind": "http", "host": "central", "model": "nginx"}},
            "images": {"kernel": {"size": "8MiB"}},
            "fleet": [{"name": "g", "count": 4, "boot": "ipxe", "images": ["kernel"],
                       "server": "http1"}],
            "costs": costs}


def test_sites_are_priced_one_by_one_or_each_alike():
    # s01 at 300, and 120 for each of the 2 sites: 300 + 2 x 120 = 540
    c = simulate_scenario(sites_scenario(sites={"s01": 300}, each_site=120)).summary["costs"]
    assert [(i["what"], i["name"], i["quantity"], i["amount"]) for i in c["items"]] == [
        ("site", "s01", 1.0, 300.0), ("sites", "each site", 2.0, 240.0)]
    assert c["total"] == 540.0


def test_unknown_sites_and_sites_without_a_multi_site_topology_are_refused(tmp_path):
    with pytest.raises(InputError) as e:
        simulate_scenario(sites_scenario(sites={"s03": 1}))
    text = str(e.value.problems[0])
    assert "costs.sites.s03" in text and "unknown site 's03'" in text and "s01, s02" in text
    assert "costs.sites.s03: unknown site" in cli_refuses(sites_scenario(sites={"s03": 1}),
                                                          tmp_path)
    with pytest.raises(InputError) as e:
        simulate_scenario(priced(each_site=5))
    assert "costs.each_site: the topology has no sites" in str(e.value.problems[0])


def test_cli_bad_price_exit_2_with_the_line_and_nothing_written(tmp_path):
    f = tmp_path / "s.yaml"
    YAML().dump(priced(servers={"g": -5}), f)
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "netbootsim", "run", str(f), "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    line = p.stderr.strip().splitlines()[0]
    assert line.startswith(f"{f}:") and "costs.servers.g" in line
    assert not out.exists()


def test_the_reports_show_the_cost(tmp_path):
    sc = priced()
    sc["variants"] = {"dearer": {"costs.services.http1": 101}, "base": {}}
    f = tmp_path / "s.yaml"
    YAML().dump(sc, f)
    out = tmp_path / "cmp"
    subprocess.run([sys.executable, "-m", "netbootsim", "compare", str(f), "--out", str(out)],
                   check=True, capture_output=True)
    md = (out / "compare.md").read_text()
    assert "| cost |" in md and "311.00 EUR" in md and "260.50 EUR" in md
    run = (out / "base" / "report.md").read_text()
    assert "## Cost" in run and "**260.50 EUR**" in run
