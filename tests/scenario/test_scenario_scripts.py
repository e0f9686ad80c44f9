"""What a scenario's scripts and templates do is checked before the run, and at run time
they reach only the simulated world.

* embedded iPXE scripts are linted at validation (``netbootsim ipxe check``'s errors are
  errors, located at the script line's file line; its warnings are warnings);
* service and host names in URIs are case-insensitive, so two names differing only in
  case are refused;
* provisioning templates: what the sandbox or StrictUndefined would refuse at every
  render is refused at validation; what fails at render is an HTTP 500 that names the
  template, its line and the reason;
* no URI a script fetches ever opens a file of the machine running the simulation.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from small_scenarios import api_scenario, scenario

from netbootsim.api import simulate_scenario
from netbootsim.cli import main
from netbootsim.errors import InputError
from netbootsim.scenario import build, load_scenario
from netbootsim.scenario.load import Scenario
from netbootsim.services.provisioning import (
    Inventory,
    Provisioner,
    template_problems,
    undeclared_names,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [p for p in sorted((ROOT / "scenarios").glob("*.yaml")) +
           sorted((ROOT / "scenarios").glob("*/*.yaml"))
           if "\nscenario:" not in "\n" + p.read_text()]  # studies: tests/study

GROUP_SCRIPT = """\
topology:
  shape: rack
  servers: 2
  hosts: [{name: boot1}]
services:
  http1: {kind: http, host: boot1}
images:
  kernel: {size: 1MiB}
fleet:
  - name: g
    count: 2
    server: http1
    script: |
      #!ipxe
      dhcp
      kernal http://http1/kernel
      boot
