"""Calibration on the committed lab traces: what is fitted, from which runs, and how well."""

import shutil
from pathlib import Path

import pytest

from netbootsim.lab.calibrate import check, fit, load_runs, split_runs, write_measured
from netbootsim.profiles import PROFILE_DIR, load_profile

TRACES = Path(__file__).parents[1] / "data" / "lab" / "traces"
RWND = 256 * 1024  # the 2019 ROM's window, seen in the traces (512 × 2^9)


@pytest.fixture(scope="module")
def runs():
    return load_runs(sorted(str(p) for p in TRACES.iterdir() if p.is_dir()))


def test_runs_are_classified(runs):
    kinds = {r.name: r.kind for r in runs}
    assert kinds == {"chainload": "chainload", "http": "single", "tftp": "single",
                     "tftp-4guests": "contention", "tftp-4guests-max1": "contention"}


def test_fit_uses_single_guest_runs_only(runs):
    single = [r for r in runs if r.kind == "single"]
    f = fit(single, RWND)
    # TFTP: 184 + 733 blocks of the tftp run's kernel and initrd (> 50 blocks each)
    assert f.samples["tftp_client_block_delay"] == 917
    assert f.traces["tftp_client_block_delay"] == ["tftp"]
    # per-block time beyond the run's RTT (its mean ACK->DATA gap, ~27 µs, which holds
    # the server's cost): the client's DATA->ACK gap, ~55-65 µs under TCG
    assert 50e-6 < f.values["tftp_client_block_delay"] < 70e-6
    assert f.server_block_cost == 0.0
    # one HTTP run, at one round trip: the client's delay per round is not told from its
    # rate cap there (DELAY_SPAN), so only the cap is fitted
    assert "tcp_client_delay" not in f.values and "tcp_client_delay" not in f.traces
    assert f.traces["http_client_rate"] == ["http"]
    assert 1.0 < f.values["rom_start"] < 4.0  # SeaBIOS + ROM under TCG


def test_fit_reproduces_the_tftp_fetches(runs):
    single = [r for r in runs if r.kind == "single"]
    f = fit(single, RWND)
    rows = [r for r in check(single, f, RWND, "fit") if r["protocol"] == "tftp"]
    assert {r["phase"] for r in rows} == {"fetch:kernel", "fetch:initrd"}
    for r in rows:
        assert abs(r["error_pct"]) < 10.0, r


def test_write_measured_keeps_fixed_values(runs, tmp_path):
    target = tmp_path / "ipxe-2019-qemu.yaml"
    shutil.copy(PROFILE_DIR / "ipxe-2019-qemu.yaml", target)
    f = fit([r for r in runs if r.kind == "single"], RWND)
    write_measured(target, f)
    prof = load_profile(target)
    before = load_profile(PROFILE_DIR / "ipxe-2019-qemu.yaml")
    assert prof.tftp.blksize == before.tftp.blksize == 1432
    assert prof.tcp.rwnd == before.tcp.rwnd
    assert prof.tftp.client_block_delay == pytest.approx(
        f.values["tftp_client_block_delay"], abs=1e-7)
    assert prof.fitted_from["rom_start"] == ("http", "tftp")
    assert prof.calibrated
    assert "# iPXE as shipped" in target.read_text()  # comments kept


def test_committed_traces_reproduce_the_committed_profile():
    # docs/calibration.md and the profile were made by
    #   netbootsim calibrate lab/traces/*/ --profile ipxe-2019-qemu --holdout 3 --write ...
    # Re-fitting the committed traces the same way must give the committed values (to the
    # 4 significant digits the profile stores).
    root = Path(__file__).resolve().parents[2] / "lab" / "traces"
    runs = load_runs(sorted(str(p) for p in root.iterdir() if p.is_dir()))
    fit_runs, _, loss_fit, _ = split_runs(runs, 3)
    f = fit(fit_runs + loss_fit, RWND)
    prof = load_profile(PROFILE_DIR / "ipxe-2019-qemu.yaml")
    assert prof.calibrated
    assert prof.tftp.client_block_delay == pytest.approx(
        f.values["tftp_client_block_delay"], rel=1e-3)
    assert prof.tcp_client_delay == pytest.approx(f.values["tcp_client_delay"], rel=1e-3)
    assert prof.http_client_rate == pytest.approx(f.values["http_client_rate"], rel=1e-3)
    assert prof.http_request_overhead == pytest.approx(f.values["http_request_overhead"],
                                                       rel=1e-3)
    assert prof.rom_start == pytest.approx(f.values["rom_start"], rel=1e-3)
    assert set(prof.fitted_from["tftp_client_block_delay"]) == set(
        f.traces["tftp_client_block_delay"])


@pytest.mark.parametrize("profile, cell", [("ipxe-current-efi", "ovmf-chainload"),
                                           ("ipxe-current-arm64", "aavmf-chainload")])
def test_chained_fit_reproduces_the_committed_efi_profiles(profile, cell):
    # docs/calibration.md: netbootsim calibrate lab/traces3/CELL-r* --profile PROFILE
    #   --chained --write. r1 and r2 fitted, r3 held out (--holdout 3); only the chained
    # iPXE's part: its HTTP fetches and its start, not EDK2's DHCP and TFTP.
    from netbootsim.lab.calibrate import chain_starts

    root = Path(__file__).resolve().parents[2] / "lab" / "traces3"
    runs = load_runs(sorted(str(p) for p in root.glob(f"{cell}-r*")))
    assert {r.kind for r in runs} == {"chainload"}
    fit_runs, held, _, _ = split_runs(runs, 3, chained=True)
    assert [r.name for r in fit_runs] == [f"{cell}-r1", f"{cell}-r2"]
    assert [r.name for r in held] == [f"{cell}-r3"]
    f = fit(fit_runs, 2 * 2**20, chained=True)
    assert set(f.values) == {"http_client_rate", "http_request_overhead", "chain_start"}
    prof = load_profile(PROFILE_DIR / f"{profile}.yaml")
    assert prof.http_client_rate == pytest.approx(f.values["http_client_rate"], rel=1e-3)
    assert prof.http_request_overhead == pytest.approx(f.values["http_request_overhead"],
                                                       rel=1e-3)
    assert prof.chain_start == pytest.approx(f.values["chain_start"], rel=1e-3)
    # the start measured in each run: the boot file's last byte to the first DISCOVER of
    # the chained iPXE, 6.19-6.24 s (docs/calibration.md's table: 6.19-6.24 s)
    for run in runs:
        (c,) = chain_starts(run).values()
        assert 6.1 < c < 6.3
    # held out: the chained start within 1 %
    rows = check(held, f, 2 * 2**20, "held out", chained=True)
    (start,) = [r for r in rows if r["phase"] == "chained start"]
    assert abs(start["error_pct"]) < 1.0
    assert {r["phase"] for r in rows} == {"chained start", "fetch:kernel", "fetch:initrd"}
