"""Units: every unit, bits vs bytes, IEC vs SI, errors that name the value, round trips."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbootsim.units import (
    RATE_UNITS,
    SIZE_UNITS,
    TIME_UNITS,
    UnitError,
    format_rate,
    format_size,
    format_time,
    parse_quantity,
    parse_rate,
    parse_size,
    parse_time,
)

SIZES = {
    "1B": 1, "1KB": 1e3, "1MB": 1e6, "1GB": 1e9, "1TB": 1e12,
    "1KiB": 1024, "1MiB": 1048576, "1GiB": 1073741824, "1TiB": 1099511627776,
}
RATES = {
    # bits per second: divided by 8 into bytes/s
    "8bps": 1, "8Kbps": 1e3, "8Mbps": 1e6, "8Gbps": 1e9, "8Tbps": 1e12,
    # bytes per second
    "1B/s": 1, "1KB/s": 1e3, "1MB/s": 1e6, "1GB/s": 1e9,
    "1KiB/s": 1024, "1MiB/s": 1048576, "1GiB/s": 1073741824,
}
TIMES = {"1ns": 1e-9, "1us": 1e-6, "1ms": 1e-3, "1s": 1, "1min": 60, "1h": 3600}


def test_tables_cover_every_unit():
    assert {t[1:] for t in SIZES} == set(SIZE_UNITS)
    assert {t[1:] for t in RATES} == set(RATE_UNITS)
    assert {t[1:] for t in TIMES} == set(TIME_UNITS)


@pytest.mark.parametrize("text,value", SIZES.items())
def test_every_size_unit(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text,value", RATES.items())
def test_every_rate_unit(text, value):
    assert parse_rate(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text,value", TIMES.items())
def test_every_time_unit(text, value):
    assert parse_time(text) == pytest.approx(value, rel=1e-15)


def test_bits_vs_bytes_never_guessed():
    # 25 Gb/s of bits is 3.125 GB/s of bytes; "25GB/s" is eight times more.
    assert parse_rate("25Gbps") == 3.125e9
    assert parse_rate("25GB/s") == 25e9
    assert parse_rate("25GB/s") == 8 * parse_rate("25Gbps")


def test_iec_vs_si():
    assert parse_size("350MiB") == 350 * 2**20 == 367001600
    assert parse_size("350MB") == 350e6
    assert parse_rate("1MiB/s") / parse_rate("1MB/s") == pytest.approx(1.048576)


def test_number_forms():
    assert parse_size("1.5 MiB") == 1.5 * 2**20
    assert parse_size(" 2KiB ") == 2048
    assert parse_time(".5s") == 0.5
    assert parse_time("1e3ms") == 1.0
    assert parse_time("2.5E-3s") == 0.0025
    assert parse_quantity("250us", "time") == pytest.approx(250e-6)


@pytest.mark.parametrize("value", [1000, 1000.0, "1000", True, None])
def test_missing_unit_names_the_value(value):
    with pytest.raises(UnitError) as e:
        parse_size(value)
    assert repr(value) in str(e.value)
    assert "MiB" in str(e.value)  # lists the units to choose from


@pytest.mark.parametrize(
    "parse,text,unit",
    [(parse_size, "80Mb", "'Mb'"), (parse_rate, "25Gbit", "'Gbit'"),
     (parse_rate, "10MBps", "'MBps'"), (parse_time, "3sec", "'sec'"),
     (parse_size, "1Gbps", "'Gbps'"), (parse_rate, "1GiB", "'GiB'")],
)
def test_unknown_unit_names_value_and_unit(parse, text, unit):
    with pytest.raises(UnitError) as e:
        parse(text)
    msg = str(e.value)
    assert repr(text) in msg and "unknown" in msg and unit in msg


@pytest.mark.parametrize("text", ["MiB", "12 34MiB", "1..2s", "", "abc"])
def test_malformed_names_the_value(text):
    with pytest.raises(UnitError, match=repr(text).replace(".", r"\.")):
        parse_size(text)


def test_not_finite():
    with pytest.raises(UnitError, match="not a finite size"):
        parse_size("1e400TiB")


def test_format():
    assert format_size(1048576) == "1MiB"
    assert format_rate(3.125e9) == "25Gbps"
    assert format_time(250e-6) == "250us"
    assert format_time(90) == "1.5min"
    assert format_time(7200) == "2h"


_finite = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(_finite, st.sampled_from(sorted(SIZE_UNITS)))
def test_parse_round_trip_size(x, unit):
    assert parse_size(f"{x!r}{unit}") == pytest.approx(x * SIZE_UNITS[unit], rel=1e-12)


@given(_finite, st.sampled_from(sorted(RATE_UNITS)), st.sampled_from(sorted(TIME_UNITS)))
def test_parse_round_trip_rate_time(x, rate_unit, time_unit):
    assert parse_rate(f"{x!r}{rate_unit}") == pytest.approx(x * RATE_UNITS[rate_unit],
                                                            rel=1e-12)
    assert parse_time(f"{x!r} {time_unit}") == pytest.approx(x * TIME_UNITS[time_unit],
                                                             rel=1e-12)


@given(st.floats(min_value=1e-9, max_value=1e13, allow_nan=False))
def test_format_then_parse_round_trip(x):
    # format_* keeps 4 significant digits: the round trip is exact to 5e-4 relative.
    assert parse_size(format_size(x)) == pytest.approx(x, rel=5e-4)
    assert parse_rate(format_rate(x)) == pytest.approx(x, rel=5e-4)
    assert parse_time(format_time(x)) == pytest.approx(x, rel=5e-4)
    assert math.isfinite(parse_time(format_time(x)))
