"""The bibliography rule: defaults cite ``docs/sources.md`` by key, never internal notes.

Two checks. (a) No tracked file names the developers' internal notes (they live outside
the repository and are not sources; cite the original they took a fact from). Only
this file and ``.ci/run`` (which describes the CI layout, ``../shared`` beside the
clone) are exempt. (b) Every citation key — lower case letters, digits and hyphens in
square brackets after a space or an opening parenthesis, e.g.
``net/udp/tftp.c:368-370 [ipxe-src]`` — in the package's docstrings, comments, strings
(adjacent literals joined) and firmware profiles, in the scenarios' comments, the
benchmarks and the docs, is an entry of ``docs/sources.md``. Inline code (between
backticks) and a string that is only ``"[name]"`` are not citations.
"""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
BIBLIOGRAPHY = ROOT / "docs" / "sources.md"

#: Names of the internal notes (spelt in pieces so that a search of the tree for them
#: finds only real citations).
NOTES = ("REFERENCE" + "-NUMBERS", "IPXE" + "-FACTS", "../" + "shared")
#: Files allowed to name them, and which.
EXEMPT = {"tests/test_sources.py": NOTES, ".ci/run": ("../" + "shared",)}

#: A citation: ``[key]`` after whitespace or ``(``, not a Markdown link (``[text](url)``).
CITATION = re.compile(r"(?<=[\s(])\[([a-z0-9][a-z0-9-]*[a-z0-9])\](?!\()")
#: An entry of the bibliography: ``- **[key]** reference``.
ENTRY = re.compile(r"^- \*\*\[([a-z0-9][a-z0-9-]*[a-z0-9])\]\*\*", re.MULTILINE)
#: Inline code, dropped before looking for citations: ``` ``x`` ``` or `` `x` ``.
CODE_SPAN = re.compile(r"``.*?``|`[^`\n]*`", re.DOTALL)


def tracked_files() -> list[str]:
    """Paths of the files git tracks (relative to the root); skip outside a checkout."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                             capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [p for p in out.decode().split("\0") if p]


def defined_keys() -> set[str]:
    """Keys of the bibliography's entries (each defined once)."""
    keys = ENTRY.findall(BIBLIOGRAPHY.read_text(encoding="utf-8"))
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    assert not dupes, f"docs/sources.md defines these keys twice: {dupes}"
    return set(keys)


def cited(text: str) -> list[str]:
    """Citation keys in ``text``, inline code left out."""
    return CITATION.findall(CODE_SPAN.sub(" ", text))


def _literal(token: str) -> str:
    """A string token's text without its prefix and quotes."""
    text = re.sub(r'^[rbuRBUfF]*("""|\'\'\'|"|\')', "", token)
    return re.sub(r'("""|\'\'\'|"|\')$', "", text)


def python_prose(source: str) -> list[str]:
    """The comments and string literals of Python source (docstrings included).

    Adjacent literals (implicit concatenation, across lines) are joined into one text,
    so a key that begins the second literal still follows the first one's space.
    """
    out: list[str] = []
    run: list[str] = []
    fstring = 0  # nesting of Python 3.12+ f-string tokens
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        name = tokenize.tok_name[tok.type]
        if tok.type == tokenize.COMMENT:
            out.append(tok.string.lstrip("#"))
        elif tok.type == tokenize.STRING:
            run.append(_literal(tok.string))
        elif name == "FSTRING_START":
            fstring += 1
        elif name == "FSTRING_END":
            fstring -= 1
        elif name == "FSTRING_MIDDLE":
            run.append(tok.string)
        elif fstring or tok.type == tokenize.NL:  # inside an f-string, or a line break
            continue                                # inside brackets: the run goes on
        elif run:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return out


def comments(text: str) -> list[str]:
    """The ``#`` comments of a YAML file (whole-line or trailing)."""
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def profile_sources(path: Path) -> list[str]:
    """The ``source`` strings of a firmware profile, and its comments."""
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    fixed = data.get("fixed") or {}
    return [str(v.get("source", "")) for v in fixed.values() if isinstance(v, dict)] \
        + comments(path.read_text(encoding="utf-8"))


def citations_in_tree() -> dict[str, list[str]]:
    """``path -> keys cited`` over the package, profiles, scenarios, benchmarks and docs."""
    found: dict[str, list[str]] = {}
    files = [ROOT / p for p in tracked_files()]
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if not path.is_file():
            continue
        if rel.startswith(("netbootsim/", "benchmarks/")) and rel.endswith(".py"):
            parts = python_prose(path.read_text(encoding="utf-8"))
        elif rel.startswith("netbootsim/profiles/") and rel.endswith(".yaml"):
            parts = profile_sources(path)
        elif rel.startswith("scenarios/") and rel.endswith(".yaml"):
            parts = comments(path.read_text(encoding="utf-8"))
        elif rel == "README.md" or (rel.startswith("docs/") and rel.endswith(".md")):
            parts = [path.read_text(encoding="utf-8")]
        else:
            continue
        keys = [k for part in parts for k in cited(part)]
        if keys:
            found[rel] = keys
    return found