"""


def problems(sc: dict | Path, overrides=()) -> list[str]:
    with pytest.raises(InputError) as e:
        if isinstance(sc, Path):
            load_scenario(sc, overrides=overrides)
        else:
            Scenario.from_dict(sc, overrides=overrides)
    return [str(p) for p in e.value.problems]


# -- iPXE lint at validation ----------------------------------------------------------


def test_a_typo_in_a_block_script_is_located_at_its_file_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GROUP_SCRIPT)
    # the block's first line (#!ipxe) is file line 14, so script line 3 is file line 16
    assert problems(path) == [
        f"{path}:16: fleet[0].script: script line 3: unknown command 'kernal' (iPXE: "
        "command not found); did you mean 'kernel'?"]


def test_a_one_line_script_is_located_at_its_key_and_a_set_script_at_the_flag(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GROUP_SCRIPT.replace(
        "    script: |\n      #!ipxe\n      dhcp\n      kernal http://http1/kernel\n"
        "      boot\n", '    script: "#!ipxe\\nkernal http://http1/kernel\\n"\n'))
    assert problems(path) == [
        f"{path}:13: fleet[0].script: script line 2: unknown command 'kernal' (iPXE: "
        "command not found); did you mean 'kernel'?"]
    flag = "fleet[0].script=\"#!ipxe\\nimgfetch\\n\""
    assert problems(path, [flag]) == [
        f"--set {flag}: fleet[0].script: script line 2: 'imgfetch' takes at least 1 argument, "
        "got 0 (usage: imgfetch <uri> [<arguments>...])"]


def test_each_group_is_linted_against_its_own_build():
    sc = scenario(servers=2)
    sc["services"]["http1"]["https"] = True
    script = "#!ipxe\ndhcp\nkernel https://http1/kernel\nboot\n"
    sc["fleet"] = [{"name": "new", "count": 1, "profile": "ipxe-current", "server": "http1",
                    "script": script},
                   {"name": "old", "count": 1, "profile": "ipxe-2019-qemu", "server": "http1",
                    "script": script},
                   ]
    assert problems(sc) == [
        "<dict>: fleet[1].script: script line 3: the debian-2019 build cannot open https: "
        "URIs (Operation not supported)"]
    sc["fleet"][1]["build"] = "all"  # the group says which build it runs
    Scenario.from_dict(sc)


def test_image_and_api_scripts_and_rendered_templates_are_linted():
    sc = scenario()
    sc["images"]["boot.ipxe"] = {"script": "#!ipxe\nchian http://http1/kernel\n"}
    sc["services"]["api1"] = {"kind": "api", "host": "boot1",
                              "script": "#!ipxe\nkernel\n"}
    assert problems(sc) == [
        "<dict>: images.boot.ipxe.script: script line 2: unknown command 'chian' (iPXE: "
        "command not found); did you mean 'chain'?",
        "<dict>: services.api1.script: script line 2: 'kernel' takes at least 1 argument, got "
        "0 (usage: kernel <uri|image> [<arguments>...])"]
    # a template is a script once rendered: each row's rendering is linted (before
    # 2026-12-07 it was not, and a typo failed every server at run time)
    sc = api_scenario(templates={"*": "#!ipxe\n{{ 'kern' }}al http://http1/kernel\n"})
    with pytest.raises(InputError) as e:
        Scenario.from_dict(sc)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: services.api1.templates.*: rendered for serial R01S001: script line 2: "
        "unknown command 'kernal' (iPXE: command not found); did you mean 'kernel'?"]
    sc = api_scenario(templates={"*": "#!ipxe\n{{ 'kern' }}el http://http1/kernel\n"})
    Scenario.from_dict(sc)


def test_lint_warnings_are_printed_by_validate_and_run_alike_and_keep_exit_0(
        tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(GROUP_SCRIPT.replace("kernal", "kernel").replace(
        "      boot\n", "      boot\n      goto ${next}\n"))
    warning = (f"{path}:18: fleet[0].script: warning: script line 5: goto ${{next}}: "
               "computed label; not checked\n")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == warning
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().err == warning


def test_a_uri_naming_no_service_host_or_image_is_a_warning():
    # the small scenario: boot1 holds dhcp1, tftp1 and http1; images kernel, initrd,
    # undionly.kpxe, os. Each line below names one thing the run does not have; the run
    # would fail every machine on it. Lines with ${...}, an address, or a comment are
    # not checked; "||" starts another command.
    sc = scenario()
    sc["fleet"][0]["script"] = (
        "#!ipxe\n"
        "dhcp\n"
        "kernel http://http1/vmlinuz\n"                     # 3: no such image
        "initrd http://mirror9/initrd\n"                    # 4: no such host
        "imgfetch tftp://http1/kernel || chain http://BOOT1/os\n"  # 5: http1 is no TFTP
        "kernel http://${next-server}/nothing\n"            # computed: not checked
        "kernel http://10.255.0.1/nothing\n"                # an address: not checked
        "# kernel http://nowhere/x\n"
        "initrd http://http1./initrd\n"                     # 9: 'http1.' is no name
        "boot http://http1/bzImage\n")                      # 10: boot fetches too
    got = sorted(str(w) for w in Scenario.from_dict(sc).warnings)
    assert got == sorted([
        "<dict>: fleet[0].script: warning: script line 3: http://http1/vmlinuz: no image "
        "'vmlinuz' in the scenario's images (initrd, kernel, os, undionly.kpxe); a machine "
        "running this line fails it",
        "<dict>: fleet[0].script: warning: script line 4: http://mirror9/initrd: no service "
        "or host named 'mirror9' (the scenario's: boot1, dhcp1, http1, tftp1); a machine "
        "running this line fails it",
        "<dict>: fleet[0].script: warning: script line 5: tftp://http1/kernel: no tftp "
        "service at 'http1' (there: http); a machine running this line fails it",
        "<dict>: fleet[0].script: warning: script line 9: http://http1./initrd: no service "
        "or host named 'http1.' (the scenario's: boot1, dhcp1, http1, tftp1); a machine "
        "running this line fails it",
        "<dict>: fleet[0].script: warning: script line 10: http://http1/bzImage: no image "
        "'bzImage' in the scenario's images (initrd, kernel, os, undionly.kpxe); a machine "
        "running this line fails it"])
    # an API answers any path; with a DNS server, other names may resolve (not checked)
    sc["services"]["api1"] = {"kind": "api", "host": "boot1", "script": "#!ipxe\nboot\n"}
    sc["fleet"][0]["script"] = "#!ipxe\nchain http://api1/boot.ipxe?mac=${mac}\n"
    assert Scenario.from_dict(sc).warnings == []
    sc["fleet"][0]["script"] = "#!ipxe\nchain http://boot.example.com/kernel\n"
    assert len(Scenario.from_dict(sc).warnings) == 1
    sc["services"]["dns1"] = {"kind": "dns", "host": "boot1",
                              "records": {"boot.example.com": ["http1"]}}
    assert Scenario.from_dict(sc).warnings == []


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_validate_with_their_scripts_linted(path):
    sc = load_scenario(path)
    build(sc)
    assert sc.warnings == []


# -- case-insensitive names -------------------------------------------------------------


def test_service_and_host_names_in_uris_are_case_insensitive():
    # the default script names the service as written (tftp://tftpA/kernel); a URI's host
    # is lower-cased when parsed, and looked up case-insensitively, as DNS names are
    sc = scenario(servers=2)
    sc["services"] = {"tftpA": {"kind": "tftp", "host": "Boot1", "model": "unlimited"}}
    sc["topology"]["hosts"] = [{"name": "Boot1"}]
    sc["fleet"] = [{"name": "g", "count": 1, "server": "tftpA", "images": ["kernel"]},
                   {"name": "h", "count": 1, "script": "#!ipxe\nkernel tftp://BOOT1/kernel\n"
                    "boot\n"}]
    res = simulate_scenario(sc)
    assert list(res.servers.outcome) == ["ok", "ok"], list(res.servers.reason)
    assert set(res.phases[res.phases.phase == "fetch:kernel"].endpoint) == {"tftpA"}


def test_names_differing_only_in_case_are_refused():
    sc = scenario()
    sc["services"]["HTTP1"] = {"kind": "http", "host": "boot1"}
    assert problems(sc) == [
        "<dict>: services.HTTP1: service name 'HTTP1' differs only in case from 'http1' (at "
        "services.http1); URI hosts are case-insensitive, so one URI would name both"]


# -- provisioning templates -------------------------------------------------------------

SSTI = "#!ipxe\necho {{ cycler.__init__.__globals__.os.popen('id').read() }}\n"


def test_a_template_reaching_for_python_internals_is_refused_at_validation():
    sc = api_scenario(templates={"compute": SSTI, "storage": "#!ipxe\nexit 1\n"})
    assert problems(sc) == [
        f"<dict>: services.api1.templates.compute: template line 2: attribute {a!r}: the "
        "sandbox refuses names starting with '_' (every render would fail)"
        for a in ("__globals__", "__init__")]


def test_template_problems_sees_every_way_to_name_an_underscore_attribute():
    text = "#!ipxe\n{{ a._b }}\n{{ a['__c'] }}\n{{ a|attr('__d') }}\n{{ a.e }} {{ a['f'] }}\n"
    assert [line for line, _ in template_problems(text)] == [2, 3, 4]
    assert template_problems("{% if %}") == [
        (1, "Expected an expression, got 'end of statement block'")]


def test_names_no_row_defines_are_refused_per_template():
    # compute rows have 'args'; the storage row has not; the unknown template sees none
    assert undeclared_names("{% set x = 1 %}{{ x }}{{ range(2)|list }}\n{{ args }}{{ y }}") \
        == [("args", 2), ("y", 2)]
    sc = api_scenario(templates={"compute": "#!ipxe\nkernel http://http1/kernel {{ args }}\n",
                                 "storage": "#!ipxe\nkernel http://http1/k {{ args }}\n"},
                      unknown="#!ipxe\necho {{ serial }} {{ group }} {{ args }}\n")
    assert problems(sc) == [
        "<dict>: services.api1.templates.storage: template line 2: 'args' is undefined: no "
        "inventory row of role 'storage' has it, and it is not the machine's (mac, serial, "
        "asset, uuid, server, group, role) nor Jinja2's (every render would fail)",
        "<dict>: services.api1.unknown: template line 2: 'args' is undefined: machines the "
        "inventory does not know get no row, and it is not the machine's (mac, serial, "
        "asset, uuid, server, group, role) nor Jinja2's (every render would fail)"]
    # '*' renders for the rows whose role has no template of its own
    sc = api_scenario(templates={"compute": "#!ipxe\nexit 1\n", "*": "#!ipxe\necho {{ args }}\n"})
    assert [p.split(": ")[1] for p in problems(sc)] == ["services.api1.templates.*"]


def test_a_render_the_sandbox_refuses_is_an_http_500_naming_the_template():
    p = Provisioner(Inventory.from_rows([{"serial": "X1", "role": "compute"}]),
                    {"compute": SSTI}, name="api1")
    assert p.answer("serial=x1", {"server": "s1"}) == (
        500, "template services.api1.templates.compute line 2: access to attribute "
             "'__init__' of 'type' object is unsafe", "compute")


def test_a_sandbox_refusal_at_run_time_names_template_line_and_reason(tmp_path, capsys):
    # The attribute's name comes from the inventory row, so validation cannot see it: the
    # sandbox refuses it at render. The API answers 500; the phase record, servers.csv and
    # the report's failure table name the API, the template, its line and the refusal.
    sc = api_scenario(templates={"compute": "#!ipxe\ndhcp\necho {{ cycler|attr(name) }}\n",
                                 "storage": "#!ipxe\nexit 1\n"})
    sc["services"]["api1"]["inventory"][0]["name"] = "__init__"
    why = ("template services.api1.templates.compute line 3: access to attribute '__init__' "
           "of 'type' object is unsafe (HTTP 500)")
    res = simulate_scenario(copy.deepcopy(sc))
    api = res.phases[(res.phases.phase == "api:api1") & (res.phases.server == "r01s001")]
    assert list(api.outcome) == ["failed"] and list(api.reason) == [why]
    server = res.servers.set_index("server").loc["r01s001"]
    assert server.reason.startswith(f"api:api1: {why} (g.ipxe:")
    from ruamel.yaml import YAML

    path = tmp_path / "s.yaml"
    with path.open("w") as f:
        YAML().dump(sc, f)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert why in (tmp_path / "out/servers.csv").read_text()
    assert why in (tmp_path / "out/report.md").read_text()


# -- URIs never reach the host ----------------------------------------------------------

_PROBE = """
import json, os, sys
canary_dir = sys.argv[1]
opened = []

