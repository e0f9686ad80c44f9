"""The transfer and bench commands: hand-checked numbers, bad flags, exit codes."""

import json

import pytest

from netbootsim.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_transfer_tftp_issue_example(capsys):
    # Hand derivation in tests/protocols/test_protocols.py::test_tftp_issue_example_in_engine.
    code, out, _ = run_cli(capsys, "transfer", "tftp", "--size", "80MiB", "--bandwidth", "1Gbps",
                           "--rtt", "200us", "--blksize", "1468", "--windowsize", "1",
                           "--client-block-delay", "1ms", "--json")
    assert code == 0
    res = json.loads(out)
    assert res["seconds"] == pytest.approx(69.27608928, rel=1e-6)
    assert res["bytes"] == 83886080 and res["blocks"] == 57144


def test_transfer_http_json(capsys):
    # 100 MiB at 10 ms RTT with a 256 KiB window: window-limited near
    # 262144 × 1538/1448 / 0.01 B/s ≈ 27.8 MB/s; the law and the engine agree.
    code, out, _ = run_cli(capsys, "transfer", "http", "--size", "100MiB", "--bandwidth",
                           "1Gbps", "--rtt", "10ms", "--rwnd", "256KiB", "--json")
    res = json.loads(out)
    assert code == 0
    assert res["seconds"] == pytest.approx(res["law_seconds"], rel=1e-6)
    steady = 262144 * 1538 / 1448 / 0.01
    assert res["steady_bound_Bps"] == pytest.approx(steady, rel=1e-12)
    assert 3.5 < res["seconds"] < 4.2


def test_transfer_http_loss_is_slower(capsys):
    base = ["transfer", "http", "--size", "10MiB", "--bandwidth", "1Gbps", "--rtt", "10ms",
            "--json"]
    _, out, _ = run_cli(capsys, *base)
    _, lossy, _ = run_cli(capsys, *base, "--loss", "0.001")
    assert json.loads(lossy)["seconds"] > json.loads(out)["seconds"]


def test_transfer_human_line(capsys):
    code, out, _ = run_cli(capsys, "transfer", "tftp", "--size", "1MiB", "--bandwidth", "1Gbps")
    assert code == 0 and out.startswith("tftp: 1MiB over 1Gbps")


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["--size", "80", "--bandwidth", "1Gbps"], "command line: --size: '80' is not a size"),
        (["--size", "80MiB", "--bandwidth", "1GBit"], "command line: --bandwidth: '1GBit': "
                                                      "unknown rate unit"),
        (["--size", "1MiB", "--bandwidth", "1Gbps", "--blksize", "4"],
         "command line: --blksize: '4' must be in"),
        (["--size", "1MiB", "--bandwidth", "1Gbps", "--loss", "x"],
         "command line: --loss: 'x' is not a number"),
        (["--size=-1MiB", "--bandwidth", "1Gbps"], "command line: --size:"),
    ],
)
def test_transfer_bad_flags(capsys, argv, expect):
    code, _, err = run_cli(capsys, "transfer", "tftp", *argv)
    assert code == 2
    assert err.splitlines()[0].startswith(expect)


def test_bad_flags_exit_2_without_traceback(capsys):
    # In-process: an exception other than the exit argparse and main() make for bad input
    # would fail the test (the subprocess form of these lives in tests/inputs/).
    for argv in (["transfer", "tftp", "--size", "80", "--bandwidth", "1Gbps"],
                 ["transfer", "ftp", "--size", "1MiB", "--bandwidth", "1Gbps"],
                 ["bench", "flows", "--flows", "0"],
                 ["bench", "flows", "--flows", "many"]):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own usage errors
            code = e.code
        assert code == 2, argv
        assert capsys.readouterr().err.strip(), argv


@pytest.mark.parametrize("topology", ["one-link", "leaf-spine"])
def test_bench_small_agrees_with_full_recompute(capsys, topology):
    code, out, _ = run_cli(capsys, "bench", "flows", "--flows", "300", "--topology", topology,
                           "--compare-full-recompute", "--json")
    res = json.loads(out)
    assert code == 0 and res["flows"] == 300
    assert res["max_abs_diff_seconds"] <= 1e-6
    assert res["events"] > 0 and res["makespan"] > 0


def test_models_lists_every_model_with_a_source(capsys):
    code, out, _ = run_cli(capsys, "models")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) >= 13
    assert all("[" in line and line.rstrip().endswith("]") for line in lines)
    assert any("ipxe-2019-qemu" in line and "(calibrated)" in line for line in lines)
    assert any(line.startswith("tftp service") and "dnsmasq" in line for line in lines)