def test_no_file_cites_the_internal_notes():
    offenders = []
    for rel in tracked_files():
        path = ROOT / rel
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        data = path.read_bytes()
        allowed = EXEMPT.get(rel, ())
        for note in NOTES:
            if note not in allowed and note.encode() in data:
                offenders.append(f"{rel}: {note}")
    assert not offenders, ("internal notes are not sources; cite the original (see "
                           "docs/sources.md) instead:\n" + "\n".join(offenders))


def test_every_cited_key_is_in_the_bibliography():
    keys = defined_keys()
    found = citations_in_tree()
    assert any("[ipxe-src]" in f"[{k}]" for ks in found.values() for k in ks), \
        "no citation found at all: the scan is broken"
    missing = sorted({f"{rel}: [{k}]" for rel, ks in found.items() for k in ks
                      if k not in keys})
    assert not missing, "keys cited but not in docs/sources.md:\n" + "\n".join(missing)


#: An RFC named in prose: ``RFC 2131``, ``RFCs 1350/2348``, ``RFC 6928, 5681 and 2861``.
RFC_NAMED = re.compile(r"\bRFCs?\s?(\d{3,4}(?:(?:\s?/\s?|,\s?|\s(?:and|or)\s)\d{3,4})*)")


def rfcs_without_key(text: str) -> list[str]:
    """RFC numbers named in a block of ``text`` (blank-line separated) without its key.

    ``RFC 2131 §4.3.1 [rfc2131]`` cites; ``RFC 2131 §4.3.1`` alone in its paragraph
    (docstring paragraph, comment block, list item run, Markdown paragraph) does not.
    """
    missing = []
    for block in re.split(r"\n[ \t]*\n", CODE_SPAN.sub(" ", text)):
        for m in RFC_NAMED.finditer(block):
            missing += [n for n in re.findall(r"\d{3,4}", m.group(1))
                        if f"[rfc{n}]" not in block]
    return missing


def test_every_rfc_named_carries_its_key():
    # code, docstrings, comments and messages of the package and the benchmarks, the
    # firmware profiles, the scenarios, the README and the docs: an RFC is cited by its
    # key in the same paragraph, so a reader can follow it to docs/sources.md
    offenders = []
    for rel in tracked_files():
        path = ROOT / rel
        if not path.is_file() or rel == "docs/sources.md":
            continue
        if (rel.startswith(("netbootsim/", "benchmarks/")) and rel.endswith((".py", ".yaml"))) \
                or (rel.startswith("scenarios/") and rel.endswith(".yaml")) \
                or rel == "README.md" or (rel.startswith("docs/") and rel.endswith(".md")):
            offenders += [f"{rel}: RFC {n}"
                          for n in rfcs_without_key(path.read_text(encoding="utf-8"))]
    assert not offenders, ("cite an RFC by its key in the same paragraph, e.g. "
                           "'RFC 2131 §4.3.1 [rfc2131]':\n" + "\n".join(offenders))


@pytest.mark.parametrize("text, missing", [
    ("giaddr picks the pool (RFC 3046 [rfc3046], RFC 2131 §4.3.1 [rfc2131]).", []),
    ("TFTP (RFC 1350/2348/7440) and\nTCP [rfc1350]", ["2348", "7440"]),
    ("RFC 6928, 5681 and 2861 [rfc6928] [rfc5681]", ["2861"]),
    ("RFC 768 here.\n\n[rfc768] in the next paragraph does not count", ["768"]),
    ("in code: `RFC 1350`, and RFC\n1123 [rfc1123] across a line break", []),
])
def test_rfc_rule_syntax(text, missing):
    assert rfcs_without_key(text) == missing


def test_every_profile_value_names_a_source():
    for path in sorted((ROOT / "netbootsim" / "profiles").glob("*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        for name, value in (data.get("fixed") or {}).items():
            assert str(value.get("source", "")).strip(), f"{path.name}: {name} has no source"


@pytest.mark.parametrize("text, keys", [
    ("blksize 1432 (net/udp/tftp.c:368-370 [ipxe-src])", ["ipxe-src"]),
    ("RFC 2131 §4.3.1 [rfc2131], RFC 3046 [rfc3046]", ["rfc2131", "rfc3046"]),
    ("code: fleet[10], xs[name], '.[dev]', ``prompt [text]``, `[null]`", []),
    ("a Markdown [link](https://example.com) and [x] and [ ]", []),
])
def test_citation_syntax(text, keys):
    assert cited(text) == keys


@pytest.mark.parametrize("source, keys", [
    ('X = ("iPXE config/dhcp.h, "\n     "[ipxe-src]")  # PXE spec [pxe-spec]\n',
     ["ipxe-src", "pxe-spec"]),
    ('def f():\n    """Doc (retry.c [ipxe-src])."""\n', ["ipxe-src"]),
    ('if key == "[key]":\n    x = d[name]\n', []),
])
def test_citations_in_python(source, keys):
    assert sorted(k for part in python_prose(source) for k in cited(part)) == keys


def test_a_typo_in_a_key_is_caught():
    keys = defined_keys()
    assert "ipxe-src" in keys
    assert [k for k in cited("iPXE net/retry.c [ipxe-scr]") if k not in keys] == ["ipxe-scr"]
