"""The example notebooks run, say what they claim, and are committed with their outputs.

They are run as a reader runs them after ``pip install -e '.[dev]'``: ``jupyter
nbconvert --to notebook --execute`` (nbconvert is in the ``dev`` extra for this).
"""

import re
import subprocess
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _streams(nb) -> list[str]:
    """The printed text of every code cell, in order."""
    return ["".join(o["text"] for o in c.get("outputs", []) if o["output_type"] == "stream")
            for c in nb.cells if c.cell_type == "code"]


def _execute(path: Path, tmp_path: Path):
    """Run the notebook as a reader would; the executed notebook (no cell failed)."""
    r = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                        "--execute", "--ExecutePreprocessor.timeout=300",
                        "--output-dir", str(tmp_path), str(path)],
                       capture_output=True, text=True, timeout=600, check=False,
                       cwd=NOTEBOOKS)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if o["output_type"] == "error"]
    return nb


def test_tftp_vs_http_notebook_runs(tmp_path):
    path = NOTEBOOKS / "tftp-vs-http.ipynb"
    committed = nbformat.read(path, as_version=4)
    # fails (exit status 1) on any failing cell: the notebook asserts that its
    # hand-derived TFTP makespan equals the simulated one
    nb = _execute(path, tmp_path)
    text = "\n".join(_streams(nb))
    m = re.search(r"TFTP/HTTP makespan ratio: LAN ([\d.]+)x, 5 ms RTT ([\d.]+)x", text)
    assert m, text
    lan, rtt5 = float(m.group(1)), float(m.group(2))
    # on the LAN both fill the 25 Gb/s link; at 5 ms TFTP is one RTT per 1432-byte block
    assert 0.9 < lan < 1.1 and rtt5 > 30
    # the committed outputs are this run's (the notebook is deterministic)
    assert _streams(nb) == _streams(committed)


def test_capacity_planning_notebook_runs(tmp_path):
    path = NOTEBOOKS / "capacity-planning.ipynb"
    committed = nbformat.read(path, as_version=4)
    # fails on any failing cell: the notebook asserts that the recommended design is the
    # cheapest feasible row of designs.csv
    nb = _execute(path, tmp_path)
    text = "\n".join(_streams(nb))
    assert "recommended: link=" in text and "ranking: link >" in text, text
    assert _streams(nb) == _streams(committed)
