"""A server that times out, or is still booting at the horizon, says what it last failed on.

A script that loops on a failure (``chain ... || goto retry``) never ends the attempt
itself: the stage's timeout or the run's horizon does, and before, the report said only
"timed out" while the reason was in ``netbootsim ipxe trace``'s console alone. The
machine keeps its last failure in the stage (a failed record, an attempt's reason, or a
command that failed where only the interpreter sees it) and the timeout names it.
"""

from __future__ import annotations

from small_scenarios import scenario

from netbootsim.api import simulate_scenario

#: Tries an https URI every 5 s for ever (the scheme computed, so validation cannot see
#: it; a literal https:// on the 2019 build is refused before the run).
LOOP = ("#!ipxe\nset s https\ndhcp\n:retry\nchain ${s}://http1/kernel || goto wait\n"
        ":wait\nsleep 5\ngoto retry\n")
#: What iPXE says on line 5 of it, as ``ipxe trace`` prints it: core/open.c's ENOTSUP,
#: and the build's reason.
NO_HTTPS = ("iPXE: g.ipxe:5: chain: Operation not supported (http://ipxe.org/3c092003) "
            "(debian-2019 iPXE cannot open https: URIs)")


def run(script: str, *, profile: str = "ipxe-2019-qemu", stages=None, until=None,
        faults=None):
    sc = scenario()
    sc["fleet"][0].update({"profile": profile, "script": script})
    if stages is not None:
        sc["fleet"][0]["stages"] = stages
    if until is not None:
        sc["run"]["until"] = until
    if faults is not None:
        sc["faults"] = faults
    (row,) = simulate_scenario(sc).servers.itertuples()
    return row


def test_a_timeout_names_the_failure_the_script_looped_on():
    row = run(LOOP, stages=[{"name": "boot", "timeout": "60s"}])
    assert row.outcome == "failed"
    assert row.reason == f"timed out after 60 s; last error: {NO_HTTPS}"


def test_the_horizon_names_it_too():
    row = run(LOOP, until="100s")
    assert row.outcome == "unfinished"
    assert row.reason == ("still booting at the run's horizon (run.until = 100 s); "
                          f"last error: {NO_HTTPS}")


def test_the_script_ending_on_it_is_unchanged():
    # no loop: the failure ends the script and is the reason itself, as before
    row = run("#!ipxe\nset s https\ndhcp\nchain ${s}://http1/kernel\n")
    assert row.reason == NO_HTTPS.replace("g.ipxe:5", "g.ipxe:4")


def test_a_failure_the_world_reports_is_named_in_the_words_of_its_record():
    # ipxe-current has HTTPS, but http1 does not serve it: the world refuses the
    # connection (a failed fetch:kernel record), and that record is the last error
    row = run(LOOP, profile="ipxe-current", stages=[{"name": "boot", "timeout": "30s"}])
    assert row.reason == ("timed out after 30 s; last error: fetch:kernel: http1 does not "
                          "serve HTTPS (port 443 refused)")


def test_a_slow_stage_without_a_failure_just_times_out():
    # 60 s of work in a 30 s timeout: nothing failed, nothing to name
    row = run("#!ipxe\ndhcp\nkernel http://http1/kernel\nboot\n",
              stages=[{"name": "boot", "work": "60s", "timeout": "30s"}])
    assert row.reason == "timed out after 30 s"


def test_a_failure_of_an_earlier_stage_is_not_carried_into_the_next():
    # commissioning: the first attempt's API call fails (API down 0-20 s: iPXE's SYNs
    # give up after 15.75 s), the reboot after 5 s finds it up; deploy then runs 60 s of
    # work into its 30 s timeout. The API failure belongs to commissioning: deploy's
    # reason names nothing else.
    script = "#!ipxe\ndhcp\nchain http://api1/boot?mac=${net0/mac}\n"
    sc = scenario()
    sc["services"]["api1"] = {"kind": "api", "host": "boot1", "service_time": "20ms"}
    sc["fleet"][0].update({"script": script, "stages": [
        {"name": "commissioning", "timeout": "20min", "on_failure": "reboot",
         "reboot_after": "5s"},
        {"name": "deploy", "work": "60s", "timeout": "30s"}]})
    sc["faults"] = [{"kind": "service-down", "target": "api1", "at": "0s",
                     "duration": "20s"}]
    res = simulate_scenario(sc)
    (row,) = res.servers.itertuples()
    api = res.phases[res.phases.phase == "api:api1"]
    assert list(api.outcome)[:2] == ["failed", "ok"]  # the earlier stage did fail once
    assert row.outcome == "failed" and row.reason == "deploy: timed out after 30 s"
