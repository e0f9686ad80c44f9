"""The ``path`` section (delay and loss through the relay): config and layout, no root."""

from __future__ import annotations

import json

import pytest

from netbootsim.errors import InputError
from netbootsim.lab.config import PathOptions, load_config, parse_config
from netbootsim.lab.dnsmasq import dnsmasq_conf
from netbootsim.lab.relay import parse_args, relay_command
from netbootsim.lab.split import capture_interface, relay_spec, relay_summary, server_bridge


def test_path_section_parses_units_and_defaults():
    cfg = parse_config({"case": "http", "path": {"delay": "2.5ms", "loss": 0.01}}, "x")
    assert cfg.path == PathOptions(delay=0.0025, loss=0.01)
    assert parse_config({"case": "http", "path": {"delay": "10ms"}}, "x").path == \
        PathOptions(0.01, 0.0)
    assert parse_config({"case": "tftp", "path": {"loss": 0}}, "x").path == PathOptions()
    assert parse_config({"case": "tftp"}, "x").path is None
    assert cfg.to_dict()["path"] == {"delay": 0.0025, "loss": 0.01}


def test_bad_path_section_reports_file_line_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("case: http\n"
                 "path:\n"
                 "  delay: 5\n"
                 "  loss: 1.5\n"
                 "  jitter: 1ms\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    text = str(e.value)
    for expected in (f"{p}:3: path.delay: 5 has no unit", f"{p}:4: path.loss: 1.5 is not a "
                     "probability", f"{p}:5: path.jitter: unknown field; known: delay, loss"):
        assert expected in text, (expected, text)
    assert len(e.value.problems) == 3


@pytest.mark.parametrize("path,message", [
    ("5ms", "path: expected a mapping"), ({}, "path: expected a mapping"),
    ({"delay": "-1ms"}, "path.delay"), ({"delay": "20s"}, "between 0s and 10s"),
    ({"loss": True}, "path.loss: True is not a probability"),
    ({"loss": "1%"}, "path.loss"), ({"delay": "1MiB"}, "path.delay"),
])
def test_path_section_rejects(path, message):
    with pytest.raises(InputError, match=message):
        parse_config({"case": "http", "path": path}, "x")


def test_layout_and_relay_spec(tmp_path):
    plain = parse_config({"case": "http"}, "x")
    cfg = parse_config({"case": "http", "seed": 7, "path": {"delay": "2.5ms", "loss": 0.01}},
                       "x")
    assert (server_bridge(plain), capture_interface(plain)) == ("nbs-br0", "nbs-br0")
    assert (server_bridge(cfg), capture_interface(cfg)) == ("br-s", "br-g")
    assert "interface=br-s" in dnsmasq_conf(cfg, tmp_path, tmp_path).splitlines()
    ra = parse_config({"case": "http", "path": {"delay": "1ms"}, "dhcp": {"ipv6_ra": True}}, "x")
    assert "dhcp-range=::,constructor:br-s,ra-only" in dnsmasq_conf(ra, tmp_path, tmp_path)
    spec = relay_spec(cfg, tmp_path)
    assert (spec.a, spec.b, spec.delay_ab, spec.delay_ba) == ("vg1", "vs1", 0.0025, 0.0025)
    assert (spec.loss_ab, spec.loss_ba, spec.seed) == (0.01, 0.01, 7)
    assert spec.stats == str(tmp_path / "relay.json")
    assert parse_args(relay_command(spec)[3:]) == spec
    with pytest.raises(ValueError):
        relay_spec(plain, tmp_path)


def test_relay_summary(tmp_path):
    assert relay_summary(tmp_path / "relay.json") is None
    direction = {"frames_in": 10, "frames_dropped": 1, "frames_sent": 9, "bytes_sent": 900,
                 "kernel_drops": 0, "send_errors": 0, "gso": 0, "max_queue": 3,
                 "unsent_at_exit": 0, "bytes_in": 1000}
    (tmp_path / "relay.json").write_text(json.dumps({
        "spec": {"delay_ab": 0.0025, "loss_ab": 0.01}, "elapsed_s": 4.12345,
        "offload_failures": {"vg1": [], "vg0": ["gro"]}, "ab": direction, "ba": direction}))
    s = relay_summary(tmp_path / "relay.json")
    assert s["delay_s"] == 0.0025 and s["loss"] == 0.01 and s["elapsed_s"] == 4.123
    assert s["offload_failures"] == {"vg0": ["gro"]}
    assert s["guest_to_server"]["frames_dropped"] == 1 and "bytes_in" not in s["server_to_guest"]
