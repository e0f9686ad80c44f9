"""The scenario's ``costs:`` section: the user's prices, summed beside the run's times."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ruamel.yaml import YAML
from small_scenarios import scenario

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
