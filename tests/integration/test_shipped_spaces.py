"""Every shipped space validates and runs one trial end to end (one epoch, in-process), and
MLflow shows only the params that were active in each trial. The sequence example reaches a
clearly better-than-chance accuracy at small size."""


import pytest

import cnntune
from cnntune.knobs import FAMILY
from cnntune.space import list_shipped

from .shipped import import_example

pytestmark = pytest.mark.slow



def test_all_the_documented_spaces_ship():
    assert {"default", "rich", "lenet", "vgg", "resnet", "mobilenet", "conv1d", "transfer",
            "families", "edge", "regression", "multilabel", "segmentation", "hybrid"} <= \
        set(list_shipped())


def _trial_runs(res, tmp_path):
    from mlflow import MlflowClient

    runs = MlflowClient(f"sqlite:///{tmp_path}/m.db").search_runs(
        [res.experiment_id], "tags.`cnntune.role` = 'trial'")
    for run in runs:
        family = run.data.tags["cnntune.family"]
        logged = set(run.data.params) - {"family", "cnntune.device"}  # the knobs
        uses = FAMILY[family].uses
        assert logged <= uses, logged - uses  # only what the family reads
    return runs


# families: the next test runs it, with more trials; the other tasks' spaces: their own
# modules (test_regression, test_multilabel, test_segmentation) run them
@pytest.mark.parametrize("name", [n for n in list_shipped() if n not in (
    "families", "regression", "multilabel", "segmentation")])
def test_shipped_space_runs_one_trial(name, tmp_path):
    res = cnntune.search(name, trials=1, epochs=1, isolate=False,
                         storage=f"sqlite:///{tmp_path}/o.db",
                         tracking_uri=f"sqlite:///{tmp_path}/m.db")
    # a space with more warm starts than --trials leaves the rest WAITING for the next run
    assert sum(n for s, n in res.counts.items() if s != "WAITING") == res.new_trials
    assert res.counts.get("COMPLETE", 0) >= 1, res.counts  # a trial trained and was scored
    _trial_runs(res, tmp_path)


def test_families_space_logs_only_active_params(tmp_path):
    res = cnntune.search("families", trials=4, epochs=1, seed=5, isolate=False,
                         storage=f"sqlite:///{tmp_path}/o.db",
                         tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert res.counts.get("COMPLETE", 0) >= 1, res.counts
    families = set()
    for run in _trial_runs(res, tmp_path):
        p = run.data.params
        families.add(p["family"])
        assert ("res_units" in p) == ("preactivation" in p) == (p["family"] == "resnet")
        assert ("width_multiplier" in p) == (p["family"] == "separable")
        assert ("convs_per_block" in p) == (p["family"] != "resnet")
    assert len(families) >= 2


def test_sequence_example_beats_chance(tmp_path):
    sequences = import_example("sequences")
    result = sequences.main(n=300, trials=2, epochs=8, workdir=tmp_path, isolate=False)
    assert result.best.metrics["test_accuracy"] >= 0.8  # 3 classes: chance is 0.33


def test_python_api_example_searches_and_serves_its_best_through_pyfunc(tmp_path):
    api = import_example("python_api")
    result, accuracy = api.main(trials=1, epochs=2, workdir=tmp_path, isolate=False)
    assert result.best is not None and (tmp_path / "mlruns" / "mlflow.db").exists()
    assert accuracy > 0.3  # 10 classes: chance is 0.1; the pyfunc model is the trained one


def test_image_folder_example_writes_and_searches_its_folder(tmp_path):
    example = import_example("image_folder")
    result = example.main(trials=1, epochs=3, workdir=tmp_path, isolate=False)
    assert len(list((tmp_path / "example_images").glob("digit_*/*.png"))) == 1797
    assert result.best.metrics["test_accuracy"] > 0.3  # 10 classes: chance is 0.1
