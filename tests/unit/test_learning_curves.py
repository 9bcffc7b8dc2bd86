"""The winner's learning curves: scores side by side, the learning rate on a log axis of its own."""

from types import SimpleNamespace

from cnntune.reports.winner import learning_curves


def _view_and_best(metrics: dict[str, list[float]], checks: int = 1):
    history = {f"epoch/{k}": [SimpleNamespace(step=i, value=v) for i, v in enumerate(vals)]
               for k, vals in metrics.items()}
    client = SimpleNamespace(get_metric_history=lambda run_id, key: history[key])
    view = SimpleNamespace(client=client, settings={"checks_per_epoch": checks})
    best = SimpleNamespace(run_id="r", metrics={k: v[-1] for k, v in history.items()})
    return view, best


def test_the_learning_rate_gets_its_own_log_axis_apart_from_the_scores():
    view, best = _view_and_best({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6],
                                 "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7],
                                 "learning_rate": [1e-3, 5e-4]})
    fig = learning_curves(view, best)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["loss", "accuracy", "learning rate"]
    rate = next(t for t in fig.data if t.name == "learning_rate")
    assert rate.yaxis == "y3" and list(rate.y) == [1e-3, 5e-4]
    assert fig.layout.yaxis3.type == "log"
    assert fig.layout.yaxis.type != "log" and fig.layout.yaxis2.type != "log"
    # the scores' panels hold no learning rate
    assert {t.name for t in fig.data if t.yaxis in ("y", "y2")} == {
        "loss", "val_loss", "accuracy", "val_accuracy"}


def test_without_a_logged_rate_there_is_no_rate_panel_and_steps_become_epochs():
    view, best = _view_and_best({"loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [1, 1, 1, 1]},
                                checks=2)
    fig = learning_curves(view, best)
    assert [a.text for a in fig.layout.annotations] == ["loss"]
    assert list(fig.data[0].x) == [0.0, 0.5, 1.0, 1.5]
