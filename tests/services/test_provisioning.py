"""The provisioning API's inventory and templates, and HTTPS, end to end."""

from __future__ import annotations

import copy

import pytest
from small_scenarios import api_scenario, scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.services.provisioning import Inventory, Provisioner


def test_each_machine_gets_its_roles_script_and_unknown_ones_the_discovery_script():
    res = simulate_scenario(api_scenario())
    ph = res.phases
    by = res.servers.set_index("server")
    # r01s001 (compute): kernel + initrd; r01s002 (storage): kernel only; r01s003 is not
    # in the inventory: the default unknown script says so and exits 1.
    fetched = ph[ph.phase.str.startswith("fetch:")].groupby("server").phase.apply(list)
    assert fetched["r01s001"] == ["fetch:kernel", "fetch:initrd"]
    assert fetched["r01s002"] == ["fetch:kernel"]
    assert "r01s003" not in fetched
    assert by.loc["r01s003", "outcome"] == "failed"
    api = ph[ph.phase == "api:api1"].set_index("server").reason
    assert api.to_dict() == {"r01s001": "role compute", "r01s002": "role storage",
                             "r01s003": "role unknown"}
    # the API call: TCP handshake + 10 ms + request/response, RTT 4 us
    assert ph[ph.phase == "api:api1"].seconds.to_numpy() == pytest.approx(10e-3 + 8e-6)


def test_a_template_that_does_not_render_is_an_http_500():
    sc = api_scenario()
    sc["services"]["api1"]["inventory"][1]["role"] = "compute"  # storage row has no args
    res = simulate_scenario(sc)
    row = res.servers.set_index("server").loc["r01s002"]
    assert row.outcome == "failed"
    # validation let it by: another compute row has 'args'; the render names the template
    assert row.reason.startswith("api:api1: template services.api1.templates.compute line 2: "
                                 "'args' is undefined (HTTP 500)")


def test_template_syntax_error_names_the_field():
    sc = api_scenario(templates={"compute": "#!ipxe\n{% if %}\n"})
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    assert [str(p) for p in e.value.problems] == [
        "<dict>: services.api1.templates.compute: template line 2: Expected an expression, "
        "got 'end of statement block'"]


def test_inventory_file_csv(tmp_path):
    inv = tmp_path / "inv.csv"
    inv.write_text("serial,role,args\nR01S001,compute,quiet\nR01S003,compute,debug\n")
    sc = api_scenario(inventory="inv.csv")
    from ruamel.yaml import YAML

    path = tmp_path / "s.yaml"
    with path.open("w") as f:
        YAML().dump(sc, f)
    res = simulate_scenario(path)
    ok = set(res.servers[res.servers.outcome == "ok"].server)
    assert ok == {"r01s001", "r01s003"}


def test_provisioner_matches_on_the_first_key_the_query_names():
    inv = Inventory.from_rows([{"mac": "52:54:00:00:00:01", "role": "a"},
                               {"serial": "X1", "role": "b"}])
    p = Provisioner(inv, {"*": "#!ipxe\necho {{ role }} {{ server }}\n"})
    assert p.answer("mac=52:54:00:00:00:01", {"server": "s1"}) == (200, "#!ipxe\necho a s1\n",
                                                                   "a")
    assert p.answer("serial=x1", {"server": "s2"})[2] == "b"  # case-insensitive
    assert p.answer("", {"server": "s3"})[2] == "unknown"  # a query naming nobody


def https_scenario(profile: str, **svc) -> dict:
    sc = scenario()
    sc["services"]["http1"].update({"https": True, **svc})
    sc["fleet"][0].update({"profile": profile, "script":
                           "#!ipxe\ndhcp\nkernel https://http1/kernel\n"
                           "initrd https://http1/initrd\nboot\n"})
    return sc


def test_https_adds_the_tls_handshake_once_per_connection():
    # TLS 1.2 as iPXE does it: four more round trips (RTT 4 us; TLS_HANDSHAKE_RTTS, the
    # lab's measurement) on the first, new connection; the initrd reuses the keep-alive
    # connection, no second handshake.
    tls = simulate_scenario(https_scenario("ipxe-current")).phases.set_index("phase").seconds
    sc = https_scenario("ipxe-current")
    sc["fleet"][0]["script"] = sc["fleet"][0]["script"].replace("https", "http")
    plain = simulate_scenario(sc).phases.set_index("phase").seconds
    assert tls["fetch:kernel"] - plain["fetch:kernel"] == pytest.approx(4 * 4e-6, abs=1e-12)
    assert tls["fetch:initrd"] == pytest.approx(plain["fetch:initrd"], abs=1e-12)


