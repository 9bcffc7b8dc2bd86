"""Where a person opens a study, its trials or one trial in the MLflow UI.

A local store (SQLite) is served by ``cnntune ui`` on 127.0.0.1:``UI_PORT``; a tracking server
(http[s]://...) serves its own UI. The links are the UI's own routes (the part after ``#``).
"""

from __future__ import annotations

UI_PORT = 5000


def ui_base(tracking_uri: str, port: int = UI_PORT) -> str:
    """The UI's address for a tracking store: the server itself, or `cnntune ui`'s."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return f"http://127.0.0.1:{port}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


# MLflow 3.17's UI opens an experiment in its GenAI mode (traces, token usage) unless the URL
# says `workflowType=machine_learning`; the experiment tag mlflow.experimentKind no longer
# decides it. The runs table takes its filter and sort from the URL, but its columns only from
# a saved view: an experiment tag `mlflow.sharedViewState.<key>` opened with
# `viewStateShareKey=<key>` (and no filter or sort in that URL, or the view is skipped).
# Filtering or sorting also lists child runs flat, so every trial shows, not one collapsed
# study row. Checked against the 3.17.2 bundle and in headless Chromium (docs/ui.md).
TRIALS_VIEW = "cnntune-trials"
TRIALS_FILTER = "tags.`cnntune.role` = 'trial'"
VIEW_TAG = f"mlflow.sharedViewState.{TRIALS_VIEW}"


def trials_view_tags(objective: str, direction: str, params: list[str],
                     headline: str = "accuracy") -> dict[str, str]:
    """Experiment tags that make ``trials_url`` open the trials table: the trials only,
    best first, with the objective, the task's headline test figure (``test_<headline>``),
    epochs, size, duration and the searched params as columns."""
    metrics = (f"test_{headline}", "epochs", "n_params", "trial_seconds")
    import json
    import time

    columns = ([f"metrics.`{m}`" for m in dict.fromkeys((objective, *metrics))]
               + ["tags.`cnntune.state`", "tags.`cnntune.origin`"]
               + [f"params.`{p}`" for p in params])
    state = {"searchFilter": TRIALS_FILTER,
             "orderByKey": f"metrics.`{objective}`",
             "orderByAsc": direction == "minimize",
             "selectedColumns": columns,
             "columnOrder": columns}  # the objective first (the UI sorts them by name)
    view = {"name": "cnntune: trials, best first", "createdAt": int(time.time() * 1000),
            "state": json.dumps(state)}
    return {VIEW_TAG: json.dumps(view),
            "mlflow.experimentKind": "custom_model_development",  # what older/newer UIs read
            "mlflow.experiment.primaryMetric.name": objective}  # the charts' default metric


def trials_url(base: str, experiment_id: str, *, view: bool = True) -> str:
    """The link that opens a study on its trials table (see ``trials_view_tags``);
    ``view=False`` for a study made before those tags: its trials, flat, without the columns."""
    if view:
        return (f"{base}/#/experiments/{experiment_id}/runs?viewStateShareKey={TRIALS_VIEW}"
                "&workflowType=machine_learning")
    from urllib.parse import quote

    return (f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
            f"&searchFilter={quote(TRIALS_FILTER)}")


def next_commands(study: str, tracking_uri: str, *, best: bool = True) -> dict[str, str]:
    """The commands that go on from a study: list its trials, write its report, export its
    best model (where it has one)."""
    from .stores import DEFAULT_TRACKING_URI

    uri = "" if tracking_uri == DEFAULT_TRACKING_URI else f" --tracking-uri {tracking_uri}"
    out = {"trials": f"cnntune trials {study}{uri}",
           "report": f"cnntune report {study}{uri} --out {study}-report.html"}
    if best:
        out["export"] = f"cnntune export {study}{uri} --format onnx --out export/{study}"
    return out
