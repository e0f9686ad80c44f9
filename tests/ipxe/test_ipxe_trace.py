"""``netbootsim ipxe trace``: one server's simulated console with its records."""

from pathlib import Path

from netbootsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_trace_shows_the_fallback_and_the_halt(capsys):
    # r01s018 is a GPU machine: its chain to the primary API times out after iPXE's
    # 15.75 s of SYN retries, the backup answers, and imgverify stops it. (DHCP takes
    # 1.252 s: dnsmasq --no-ping offers at once, iPXE takes it at its 1 s tick, and the
    # 320 REQUESTs queue at 0.5 ms each.) The halt at 25.116935 s: 32 us after the
    # 25.116903 s of the textbook two-round-trip TLS handshake, as two new HTTPS
    # connections to mirror1 each take 2 more round trips of 8 us (iPXE's 4, measured).
    code = main(["ipxe", "trace", str(ROOT / "scenarios" / "ipxe-dynamic-api.yaml"),
                 "--server", "r01s018"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "[      0.000000] Configuring (net0 52:54:00:00:00:11)..."
    assert "[     17.002016]  Connection timed out (http://ipxe.org/4c0a6035)" in out
    assert any("# commissioning/1 api:api1 (15.750 s, http from api1): failed" in x for x in out)
    assert "[     25.116935] image signature invalid: halting" in out
    assert out[-2] == "[     25.116935] # commissioning/1 poweroff (0.000 s): ok: poweroff"
    assert out[-1].startswith("r01s018: failed (imgverify:initrd-gpu: signature-invalid")
    times = [float(x[1:15]) for x in out[:-1]]
    assert times == sorted(times)


def test_trace_of_an_unknown_server_is_a_clear_error(capsys):
    code = main(["ipxe", "trace", str(ROOT / "scenarios" / "quickstart.yaml"), "--server",
                 "r01s999"])
    assert code == 2
    assert "--server: no server 'r01s999' in the fleet" in capsys.readouterr().err
