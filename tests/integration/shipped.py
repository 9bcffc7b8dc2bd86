"""What the integration tests share: a study of one warm-started trial of a shipped space (the
regression, multi-label and segmentation modules each stand in for their space's one-trial
run in test_shipped_spaces), and importing an example module to run it."""

import cnntune
from cnntune.tracking.studies import StudyView


def one_trial_study(root, space: str, study: str, *, objective: str, task: str) -> dict:
    """Search ``space`` for one trial of 2 epochs (its first warm start) into stores under
    ``root``; {root, uri, result, view}."""
    uri = f"sqlite:///{root}/mlflow.db"
    res = cnntune.search(space, study=study, trials=1, epochs=2, isolate=False,
                         storage=f"sqlite:///{root}/optuna.db", tracking_uri=uri)
    assert res.best is not None and res.objective == objective and res.task == task
    return {"root": root, "uri": uri, "result": res, "view": StudyView(study, uri)}


def import_example(name: str):
    """The module examples/<name>.py, imported as a test runs it."""
    import importlib
    import sys
    from pathlib import Path

    examples = str(Path(__file__).resolve().parents[2] / "examples")
    sys.path.insert(0, examples)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(examples)
