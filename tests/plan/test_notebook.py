"""The example notebooks run, say what they claim, and are committed with their outputs."""

import re
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _streams(nb) -> list[str]:
    """The printed text of every code cell, in order."""
    return ["".join(o["text"] for o in c.get("outputs", []) if o["output_type"] == "stream")
            for c in nb.cells if c.cell_type == "code"]


def test_tftp_vs_http_notebook_runs():
    path = NOTEBOOKS / "tftp-vs-http.ipynb"
    committed = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    # raises CellExecutionError on any failing cell (the notebook asserts that its
    # hand-derived TFTP makespan equals the simulated one)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if o["output_type"] == "error"]
    text = "\n".join(_streams(nb))
    m = re.search(r"TFTP/HTTP makespan ratio: LAN ([\d.]+)x, 5 ms RTT ([\d.]+)x", text)
    assert m, text
    lan, rtt5 = float(m.group(1)), float(m.group(2))
    # on the LAN both fill the 25 Gb/s link; at 5 ms TFTP is one RTT per 1432-byte block
    assert 0.9 < lan < 1.1 and rtt5 > 30
    # the committed outputs are this run's (the notebook is deterministic)
    assert _streams(nb) == _streams(committed)
