"""Deployment-aware search: two objectives, constraints marked infeasible, the Pareto front,
--pick, and the latency-budget example at small size."""


import pytest

import cnntune

from .pages import plotly_traces
from .shipped import import_example

pytestmark = pytest.mark.slow

SPACE = """
name: mo
data: {source: digits, val_fraction: 0.2, test_fraction: 0.2}
training: {epochs: 2, patience: 2, seed: 0}
search: {algorithm: random, trials: 6}
objectives: [val_accuracy, n_params]
constraints: {max_params: 40000, max_size_mb: 0.05}
params:
  n_blocks: {type: int, low: 1, high: 3}
  filters: [4, 8, 16, 32, 64]
  dense_units: [0, 64]
  learning_rate: {type: float, low: 2.0e-3, high: 1.0e-2, log: true}
  batch_size: 128
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("mo")
    (root / "mo.yaml").write_text(SPACE)
    uri = f"sqlite:///{root}/mlflow.db"
    storage = f"journal:{root}/o.journal"
    res = cnntune.search(root / "mo.yaml", study="mo", isolate=False, storage=storage,
                         tracking_uri=uri)
    return {"root": root, "uri": uri, "storage": storage, "result": res}


def test_constraint_violations_are_infeasible_everywhere(study):
    from cnntune.tuning.engines.optuna import OptunaEngine
    from cnntune.space import parse_space
    from cnntune.tracking.studies import StudyView

    sp = parse_space(SPACE)
    eng = OptunaEngine(sp, "mo", study["storage"], directions=sp.directions)
    eng.open()
    trials = eng._study.get_trials(deepcopy=False)
    assert [d.name for d in eng._study.directions] == ["MAXIMIZE", "MINIMIZE"]
    runs = {t.number: t for t in StudyView("mo", study["uri"]).trials()}
    violated = 0
    for t in trials:
        m = t.user_attrs["metrics"]
        over = m["n_params"] > 40000 or m.get("size_mb", 0) > 0.05
        violated += over
        assert t.constraints, t.number  # every trial carries its constraint values
        assert (max(t.constraints.values()) > 0) == over
        if t.state.name == "COMPLETE":
            assert runs[t.number].tags["cnntune.feasible"] == str(not over).lower()
            assert t.values[1] == m["n_params"]
        else:  # too big to train: skipped before any epoch
            assert t.state.name == "PRUNED" and m["n_params"] > 40000 and "epochs" not in m
    assert 0 < violated < len(trials)
    # a trial can train, be measured, and only then be over a constraint (size, not params):
    # it is COMPLETE and infeasible, and the best is never one of those
    trained_over = [t for t in trials if t.state.name == "COMPLETE" and
                    max(t.constraints.values()) > 0]
    assert trained_over, [(t.state.name, t.user_attrs["metrics"].get("size_mb")) for t in trials]
    assert study["result"].best.number not in {t.number for t in trained_over}
    best = study["result"].best
    assert best.metrics["n_params"] <= 40000 and best.metrics["size_mb"] <= 0.05


def test_pareto_front_is_non_dominated_and_complete(study):
    from cnntune.reports.pareto import feasible_trials, front, front_frame
    from cnntune.tracking.studies import StudyView

    view = StudyView("mo", study["uri"])
    on = front(view)
    feas = feasible_trials(view)
    assert on and all(t.tags["cnntune.feasible"] == "true" for t in on)

    def dominates(a, b):
        (aa, ap), (ba, bp) = [(t.metrics["val_accuracy"], t.metrics["n_params"]) for t in (a, b)]
        return aa >= ba and ap <= bp and (aa > ba or ap < bp)

    for t in on:  # nothing feasible dominates a front member
        assert not any(dominates(o, t) for o in feas if o is not t)
    for t in feas:  # and every feasible trial off the front is dominated by a member
        if t not in on:
            assert any(dominates(o, t) for o in on)
    table = front_frame(view)
    assert list(table["number"]) == [t.number for t in on]


def test_pareto_command_and_pick(study, tmp_path):
    from click.testing import CliRunner

    from cnntune.cli import cli
    from cnntune.reports.pareto import feasible_trials, front, pick
    from cnntune.tracking.studies import StudyView

    def run(*args):  # in this process: what a shell runs is test_cli's business
        return CliRunner().invoke(cli, [*args, "--tracking-uri", study["uri"]],
                                  catch_exceptions=False)

    r = run("pareto", "mo", "--out", str(tmp_path / "front.html"))
    assert r.exit_code == 0, r.stderr
    assert "Pareto front" in r.stdout
    view = StudyView("mo", study["uri"])
    # the page draws the front's members, and only them, on its front line
    drawn = {t["name"]: t for t in plotly_traces((tmp_path / "front.html").read_text())}
    members = sorted(front(view), key=lambda t: t.metrics["n_params"])
    assert drawn["Pareto front"]["text"] == [f"trial {t.number}" for t in members]
    assert drawn["Pareto front"]["y"] == pytest.approx(
        [t.metrics["val_accuracy"] for t in members])
    feas = feasible_trials(view)
    floor = sorted(t.metrics["val_accuracy"] for t in feas)[len(feas) // 2]
    chosen = pick(view, "smallest-above", floor)
    ok = [t for t in feas if t.metrics["val_accuracy"] >= floor]
    assert chosen == min(ok, key=lambda t: (t.metrics["n_params"], t.number)).number
    r = run("export", "mo", "--pick", "fastest-above 0.5", "--out", str(tmp_path / "x"))
    assert r.exit_code == 0, r.stderr  # max_size_mb made every trial measure its latency
    ok = [t for t in feas if t.metrics["val_accuracy"] >= 0.5]
    fastest = min(ok, key=lambda t: (t.metrics["latency_ms"], t.number)).number
    assert f"--pick fastest-above 0.5: trial {fastest}" in r.stderr
    r = run("export", "mo", "--pick", "fastest-above 1.01", "--out", str(tmp_path / "y"))
    assert r.exit_code == 2 and "reaches val_accuracy >= 1.01" in r.stderr


def test_latency_budget_example(tmp_path):
    latency_budget = import_example("latency_budget")
    # 0.02 ms splits this seed's trials: the smallest (2 blocks x 16, ~0.005 ms here) fits,
    # the wider ones (0.04-0.26 ms here) do not
    budget = 0.02
    result, report = latency_budget.main(budget_ms=budget, trials=4, epochs=1,
                                         workdir=tmp_path, isolate=False)
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = client.search_runs([result.experiment_id], "tags.`cnntune.role` = 'trial'")
    feasible = {r.data.tags["cnntune.feasible"] == "true": r for r in runs}
    assert set(feasible) == {True, False}  # the budget really split them
    for r in runs:  # each trial's tag agrees with its measured latency
        assert (r.data.tags["cnntune.feasible"] == "true") == \
            (r.data.metrics["latency_ms"] <= budget), r.data
    assert result.best is not None and result.best.metrics["latency_ms"] <= budget
    assert report.passed and (tmp_path / "edge" / "model.tflite").exists()
