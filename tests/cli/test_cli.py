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


def test_transfer_http_sender_and_drawn_losses(capsys):
    # 8 MiB, 1 Gb/s, RTT 5 ms, 1 % loss, iPXE 2019's 256 KiB window (181 segments):
    # CUBIC's expected-value law is Mathis's; BBR's keeps the window, each full-window
    # round with a loss (q = 1 - 0.99^181 = 0.838) followed by a stalled one: the
    # window-limited rate over 1 + q. Drawn: 50 transfers, mean inside the printed range.
    base = ["transfer", "http", "--size", "8MiB", "--bandwidth", "1Gbps", "--rtt", "5ms",
            "--loss", "0.01", "--draws", "50", "--seed", "7", "--json"]
    got = {cc: json.loads(run_cli(capsys, *base, "--tcp-cc", cc)[1]) for cc in ("cubic", "bbr")}
    q = 1 - 0.99 ** (262144 / 1448)
    assert got["bbr"]["steady_bound_Bps"] == pytest.approx(
        262144 * 1538 / 1448 / 0.005 / (1 + q), rel=1e-12)
    assert got["cubic"]["seconds"] > 5 * got["bbr"]["seconds"]
    for r in got.values():
        assert r["draws"] == 50 and r["drawn_p5_s"] <= r["drawn_mean_s"] <= r["drawn_p95_s"]
    again = json.loads(run_cli(capsys, *base, "--tcp-cc", "bbr")[1])
    assert again == got["bbr"]  # the seeds fix the draws
    code, out, _ = run_cli(capsys, *base[:-1], "--tcp-cc", "bbr")
    assert code == 0 and "drawn losses (50 transfers, bbr): mean" in out
    code, _, err = run_cli(capsys, *base, "--draws", "-1")
    assert code == 2 and "--draws" in err


def test_transfer_human_line(capsys):
    code, out, _ = run_cli(capsys, "transfer", "tftp", "--size", "1MiB", "--bandwidth", "1Gbps",
                           "--rtt", "200us")
    assert code == 0 and out.startswith("tftp: 1MiB over 1Gbps at RTT 200us")
    assert "note" not in out


def test_transfer_rtt_is_required(capsys):
    # an unstated round trip of 0 would flatter TFTP by what sets it apart: no default
    with pytest.raises(SystemExit) as e:
        main(["transfer", "tftp", "--size", "1MiB", "--bandwidth", "1Gbps"])
    assert e.value.code == 2
    assert capsys.readouterr().err == ("netbootsim transfer: error: the following arguments "
                                       "are required: --rtt\n")


@pytest.mark.parametrize("protocol, waits", [
    # 1 MiB = 1,048,576 B in 1432-B blocks: floor(1048576 / 1432) + 1 = 733 blocks
    ("tftp", "TFTP waits one round trip per 1432-byte block (733 here)"),
    ("http", "HTTP waits one round trip per TCP window"),
])
def test_transfer_at_rtt_0_says_it_is_a_lower_bound(capsys, protocol, waits):
    code, out, _ = run_cli(capsys, "transfer", protocol, "--size", "1MiB", "--bandwidth",
                           "1Gbps", "--rtt", "0s")
    line, note = out.splitlines()
    assert code == 0 and line.startswith(f"{protocol}: 1MiB over 1Gbps at RTT 0ns")
    assert note == (f"note: at RTT 0 no round trip is counted, so this is a lower bound: "
                    f"{waits}; give the path's real --rtt (e.g. 200us on a LAN)")
    code, out, _ = run_cli(capsys, "transfer", protocol, "--size", "1MiB", "--bandwidth",
                           "1Gbps", "--rtt", "0s", "--json")
    assert json.loads(out)["rtt_s"] == 0.0  # JSON stays one object


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
    code, _, err = run_cli(capsys, "transfer", "tftp", "--rtt", "1ms", *argv)
    assert code == 2
    assert err.splitlines()[0].startswith(expect)


