"""examples/quickstart.ipynb runs end to end in a Jupyter kernel (tiny budget), so it cannot
rot: its search shows one updating display, its report shows inline."""

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs_end_to_end(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("CNNTUNE_QUICKSTART_TRIALS", "1")
    monkeypatch.setenv("CNNTUNE_QUICKSTART_EPOCHS", "2")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {i: c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    errors = [o for outs in outputs.values() for o in outs if o.output_type == "error"]
    assert not errors, errors
    fit = next(outs for i, outs in outputs.items() if "clf.fit(" in nb.cells[i].source)
    # the progress: one panel (a display updated in place), not a line per trial; then the
    # summary
    shown = [re.sub(r"<[^>]+>", "", o["data"].get("text/html", "")) for o in fit
             if o.output_type == "display_data"]
    panels = [t for t in shown if "elapsed" in t]
    assert len(panels) == 1 and "COMPLETE" in panels[0], shown
    text = "".join(shown)
    assert "best trial 0" in text and "trial   0 (1)" not in text
    evaluate = next(outs for i, outs in outputs.items()
                    if nb.cells[i].source.startswith("clf.evaluate"))
    assert "'accuracy'" in evaluate[0]["data"]["text/plain"]
    report = next(outs for i, outs in outputs.items() if nb.cells[i].source == "clf.report()")
    assert "<iframe srcdoc=" in report[0]["data"]["text/html"]
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
    assert os.listdir(tmp_path / "mlruns" / "estimators")
