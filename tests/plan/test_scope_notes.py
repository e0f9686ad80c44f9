"""The report says plainly what a run's times leave out of a whole boot."""

from __future__ import annotations

from small_scenarios import scenario

from netbootsim.plan.assemble import fleet_inputs, left_out, scope_notes
from netbootsim.scenario import Scenario, build

NO_DHCP = ("No DHCP service in this scenario: the servers fetch without DHCP, so these "
           "times leave out iPXE's or the ROM's DHCP exchange (seconds: its timers, the "
           "server's ping check); add a kind: dhcp service for a whole boot.")
MINUTES = ("a physical server's POST and UEFI or BIOS start take minutes before that "
           "(profiles server-uefi, server-bios), not in these times.")


def notes(sc: dict) -> list[str]:
    return left_out(fleet_inputs(build(Scenario.from_dict(sc))))


def test_no_dhcp_service_and_no_post_are_said():
    sc = scenario()
    del sc["services"]["dhcp1"]
    assert notes(sc) == [NO_DHCP, "Group 'g': no POST before the boot ROM (firmware "
                                  f"'ipxe-current': no ROM start (0: not measured)); {MINUTES}"]


def test_a_measured_rom_start_is_named_with_its_value():
    sc = scenario()
    sc["fleet"][0]["profile"] = "ipxe-2019-qemu"
    assert notes(sc) == ["Group 'g': no POST before the boot ROM (firmware 'ipxe-2019-qemu': "
                         f"its ROM start 2.223 s, measured in the lab); {MINUTES}"]


def test_a_whole_boot_leaves_nothing_to_say():
    # DHCP, and a server class whose POST is drawn per server before its UEFI PXE client
    sc = scenario()
    sc["images"]["ipxe.efi"] = {"size": "1MiB"}
    sc["fleet"][0].update(boot="pxe-chainload-ipxe", rom="server-uefi",
                          boot_files={"uefi": "ipxe.efi"})
    assert notes(sc) == []


def test_the_notes_go_into_every_report_after_the_scope():
    sc = scenario()
    del sc["services"]["dhcp1"]
    inputs = fleet_inputs(build(Scenario.from_dict(sc)))
    all_notes = scope_notes(inputs)
    assert all_notes[2:4] == left_out(inputs)
    assert "do DHCP when the scenario has a DHCP service" in all_notes[0]