def test_bad_flags_exit_2_without_traceback(capsys):
    # In-process: an exception other than the exit argparse and main() make for bad input
    # would fail the test (the subprocess form of these lives in tests/inputs/).
    for argv in (["transfer", "tftp", "--size", "80", "--bandwidth", "1Gbps", "--rtt", "1ms"],
                 ["transfer", "ftp", "--size", "1MiB", "--bandwidth", "1Gbps", "--rtt", "1ms"],
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


def _parsers(parser, name="netbootsim"):
    """``(prog, parser)`` of the parser and every (sub)subcommand under it."""
    import argparse

    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _parsers(p, f"{name} {sub}")


def test_help_is_plain_text_with_no_rest_markup():
    # every help page, the top one included, as a terminal shows it: no ``code``,
    # :func:`x`, **bold** from the docstrings
    from netbootsim.cli import build_parser

    pages = dict(_parsers(build_parser()))
    assert {"netbootsim", "netbootsim run", "netbootsim lab run", "netbootsim ipxe trace",
            "netbootsim bench flows"} <= set(pages)
    for prog, p in pages.items():
        text = p.format_help()
        for mark in ("`", ":func:", ":class:", ":mod:", "**"):
            assert mark not in text, (prog, mark)
    assert "netbootsim: a discrete-event simulator" in pages["netbootsim"].format_help()


@pytest.mark.parametrize("argv, line", [
    (["run"], "netbootsim run: error: the following arguments are required: scenarios"),
    (["run", "x.yaml", "--bogus"], "netbootsim run: error: unrecognized arguments: --bogus"),
    (["lab", "parse", "d", "--zz", "1"],
     "netbootsim lab parse: error: unrecognized arguments: --zz 1"),
    (["--zz", "models"], "netbootsim: error: unrecognized arguments: --zz"),
    (["--zz"], "netbootsim: error: the following arguments are required: command"),
    (["bench", "flows", "--flows", "many"],
     "netbootsim bench flows: error: argument --flows: invalid int value: 'many'"),
    (["nosuch"], "netbootsim: error: argument command: invalid choice: 'nosuch' (choose "
                 "from 'run', 'compare', 'models', 'sweep', 'plan', 'validate', 'transfer', "
                 "'bench', 'lab', 'calibrate', 'ipxe', 'validate-engines')"),
])
def test_usage_errors_are_one_argparse_line_exit_2(capsys, argv, line):
    # argparse's own form, PROG: error: MESSAGE, naming the (sub)command that refused,
    # on one line (no usage block before it), exit status 2
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err == line + "\n"


def test_help_imports_no_heavy_library():
    # `netbootsim --help` and a usage error build every parser: none may pull in the
    # libraries only a command's work needs (each costs tens to hundreds of ms)
    import subprocess
    import sys

    heavy = ["pandas", "matplotlib", "scipy", "jinja2", "networkx", "pydantic", "simpy",
             "numpy", "dpkt", "ruamel.yaml", "tqdm", "netbootsim.plan", "netbootsim.fleet",
             "netbootsim.scenario", "netbootsim.report", "netbootsim.lab"]
    code = ("import sys\nfrom netbootsim.cli import build_parser\nbuild_parser()\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_progress_bar_shows_servers_and_the_simulated_clock_without_an_eta():
    # a storm: 1 of 4,000 finished after 3 s of wall time would give tqdm an ETA of
    # hours; the bar has none, and shows the simulated clock instead
    from netbootsim.cli.common import ProgressBar, simulated

    bar = ProgressBar("storm")
    bar(1, 4000, 2.5)
    text = str(bar.bar)  # the line the bar draws
    bar.close()
    assert "storm: 1/4000 servers finished |" in text
    assert text.endswith("| 00:00 elapsed, simulated 2.50 s")
    assert "ETA" not in text and "<" not in text and "/s" not in text
    # 1.625 and 59.25 are exact in binary: a tie, rounded half to even as format does
    assert simulated(1.625) == "simulated 1.62 s" and simulated(9.999) == "simulated 10.00 s"
    assert simulated(59.25) == "simulated 59.2 s"
    assert simulated(3725.0) == "simulated 1:02:05"  # 3725 s = 1 h 2 min 5 s


def test_progress_is_called_while_no_server_finishes(monkeypatch):
    # every WATCH_EVERY steps the run tells the simulated time, not only when a server
    # finishes: with a step count of 50 the 40 servers of the quickstart (which all
    # finish at the end, sharing one link) are told about many times at done = 0, the
    # clock never going back, before the 40 calls of their finishing
    import importlib
    from pathlib import Path

    from netbootsim.plan.run import simulate
    from netbootsim.scenario import load_scenario

    monkeypatch.setattr(importlib.import_module("netbootsim.fleet.simulate"), "WATCH_EVERY",
                        50)  # (the package's name `simulate` is the function)
    calls = []
    out = simulate(load_scenario(Path(__file__).resolve().parents[2] / "scenarios" /
                                 "quickstart.yaml"),
                   progress=lambda done, total, now: calls.append((done, total, now)))
    assert out.summary["completed"] == 40
    before = [c for c in calls if c[0] == 0]
    assert len(before) > 3 and {total for _, total, _ in calls} == {40}
    assert any(0 < now < out.summary["makespan"] for _, _, now in before)
    times = [now for _, _, now in calls]
    assert times == sorted(times)  # the clock never goes back
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == 40