def test_https_fails_where_the_build_lacks_it_or_the_certificate_is_not_trusted():
    # the 2019 ROM's build has no https: URIs: validation says so (as `ipxe check` does);
    # a computed scheme gets by it, and the interpreter refuses it itself
    sc = https_scenario("ipxe-2019-qemu")
    with pytest.raises(InputError, match="the debian-2019 build cannot open https: URIs"):
        simulate_scenario(sc)
    sc["fleet"][0]["script"] = sc["fleet"][0]["script"].replace(
        "#!ipxe\n", "#!ipxe\nset s https\n").replace("https://", "${s}://")
    no = simulate_scenario(sc).servers.reason.iloc[0]
    assert no.endswith("(debian-2019 iPXE cannot open https: URIs)")
    bad = simulate_scenario(https_scenario("ipxe-current", trusted=False)).servers.reason
    assert bad.iloc[0].startswith("fetch:kernel: http1's certificate does not chain")
    off = copy.deepcopy(https_scenario("ipxe-current"))
    off["services"]["http1"]["https"] = False
    assert "does not serve HTTPS" in simulate_scenario(off).servers.reason.iloc[0]


def signed_scenario(**fault) -> dict:
    sc = scenario(servers=4)
    sc["images"]["kernel.sig"] = {"size": "2KiB"}
    sc["fleet"][0].update({"count": 4, "power_on": {"at": "0s", "per_second": 0.1},
                           "build": "all",  # a build with IMAGE_TRUST_CMD
                           "script": "#!ipxe\ndhcp\nkernel http://http1/kernel\n"
                                     "imgverify kernel http://http1/kernel.sig || goto bad\n"
                                     "boot\n:bad\necho kernel signature invalid\nexit 1\n"})
    sc["faults"] = [{"kind": "tamper", **fault}]
    return sc


def test_tampered_image_halts_exactly_the_servers_that_fetch_it_in_the_window():
    # Servers power on every 10 s (0, 10, 20, 30 s) and fetch the kernel ~1 s later; the
    # kernel on http1 is tampered with from 5 s to 25 s: the 2nd and 3rd servers' copies
    # fail imgverify (signature-invalid), the script's || branch exits 1; 1st and 4th boot.
    res = simulate_scenario(signed_scenario(target="http1:kernel", at="5s", duration="20s"))
    by = res.servers.set_index("server")
    assert list(by.outcome) == ["ok", "failed", "failed", "ok"]
    assert by.loc["r01s002", "reason"].startswith(
        "imgverify:kernel: signature-invalid: kernel from http1 was tampered with")
    v = res.phases[res.phases.phase == "imgverify:kernel"]
    assert list(v.outcome) == ["ok", "failed", "failed", "ok"]


def test_imgverify_takes_the_profiles_time_trusted_or_refused():
    # tune: imgverify_time 40 ms, imgverify_rate 16 MiB/s; the kernel (small_scenarios:
    # 8 MiB) is hashed in 8 MiB / 16 MiB/s = 0.5 s: every check takes 0.54 s, the
    # good ones (1st, 4th server) and the tampered (2nd, 3rd) alike, as the lab's
    # tampered kernel was refused after as long as the good one took (lab/traces5).
    # ipxe-current-bios's own figures: 37.6 ms + size / 19.17 MB/s (2 MiB: 0.147 s).
    sc = signed_scenario(target="http1:kernel", at="5s", duration="20s")
    sc["fleet"][0]["tune"] = {"imgverify_time": "40ms", "imgverify_rate": "16MiB/s"}
    v = simulate_scenario(sc).phases
    v = v[v.phase == "imgverify:kernel"]
    size = sc["images"]["kernel"]["size"]
    assert size == "8MiB"
    assert list(v.outcome) == ["ok", "failed", "failed", "ok"]
    assert list(v.seconds) == pytest.approx([0.04 + 0.5] * 4, abs=1e-9)
    from netbootsim.profiles import PROFILES

    bios = PROFILES["ipxe-current-bios"]
    assert bios.imgverify_time + 2**21 / bios.imgverify_rate == pytest.approx(0.1470, abs=1e-4)
    # ipxe-current-efi's (lab/traces11): 28.6 ms + 2 MiB / 27.55 MB/s = 0.0286 + 0.0761
    efi = PROFILES["ipxe-current-efi"]
    assert efi.imgverify_time + 2**21 / efi.imgverify_rate == pytest.approx(0.1047, abs=1e-4)
    for name in ("ipxe-current", "ipxe-current-arm64", "server-uefi"):  # not measured
        p = PROFILES[name]
        assert p.imgverify_time == 0 and p.imgverify_rate == float("inf")


