"""Fuzzing the scenario loader and ``ipxe check`` (docs/limits.md).

Hypothesis builds scenarios from the shipped ones and mutates them — wrong types, huge and
tiny and non-finite numbers, units that do not exist, unicode, deep nesting, missing and
extra keys, broken YAML text — and builds iPXE scripts from iPXE's command set, mutated.
The only outcomes allowed: exit 0, or exit 2 with every line ``FILE:...`` naming the file;
never another status, a traceback (any exception other than the promised ones fails the
test), more than a few seconds or hundreds of MB for one case.

The default run tries a few hundred examples; ``pytest -m slow`` (CI) tens of thousands.
Every crash found becomes a regression case in ``REGRESSIONS`` below.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from netbootsim.cli import main
from netbootsim.ipxe.spec import SPECS

ROOT = Path(__file__).resolve().parents[2]
BASES = ["quickstart.yaml", "rack-tftp-vs-http.yaml", "ipxe-dynamic-api.yaml",
         "tftp-vs-http/3-tftp-rtt5.yaml", "published/xcat-apache-256-workers.yaml"]
#: ``--max-memory`` of each scenario case.
CASE_MEMORY = "1GB"
#: Peak RSS the whole fuzzing process may reach, bytes: a case that balloons shows here.
RSS_LIMIT = 2 * 2**30
#: ``NETBOOTSIM_FUZZ_LAST=FILE``: each case is also written there before it runs, so a
#: case that kills the whole process (which no assertion can report) can be found.
LAST_CASE = os.environ.get("NETBOOTSIM_FUZZ_LAST")
#: Messages seen, their numbers and quoted values blanked: the closing note's figure.
SEEN: dict[str, set[str]] = {"scenario": set(), "script": set()}
#: Cases run, by kind, and by exit status.
COUNT: dict[str, dict[int, int]] = {"scenario": {}, "script": {}}
#: ``NETBOOTSIM_FUZZ_STATS=FILE``: the figures above are written there as JSON at the end.
STATS = os.environ.get("NETBOOTSIM_FUZZ_STATS")


@pytest.fixture(scope="module", autouse=True)
def _stats():
    yield
    if STATS:
        Path(STATS).write_text(json.dumps({
            kind: {"cases": sum(COUNT[kind].values()), "by_exit_status": COUNT[kind],
                   "distinct_messages": len(SEEN[kind])} for kind in SEEN}, indent=1))


def _load(name: str) -> dict:
    return YAML(typ="safe", pure=True).load((ROOT / "scenarios" / name).read_text())


def _shrink(tree: dict) -> dict:
    """Fleets of at most 40 servers, so that a case validates in milliseconds."""
    topo = tree.get("topology", {})
    for key in ("racks",):
        if isinstance(topo.get(key), int):
            topo[key] = min(topo[key], 2)
    if isinstance(topo.get("servers"), int):
        topo["servers"] = min(topo["servers"], 40)
    for g in tree.get("fleet", []):
        if isinstance(g, dict) and isinstance(g.get("count"), int):
            g["count"] = min(g["count"], 20)
    tree.pop("variants", None)
    return tree


BASE_TREES = {name: _shrink(_load(name)) for name in BASES}

# -- values a mutation puts in ------------------------------------------------------------

UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "KB", "GB", "bps", "Gbps", "Tbps", "MB/s", "ns",
         "us", "ms", "s", "min", "h", "", "EiB", "parsec", "µs", "Gbit"]
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**9, 10**12, 1e308, 5e-324, 1e-12]))
QUANTITIES = st.builds(lambda n, u: f"{n}{u}", NUMBERS, st.sampled_from(UNITS))
TEXT = st.text(max_size=30)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, QUANTITIES, TEXT,
                   st.sampled_from(["tftp", "http", "api", "dhcp", "ipxe", "pxe", "rack",
                                    "leaf-spine", "kernel", "boot1", "http1", "tftp1",
                                    "compute", "link-down", "loss", "packet", "flow"]))


def _containers(kids: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(kids, max_size=4), st.dictionaries(TEXT, kids, max_size=4))


VALUES = st.recursive(LEAVES, _containers, max_leaves=12)


def _paths(node, path=()):
    """Every path into the tree (mappings and lists), the root included."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


#: The deepest a mutated tree may nest (the loader refuses beyond 64 levels; the test's
#: own dump of 300 nested lists is near Python's recursion limit).
NEST_DEPTH = 160


def _depth(node) -> int:
    """Levels of mappings and lists in ``node`` (0 for a scalar)."""
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


