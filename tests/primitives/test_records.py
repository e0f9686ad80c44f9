"""Records kept by column (PhaseLog, ServerLog): the frame equals the rows, exactly."""

import math

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from netbootsim.records import (
    PHASE_COLUMNS,
    SERVER_COLUMNS,
    PhaseLog,
    PhaseRecord,
    ServerLog,
    ServerRecord,
    servers_frame,
    to_frame,
)

#: A hand-built run of two servers: s1 powers on, gets its lease, fetches its kernel over
#: HTTP (12 MiB in 0.5 s); s2 powers on and fails DHCP after 4 DISCOVERs.
ROWS = [
    ("storm", 7, "s1", "g", "r01", "boot", "power-on", 1, 0.0, 0.0, 0.0, "", "", "ok", ""),
    ("storm", 7, "s2", "g", "r01", "boot", "power-on", 1, 0.0, 0.0, 0.0, "", "", "ok", ""),
    ("storm", 7, "s1", "g", "r01", "boot", "dhcp", 1, 2.0, 5.5, 0.0, "", "dhcp1", "ok", ""),
    ("storm", 7, "s1", "g", "r01", "boot", "fetch:kernel", 1, 5.5, 6.0, 12582912.0, "http",
     "http1", "ok", ""),
    ("storm", 7, "s2", "g", "r01", "boot", "dhcp", 1, 2.0, 17.0, 0.0, "", "dhcp1", "failed",
     "no DHCPOFFER after 4 DISCOVERs (15 s)"),
]


def expected_phases(rows) -> pd.DataFrame:
    # the rows as they are, one per record, with seconds = end - start
    frame = pd.DataFrame(rows, columns=PHASE_COLUMNS).astype(
        {"seed": "int64", "attempt": "int64", "start": "float64", "end": "float64",
         "bytes": "float64"})
    frame["seconds"] = frame["end"] - frame["start"]
    return frame


def test_a_hand_built_phase_log_makes_the_expected_frame():
    log = PhaseLog()
    for row in ROWS[:3]:
        log.add(*row)
    log.extend(PhaseRecord(*row) for row in ROWS[3:])  # records, as the lab parser has them
    frame = log.frame()
    pd.testing.assert_frame_equal(frame, expected_phases(ROWS))
    # seconds: 0, 0, 5.5 - 2.0 = 3.5, 6.0 - 5.5 = 0.5, 17 - 2 = 15
    assert frame["seconds"].tolist() == [0.0, 0.0, 3.5, 0.5, 15.0]
    assert list(frame.columns) == [*PHASE_COLUMNS, "seconds"]
    assert frame.dtypes["seed"] == "int64" and frame.dtypes["start"] == "float64"
    # text kept once per distinct value, in the order it first came
    assert log.distinct("phase") == ["power-on", "dhcp", "fetch:kernel"]
    assert log.distinct("server") == ["s1", "s2"] and log.distinct("run") == ["storm"]
    # read row by row, the log gives the records back
    assert len(log) == 5 and log
    assert list(log) == [PhaseRecord(*row) for row in ROWS]
    assert log[3] == PhaseRecord(*ROWS[3]) and log[-1] == PhaseRecord(*ROWS[-1])
    assert log[1:3] == [PhaseRecord(*row) for row in ROWS[1:3]]
    assert log.column("end").tolist() == [0.0, 0.0, 5.5, 6.0, 17.0]
    # to_frame of the records themselves is the same frame
    pd.testing.assert_frame_equal(to_frame([PhaseRecord(*row) for row in ROWS]), frame)
    pd.testing.assert_frame_equal(to_frame(log), frame)


def test_an_empty_log_has_the_columns_and_no_rows():
    log = PhaseLog()
    assert not log and len(log) == 0 and list(log) == []
    frame = log.frame()
    assert list(frame.columns) == [*PHASE_COLUMNS, "seconds"] and len(frame) == 0
    assert list(ServerLog().frame().columns) == SERVER_COLUMNS
    try:
        log[0]
    except IndexError:
        pass
    else:
        raise AssertionError("an empty log has no row 0")


