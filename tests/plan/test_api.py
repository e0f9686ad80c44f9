"""The Python entry point: a dict or a file gives what ``netbootsim run`` writes."""

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.plan.run import run_scenario

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"


def test_dict_and_file_give_the_run_commands_numbers(tmp_path):
    written = json.loads((run_scenario(str(QUICKSTART), [], str(tmp_path / "q"))
                          / "summary.json").read_text())
    data = YAML(typ="safe").load(QUICKSTART.read_text())
    from_dict = simulate_scenario(data, name="quickstart")
    from_file = simulate_scenario(QUICKSTART)
    # the same run: only the notes differ (the CLI adds per-profile and DHCP notes),
    # and a dict has no opening comment to take the question from
    for res, question in ((from_dict, ""), (from_file, written["question"])):
        s = res.summary
        assert s["question"] == question
        assert {k: v for k, v in s.items() if k not in ("notes", "question")} == \
               {k: v for k, v in written.items() if k not in ("notes", "question")}
        assert len(res.servers) == s["servers"] == 40
        assert set(res.phases["server"]) == set(res.servers["server"])
        assert {"time", "resource", "utilisation", "flows"} <= set(res.timeline.columns)


def test_overrides_apply():
    res = simulate_scenario(QUICKSTART, overrides=["fleet[0].count=10"])
    assert res.summary["servers"] == 10 and res.summary["scenario"] == "quickstart"


def test_dict_problems_name_the_field():
    data = YAML(typ="safe").load(QUICKSTART.read_text())
    data["fleet"][0]["count"] = -1
    with pytest.raises(InputError) as e:
        simulate_scenario(data)
    assert [str(p) for p in e.value.problems] == ["<dict>: fleet[0].count: must be ≥ 1; got -1"]


def test_warnings_reach_the_summary_from_the_api():
    # a loss of 0.5 (meant as 0.5 %?) is valid to the schema but implausible: a warning
    sc = {"topology": {"shape": "rack", "servers": 1, "hosts": [{"name": "boot1"}],
                       "server_link": {"bandwidth": "25Gbps", "loss": 0.5}},
          "services": {"http1": {"kind": "http", "host": "boot1"}},
          "images": {"kernel": {"size": "1MiB"}},
          "fleet": [{"name": "g", "count": 1, "images": ["kernel"], "server": "http1"}],
          "run": {"until": "10min"}}
    res = simulate_scenario(sc)
    assert len(res.summary["warnings"]) == 1
    assert res.summary["warnings"][0].startswith(
        "<dict>: topology.server_link.loss: warning: 0.5 is above the plausible maximum")