def test_default_builds_have_no_imgverify():
    # IMAGE_TRUST_CMD is off by default (config/general.h:105): validation refuses the
    # script, as `netbootsim ipxe check --build master-default` does; with the command
    # name computed (not checkable before it runs), ipxe-current's build runs
    # "imgverify: command not found" and the || branch exits 1.
    sc = signed_scenario(target="http1:kernel", at="1000s")
    sc["fleet"][0].pop("build")
    with pytest.raises(InputError, match="'imgverify' is not in the master-default build"):
        simulate_scenario(sc)
    script = sc["fleet"][0]["script"].replace("imgverify kernel", "${v} kernel")
    sc["fleet"][0]["script"] = script.replace("#!ipxe\n", "#!ipxe\nset v imgverify\n")
    res = simulate_scenario(sc)
    assert set(res.servers.outcome) == {"failed"}
    assert not (res.phases.phase == "imgverify:kernel").any()


def test_tamper_fault_must_name_an_image():
    with pytest.raises(InputError) as e:
        simulate_scenario(signed_scenario(target="http1:kernal", at="0s"))
    assert "faults[0].target: unknown image 'kernal' (did you mean 'kernel'?)" in str(
        e.value.problems[0])


def test_script_reboot_starts_a_new_attempt_under_the_reboot_policy():
    sc = scenario()
    sc["fleet"][0].update({"script": "#!ipxe\ndhcp\nreboot\n", "stages": [
        {"name": "boot", "timeout": "10s", "on_failure": "reboot"}]})
    res = simulate_scenario(sc)
    ph = res.phases
    # each attempt: DHCP (1.000504 s), then reboot: attempts until the 10 s timeout,
    # which names what the attempts before it ended with
    assert list(ph[ph.phase == "reboot"].attempt)[:3] == [1, 2, 3]
    assert res.servers.outcome.iloc[0] == "failed"
    assert res.servers.reason.iloc[0] == ("timed out after 10 s; last error: iPXE: the "
                                          "script ran reboot (g.ipxe:3)")


def test_shipped_dynamic_api_scenario_falls_back_and_halts_exactly_the_gpu_servers():
    # The primary API is down for 10 min: every server's chain to it fails after iPXE's
    # 15.75 s of SYN retries and the || takes the backup, so the fleet finishes 15.75 s
    # later than without the outage. The GPU initrd is tampered with: imgverify stops
    # exactly the 45 GPU servers of the inventory; the 20 unknown ones boot discovery.
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    path = root / "scenarios" / "ipxe-dynamic-api.yaml"
    res = simulate_scenario(path)
    base = simulate_scenario(path, overrides=["faults=[]"])
    with (root / "scenarios" / "inventory" / "ipxe-dynamic-api.csv").open() as f:
        gpu = {r["serial"].lower() for r in csv.DictReader(f) if r["role"] == "gpu"}
    failed = set(res.servers[res.servers.outcome == "failed"].server)
    assert failed == gpu and len(gpu) == 45
    api = res.phases[res.phases.phase.str.startswith("api:")]
    assert all(v == ["api:api1", "api:api2"] for v in api.groupby("server").phase.apply(list))
    assert res.summary["makespan"] - base.summary["makespan"] == pytest.approx(15.75,
                                                                                abs=0.5)
    assert base.summary["completed"] == 320  # no outage, nothing tampered with


def test_slow_and_erroring_api_faults():
    # 3 servers powered on 10 s apart ask the API ~1 s later (after DHCP). The API is 5×
    # slower from 0 to 5 s (the first server's request: 5 × 10 ms) and answers HTTP 500
    # from 5 s to 15 s (the second's: a failed boot with that reason); the third (at ~21 s)
    # gets a normal answer.
    sc = api_scenario()
    sc["services"]["api1"]["inventory"] = [{"serial": f"R01S00{i}", "role": "compute",
                                            "args": "quiet"} for i in (1, 2, 3)]
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.1}
    sc["faults"] = [{"kind": "service-slow", "target": "api1", "at": "0s",
                     "duration": "5s", "factor": 5},
                    {"kind": "service-error", "target": "api1", "at": "5s",
                     "duration": "10s"}]
    res = simulate_scenario(sc)
    api = res.phases[res.phases.phase == "api:api1"].set_index("server")
    assert api.loc["r01s001", "seconds"] == pytest.approx(5 * 10e-3 + 8e-6)
    assert api.loc["r01s003", "seconds"] == pytest.approx(10e-3 + 8e-6)
    assert list(res.servers.outcome) == ["ok", "failed", "ok"]
    assert res.servers.reason.iloc[1].startswith(
        "api:api1: HTTP 500: internal server error (service-error fault)")
    with pytest.raises(InputError) as e:
        sc["faults"][0].pop("factor")
        simulate_scenario(sc)
    assert "faults[0].factor: required for a service-slow fault" in str(e.value.problems[0])
