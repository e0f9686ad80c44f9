"""Small scenarios, as dicts, that tests of several rooms build on (not a test module).

``scenario()``: one rack behind a ToR, boot host ``boot1``, DHCP, TFTP and HTTP, iPXE
servers fetching a kernel and an initrd over HTTP. ``api_scenario()``: the same with a
provisioning API of three machines (two in its inventory).
"""

from __future__ import annotations

__all__ = ["scenario", "api_scenario", "SCRIPT", "cli_refuses"]


def scenario(**over) -> dict:
    """One rack of ``servers`` behind a ToR, boot host ``boot1``; 1 us links (RTT 4 us)."""
    sc = {
        "topology": {"shape": "rack", "servers": over.pop("servers", 1),
                     "server_link": {"bandwidth": "25Gbps", "latency": "1us"},
                     "hosts": [{"name": "boot1"}]},
        "services": {
            "dhcp1": {"kind": "dhcp", "host": "boot1", "ping": False, "no_pxedhcp": True,
                      "ipv6_ra": True},
            "tftp1": {"kind": "tftp", "host": "boot1", "model": "unlimited"},
            "http1": {"kind": "http", "host": "boot1", "model": "nginx"},
        },
        "images": {"kernel": {"size": "8MiB"}, "initrd": {"size": "32MiB"},
                   "undionly.kpxe": {"size": "70KiB"}, "os": {"size": "1GiB"}},
        "fleet": [{"name": "g", "count": 1, "boot": "ipxe", "profile": "ipxe-current",
                   "images": ["kernel", "initrd"], "server": "http1"}],
        "run": {"seed": 1},
    }
    for key, value in over.items():
        sc[key] = value
    return sc


SCRIPT = "#!ipxe\nchain http://api1/boot.ipxe?serial=${serial}\n"


def api_scenario(**api) -> dict:
    sc = scenario(servers=3)
    sc["services"]["api1"] = {"kind": "api", "host": "boot1", "service_time": "10ms",
                              "inventory": [{"serial": "R01S001", "role": "compute",
                                             "args": "console=ttyS0"},
                                            {"serial": "R01S002", "role": "storage"}],
                              "templates": {
                                  "compute": "#!ipxe\nkernel http://http1/kernel {{ args }}\n"
                                             "initrd http://http1/initrd\nboot\n",
                                  "storage": "#!ipxe\nkernel http://http1/kernel\nboot\n"},
                              **api}
    sc["fleet"][0].update({"count": 3, "script": "#!ipxe\ndhcp\n" + SCRIPT.split("\n", 1)[1]})
    return sc


def cli_refuses(sc: dict, tmp_path) -> str:
    """``netbootsim run`` of ``sc`` written as a YAML file: exit 2, nothing written.

    Returns the first line of stderr, checked to start with ``FILE:LINE:`` (a line
    number above 0) and to hold no traceback.
    """
    import re
    import subprocess
    import sys

    from ruamel.yaml import YAML

    f = tmp_path / "bad.yaml"
    YAML().dump(sc, f)
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "netbootsim", "run", str(f), "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    line = p.stderr.strip().splitlines()[0]
    assert re.match(rf"{re.escape(str(f))}:[1-9][0-9]*: ", line), line
    assert not out.exists()
    return line