@st.composite
def mutated_tree(draw) -> dict:
    """A shipped scenario (shrunk) with one to four mutations."""
    import copy

    tree = copy.deepcopy(BASE_TREES[draw(st.sampled_from(BASES))])
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(tree))
        path = draw(st.sampled_from(paths))
        parent = _get(tree, path[:-1]) if path else None
        op = draw(st.sampled_from(["replace", "delete", "add", "nest", "retype", "dup"]))
        if not path:
            if op == "add":
                tree[draw(TEXT)] = draw(VALUES)
            continue
        key = path[-1]
        if op == "replace":
            parent[key] = draw(VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(TEXT)] = draw(VALUES)
        elif op == "nest":
            # deeper than the loader's limit (netbootsim.yamltext.MAX_DEPTH, 64), but at
            # most NEST_DEPTH in all: nests stacked by several mutations (up to 800
            # levels) made the test's own YAML dump overflow Python's stack, at a depth
            # that moved with hypothesis's frames (CI's one failure, 2026-12-07)
            value = parent[key]
            room = NEST_DEPTH - len(path) - _depth(value)
            if room < 1:
                continue
            for _ in range(draw(st.integers(1, min(200, room)))):
                value = [value]
            parent[key] = value
        elif op == "retype":
            value = parent[key]
            parent[key] = (list(value.values()) if isinstance(value, dict) else
                           {"x": value} if not isinstance(value, list) else
                           {str(i): v for i, v in enumerate(value)})
        elif op == "dup" and isinstance(parent, list):
            parent.append(parent[key])
    return tree


def _dump(tree) -> str:
    buf = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(tree, buf)
    return buf.getvalue()


@st.composite
def scenario_text(draw) -> str:
    """YAML text of a mutated scenario; sometimes the text itself is broken."""
    text = _dump(draw(mutated_tree()))
    how = draw(st.sampled_from(["as is", "as is", "as is", "splice", "cut", "tabs", "bytes"]))
    if how == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=20)) + text[at:]
    elif how == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif how == "tabs":
        text = text.replace("  ", "\t", draw(st.integers(1, 3)))
    elif how == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["\x00", "\ufeff", "\udcff", "&a", "*a",
                                                 "<<: *a", "!!python/object:os.system",
                                                 "{", "]", "'", "%YAML 9.9"])) + text[at:]
    return text


# -- iPXE scripts -------------------------------------------------------------------------

WORDS = st.one_of(st.sampled_from(["http://boot1/kernel", "tftp://tftp1/undionly.kpxe",
                                   "file:///etc/passwd", "${net0/mac}", "${serial:uristring}",
                                   "--timeout", "-t", "5000", "||", "&&", "goto", ":label",
                                   "${", "}", "--name", "kernel", "0x", "-1", "9" * 30]),
                  st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12))


@st.composite
def script_bytes(draw) -> bytes:
    """An iPXE script built from iPXE's command set, then mutated."""
    lines = ["#!ipxe"] if draw(st.booleans()) else [draw(st.text(max_size=10))]
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["command", "command", "label", "set", "chain"]))
        if kind == "label":
            lines.append(":" + draw(st.text(max_size=8)))
        elif kind == "set":
            lines.append(f"set {draw(WORDS)} {draw(WORDS)}")
        else:
            words = [draw(st.sampled_from(sorted(SPECS)))] + draw(st.lists(WORDS, max_size=6))
            if kind == "chain":
                words += ["||", draw(st.sampled_from(sorted(SPECS))), draw(WORDS)]
            lines.append(" ".join(words))
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["as is", "as is", "nul", "latin1", "long", "crlf"]))
    if how == "nul":
        text += b"\x00\x01\x02"
    elif how == "latin1":
        text += "\nécho café".encode("latin-1")
    elif how == "long":
        text += b"\necho " + b"x" * draw(st.integers(1000, 100_000))
    elif how == "crlf":
        text = text.replace(b"\n", b"\r\n")
    return text


# -- running a case -----------------------------------------------------------------------

_BLANK = re.compile(r"'[^']*'|\"[^\"]*\"|[-+]?\d[\d_,.e+]*")


def _run(argv: list[str]) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, (out.getvalue() + err.getvalue()).splitlines()


def _check(rc: int, lines: list[str], path: Path, kind: str, ok_lines: bool) -> None:
    COUNT[kind][rc] = COUNT[kind].get(rc, 0) + 1
    assert rc in (0, 2), (rc, lines)
    assert not any("Traceback" in x for x in lines)
    problems = [x for x in lines if not ok_lines or not x.startswith(f"{path}: OK")]
    if rc == 2:
        assert problems
    for line in problems:
        assert line.startswith(f"{path}:"), line
        SEEN[kind].add(_BLANK.sub("#", line[len(str(path)):]))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < RSS_LIMIT