def test_a_server_log_makes_the_servers_frame():
    # s1 ready 3.5 s after its power-on at 1 s: seconds 2.5; s2 never ready: NaN
    recs = [ServerRecord("s1", "g", "r01", 1.0, 3.5, "ok", "", 10.0),
            ServerRecord("s2", "g", "", 2.0, math.nan, "failed", "dhcp: no offer", 0.0)]
    log = ServerLog()
    for r in recs:
        log.append(r)
    frame = log.frame()
    expected = pd.DataFrame([("s1", "g", "r01", 1.0, 3.5, 2.5, "ok", "", 10.0),
                             ("s2", "g", "", 2.0, math.nan, math.nan, "failed",
                              "dhcp: no offer", 0.0)], columns=SERVER_COLUMNS)
    pd.testing.assert_frame_equal(frame, expected)
    pd.testing.assert_frame_equal(servers_frame(recs), expected)
    assert list(log)[0] == recs[0] and log[1].reason == "dhcp: no offer"
    assert math.isnan(log[1].ready)


text = st.sampled_from(["", "a", "b", "fetch:kernel", "dhcp: no offer", "é"])
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
records = st.builds(PhaseRecord, text, st.integers(0, 2**62), text, text, text, text, text,
                    st.integers(1, 99), numbers, numbers, numbers, text, text, text, text)


@given(st.lists(records, max_size=30))
def test_any_records_come_back_whole(recs):
    # invariant: the log keeps every field of every record, in order, and its frame is the
    # row-wise frame of the same records
    log = PhaseLog(recs)
    assert list(log) == recs and len(log) == len(recs)
    frame = log.frame()
    if recs:
        pd.testing.assert_frame_equal(frame, expected_phases([tuple(
            getattr(r, c) for c in PHASE_COLUMNS) for r in recs]))
    assert len(frame) == len(recs)


def test_settle_keeps_every_row_and_makes_the_codes_anew():
    # 300 servers: codes 257..299 are int objects made as their server first came;
    # settle() makes them again (fresh objects, same numbers), rows and frame unchanged.
    log = PhaseLog()
    for i in range(300):
        log.add("storm", 7, f"s{i}", "g", "r01", "boot", "power-on", 1, float(i), float(i),
                0.0, "", "", "ok", "")
    rows, frame = list(log), log.frame()
    codes = log._cols["server"].index
    old = codes["s299"]
    log.settle()
    assert list(log) == rows
    pd.testing.assert_frame_equal(log.frame(), frame)
    assert log._cols["server"].index["s299"] == 299
    assert log._cols["server"].index["s299"] is not old
    assert log.distinct("server") == [f"s{i}" for i in range(300)]


def test_recovered_counts_failed_phases_of_servers_that_got_ready():
    # s1 (ready) failed one kernel fetch for 2 s ("A"); s3 (ready) failed one for 1 s
    # ("A") and one DHCP for 3 s ("B"); s2 failed for good: its failed phases are in
    # the failures table, not here. So A: 2 attempts, 2 servers, 3 s; B: 1, 1, 3 s.
    from netbootsim.plan.summary import recovered

    servers = pd.DataFrame({"server": ["s1", "s2", "s3"], "outcome": ["ok", "failed", "ok"]})
    phases = pd.DataFrame({
        "server": ["s1", "s1", "s2", "s3", "s3", "s3"],
        "outcome": ["failed", "ok", "failed", "failed", "failed", "ok"],
        "reason": ["A", "", "A", "A", "B", ""],
        "seconds": [2.0, 5.0, 7.0, 1.0, 3.0, 4.0]})
    assert recovered(servers, phases) == {
        "A": {"attempts": 2, "servers": 2, "seconds": 3.0},
        "B": {"attempts": 1, "servers": 1, "seconds": 3.0}}
    assert recovered(servers, phases.iloc[0:0]) == {}