def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir", "shutil.copyfile") and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            text = os.fsdecode(path)
            if os.path.abspath(text).startswith(canary_dir):
                opened.append([event, text])

from netbootsim.api import simulate_scenario  # imported first: its own files are not probed
sys.addaudithook(hook)
res = simulate_scenario(json.loads(sys.argv[2]))
print(json.dumps({"opened": opened,
                  "servers": res.servers[["group", "outcome", "reason"]].values.tolist()}))
"""


def test_no_uri_in_a_script_opens_a_file_of_the_host(tmp_path):
    canary = tmp_path / "secret" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text("#!ipxe\necho the host's file was read\n")
    c = str(canary)
    attempts = {
        "file3": f"chain file://{c}",                      # file:///tmp/.../canary.txt
        "file2": f"chain file:{c}",
        "filehost": f"chain file://localhost{c}",
        "imgfetch": f"imgfetch file://{c}",
        "kernel": f"kernel file://{c}",
        "dotdot": f"chain http://http1/../../../../../..{c}",
        "dotdot-enc": f"chain http://http1/..%2f..%2f..%2f..{c}",
        "tftpabs": f"chain tftp://tftp1/{c}",
        "tftpdouble": f"chain tftp://tftp1//{c}",
        "relative": "chain ../../../../../../../../tmp/canary.txt",
        "sanboot": f"sanboot file://{c}",
    }
    sc = scenario(servers=len(attempts))
    sc["fleet"] = [{"name": name, "count": 1, "server": "http1", "build": "all",
                    "script": f"#!ipxe\n{line}\n"} for name, line in attempts.items()]
    r = subprocess.run([sys.executable, "-c", _PROBE, str(canary.parent), json.dumps(sc)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["opened"] == []
    reasons = {g: (outcome, reason) for g, outcome, reason in out["servers"]}
    assert {o for o, _ in reasons.values()} == {"failed"}
    efi = "file: URIs name files of the machine's own EFI volume; a simulated machine has none"
    for name in ("file3", "file2", "filehost", "imgfetch", "kernel"):
        assert efi in reasons[name][1], reasons[name]
    for name, svc in (("dotdot", "http1"), ("tftpabs", "tftp1"), ("tftpdouble", "tftp1")):
        assert f"fetch:canary.txt: not found on {svc}" in reasons[name][1], reasons[name]
    assert "not found on http1" in reasons["dotdot-enc"][1]
    assert "unsupported URI scheme ''" in reasons["relative"][1]
    assert reasons["sanboot"][1]  # as on a machine without a SAN target


def test_a_file_uri_is_never_an_image_of_the_world_either():
    # an image called 'passwd' exists; FILE:///etc/passwd still names no file of the world
    sc = scenario()
    sc["images"]["passwd"] = {"script": "#!ipxe\necho served\n"}
    sc["fleet"][0].update({"build": "all", "script": "#!ipxe\nchain FILE:///etc/passwd\n"})
    res = simulate_scenario(sc)
    assert res.servers.reason.iloc[0].startswith(
        "fetch:passwd: file: URIs name files of the machine's own EFI volume; a simulated "
        "machine has none (FILE:///etc/passwd)")


def test_a_rendered_template_is_linted_as_far_as_the_row_decides_it():
    # Reviewed 2026-12-07. (1) A template raising Python's own error for one row (a
    # spare with 0 disks) is not a crash of validate: the row is skipped there, and at
    # run time the machine gets a 500 naming the error. (2) A branch on the machine's
    # group is linted with a placeholder group, so what it finds is a warning, not an
    # error: the branch may be one no machine takes.
    from netbootsim.services.provisioning import Inventory, Provisioner

    sc = api_scenario(templates={"*": "#!ipxe\nkernel http://http1/kernel "
                                      "d={{ 100 // (disks|int) }}\nboot\n"},
                      inventory=[{"serial": "R01S001", "role": "compute", "disks": "2"},
                                 {"serial": "SPARE", "role": "compute", "disks": "0"}])
    Scenario.from_dict(sc)
    api = Provisioner(Inventory.from_rows([{"serial": "SPARE", "disks": "0"}]),
                      {"*": "#!ipxe\nkernel x d={{ 100 // (disks|int) }}\n"}, name="api1")
    status, text, _ = api.answer("serial=SPARE", {"serial": "SPARE"})
    assert status == 500 and text.startswith("template services.api1.templates.* ") and \
        "ZeroDivisionError" in text
    sc = api_scenario(templates={"*": "#!ipxe\n{% if group == 'g' %}kernel http://http1/k"
                                      "{% else %}chian http://http1/k{% endif %}\nboot\n"})
    model = Scenario.from_dict(sc)
    assert [w.message for w in model._warnings] == [
        "warning: rendered for serial R01S001, the machine's own values as placeholders: "
        "script line 2: unknown command 'chian' (iPXE: command not found); did you mean "
        "'chain'?"]


def test_an_inventory_may_repeat_an_asset_or_a_server_not_a_serial():
    from netbootsim.services.provisioning import Inventory

    inv = Inventory.from_rows([{"mac": "52:54:00:00:00:01", "server": "s1", "asset": "N/A"},
                               {"mac": "52:54:00:00:00:02", "server": "s1", "asset": "N/A"}])
    assert inv.match({"mac": "52:54:00:00:00:02"}) is inv.rows[1]
    with pytest.raises(ValueError, match="serial 'a' is on rows 1 and 2"):
        Inventory.from_rows([{"serial": "A"}, {"serial": "a"}])
