"""The bad-input corpus: each file in tests/data/bad/ holds one mistake a user makes.

``netbootsim run FILE --out DIR`` (in-process) must end with exit status 2, name the mistake as
``FILE:LINE: FIELD: message`` on stderr (no traceback) and write nothing. Each file's
first line says what to expect::

    # expect: LINE FIELD [TEXT]

``FIELD`` is the dotted field path, or ``-`` for a file-level error (YAML syntax) that
names no field; ``TEXT``, when given, must appear in the same problem line (e.g. the
"did you mean" suggestion).
"""

from pathlib import Path

import pytest

BAD = sorted((Path(__file__).parents[1] / "data" / "bad").glob("*.yaml"))


def _expect(path: Path) -> tuple[int, str, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    line, field, *text = first.removeprefix("# expect: ").split(" ", 2)
    return int(line), field, text[0] if text else ""


def test_corpus_is_there():
    assert len(BAD) >= 9


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_input_named_by_file_line_and_field(path, tmp_path, capsys, monkeypatch):
    # In-process: any exception but the promised InputError (which main() turns into exit 2
    # and lines on stderr) fails the test; tests/inputs/ runs the same in a subprocess.
    from netbootsim.cli import main

    line, field, text = _expect(path)
    monkeypatch.chdir(tmp_path)
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    problems = err.splitlines()
    assert problems and all(p.startswith(f"{path}:") for p in problems), err
    where = f"{path}:{line}: " + ("" if field == "-" else f"{field}: ")
    hits = [p for p in problems if p.startswith(where)]
    assert hits, f"no problem at {where!r}:\n{err}"
    assert any(text in p for p in hits), f"{text!r} not in {hits}"
    # nothing written: not the --out directory, not results/ under the working directory
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_validate_and_run_refuse_the_same_files_alike(path, tmp_path, capsys, monkeypatch):
    # `validate` and `run` share one validation: every file `run` refuses, `validate`
    # refuses with the same lines (nothing is refused only when the servers run).
    from netbootsim.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 2
    validate = capsys.readouterr()
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    run = capsys.readouterr()
    assert validate.err and validate.err == run.err
    assert validate.out == run.out == ""
    assert list(tmp_path.iterdir()) == []