def _scenario_case(tmp: Path, text: str) -> None:
    path = tmp / "fuzz.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    if LAST_CASE:  # the case a crash of the whole process (a segfault, the OOM killer) hit
        Path(LAST_CASE).write_bytes(text.encode("utf-8", "surrogatepass"))
    # a memory limit per case: what would need more than 1 GB is refused at once (the
    # memory guard), which also bounds the time (validating 10,000 servers takes ~2 s)
    rc, lines = _run(["validate", str(path), "--max-memory", CASE_MEMORY])
    _check(rc, lines, path, "scenario", ok_lines=True)


def _script_case(tmp: Path, data: bytes) -> None:
    path = tmp / "fuzz.ipxe"
    path.write_bytes(data)
    if LAST_CASE:
        Path(LAST_CASE).write_bytes(data)
    rc, lines = _run(["ipxe", "check", str(path)])
    _check(rc, lines, path, "script", ok_lines=False)


_WORKDIRS: dict[int, Path] = {}


def _workdir(tmp_path_factory) -> Path:
    """One folder for every case (with the inventory the API scenario names)."""
    key = id(tmp_path_factory)
    if key not in _WORKDIRS:
        tmp = tmp_path_factory.mktemp("fuzz")
        shutil.copytree(ROOT / "scenarios" / "inventory", tmp / "inventory")
        _WORKDIRS[key] = tmp
    return _WORKDIRS[key]


COMMON = dict(deadline=timedelta(seconds=5), derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])


@settings(max_examples=300, **COMMON)
@given(text=scenario_text())
def test_fuzzed_scenarios_exit_0_or_2_with_file_lines(tmp_path_factory, text):
    _scenario_case(_workdir(tmp_path_factory), text)


@settings(max_examples=300, **COMMON)
@given(data=script_bytes())
def test_fuzzed_ipxe_scripts_exit_0_or_2_with_file_lines(tmp_path_factory, data):
    _script_case(_workdir(tmp_path_factory), data)


@pytest.mark.slow
@settings(max_examples=15_000, **COMMON)
@given(text=scenario_text())
def test_fuzzed_scenarios_many(tmp_path_factory, text):
    _scenario_case(_workdir(tmp_path_factory), text)


@pytest.mark.slow
@settings(max_examples=15_000, **COMMON)
@given(data=script_bytes())
def test_fuzzed_ipxe_scripts_many(tmp_path_factory, data):
    _script_case(_workdir(tmp_path_factory), data)


#: Cases the fuzzer found that once crashed, kept as regressions (kind, text).
REGRESSIONS: list[tuple[str, str]] = [
    # a control character: ruamel.yaml's ReaderError printed two lines, the second without
    # the file ('  in "<unicode string>", position 0')
    ("scenario", "\x1ffleet:\n- {name: a, count: 1}\n"),
    # a record separator in a quoted option value broke the finding in two lines (Python's
    # splitlines, and any tool reading lines, takes \x1e as a line break)
    ("script", "\nboot --timeout \x1e"),
    # a YAML directive of an unknown version: KeyError (9, 9) inside ruamel.yaml's resolver
    ("scenario", "b: 2\n%YAML 9.9"),
]


@pytest.mark.parametrize("kind,text", REGRESSIONS or [pytest.param("", "", marks=pytest.mark.skip(
    reason="no crash found yet"))])
def test_fuzzer_regressions(tmp_path, kind, text):
    shutil.copytree(ROOT / "scenarios" / "inventory", tmp_path / "inventory")
    if kind == "scenario":
        _scenario_case(tmp_path, text)
    else:
        _script_case(tmp_path, text.encode("utf-8", "surrogatepass"))


def test_the_fuzzer_reaches_the_error_paths(tmp_path):
    # A fuzzer that never produces a refused file proves nothing: one mutation of each
    # kind, fixed, must be refused with a FILE line.
    from netbootsim.yamltext import MAX_DEPTH

    assert 2 * MAX_DEPTH <= NEST_DEPTH <= 200  # nests past the limit; dumps without overflow
    tree = BASE_TREES["quickstart.yaml"]
    for text in (_dump({**tree, "fleet": [{"count": "1e400GiB"}]}), "a: [" * 100,
                 _dump(tree).replace("  ", "\t", 1)):
        path = tmp_path / "fuzz.yaml"
        path.write_text(text)
        rc, lines = _run(["validate", str(path)])
        assert rc == 2 and lines and all(x.startswith(f"{path}:") for x in lines), lines
    path = tmp_path / "fuzz.ipxe"
    path.write_bytes(b"#!ipxe\nkernal http://x/k\n\x00")
    rc, lines = _run(["ipxe", "check", str(path)])
    assert rc == 2 and lines and all(x.startswith(f"{path}:") for x in lines), lines
