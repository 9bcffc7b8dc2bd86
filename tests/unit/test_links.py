"""The links and saved view that make the MLflow UI open a study on its trials."""

import json

from cnntune.tracking.links import VIEW_TAG, trials_url, trials_view_tags, ui_base


def test_the_saved_view_sorts_by_the_objective_in_its_direction_and_shows_it_first():
    for objective, direction, ascending in (("val_accuracy", "maximize", False),
                                            ("val_loss", "minimize", True)):
        tags = trials_view_tags(objective, direction, ["filters", "learning_rate"])
        view = json.loads(tags[VIEW_TAG])
        state = json.loads(view["state"])
        assert state["orderByKey"] == f"metrics.`{objective}`"
        assert state["orderByAsc"] is ascending
        assert state["searchFilter"] == "tags.`cnntune.role` = 'trial'"
        assert state["selectedColumns"][0] == f"metrics.`{objective}`"
        assert state["columnOrder"] == state["selectedColumns"]
        assert "params.`learning_rate`" in state["selectedColumns"]
        assert len(tags[VIEW_TAG]) < 20000  # MLflow's limit for an experiment tag


def test_links_point_at_cnntune_ui_or_at_the_tracking_server():
    assert ui_base("sqlite:///mlruns/mlflow.db") == "http://127.0.0.1:5000"
    assert ui_base("http://mlflow:5000/") == "http://mlflow:5000"
    url = trials_url("http://h:1", "4")
    assert url == ("http://h:1/#/experiments/4/runs?viewStateShareKey=cnntune-trials"
                   "&workflowType=machine_learning")
    # a study made before the saved view: its trials, flat, by a filter in the URL
    assert "searchFilter=tags.%60cnntune.role%60" in trials_url("http://h:1", "4", view=False)
