"""The study's description in MLflow: Markdown that the UI renders above the study run and
the experiment (the ``mlflow.note.content`` tag), written when a search ends: the best
trial, its params, its test figures, the baselines, and the commands that go on from there."""

from __future__ import annotations

from ..tasks import task
from .links import next_commands, run_url, trials_url, ui_base


def study_note(result, baselines: list[dict]) -> str:
    """Markdown for a ``SearchResult`` and the baselines logged beside its trials."""
    counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(result.counts.items()))
    base = ui_base(result.tracking_uri)
    lines = [f"### cnntune study `{result.study}`", "",
             f"{sum(result.counts.values())} trials ({counts}); objective "
             f"`{result.objective}` ({result.direction}); "
             f"[all trials, best first]({trials_url(base, result.experiment_id)}).", ""]
    b = result.best
    learn = task(result.task)
    h = learn.headline
    if b is None:
        lines += ["No trial has completed yet.", ""]
    else:
        m = b.metrics
        link = run_url(base, result.experiment_id, b.run_id) if b.run_id else None
        head = f"**Best: trial {b.number}**"
        lines += [f"{head}: {result.objective} **{b.value:.4f}**"
                  + (f", test {h} **{m[f'test_{h}']:.4f}**" if f"test_{h}" in m else "")
                  + (f", {int(m['n_params']):,} parameters" if "n_params" in m else "")
                  + (f", {round(m['epochs'], 2):g} epochs" if "epochs" in m else "")
                  + (f" ([its run]({link}))" if link else "") + ".", ""]
        lines += ["| param | value |", "| --- | --- |"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in b.params.items()]
        tested = {k: m[k] for k in (*(f"test_{f}" for f in learn.figures), "latency_ms",
                                    "size_mb") if k in m}
        if tested:
            lines += ["", "| test figure | value |", "| --- | --- |"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in tested.items()]
        lines.append("")
    if baselines:
        lines += ["**Baselines** on the same splits:", "",
                  f"| model | val_{h} | test_{h} |", "| --- | --- | --- |"]
        lines += [f"| {x['name']} | {_fmt(x['metrics'].get(f'val_{h}'))} | "
                  f"{_fmt(x['metrics'].get(f'test_{h}'))} |" for x in baselines]
        lines.append("")
    lines += ["Go on from here:", "", "```",
              *next_commands(result.study, result.tracking_uri, best=b is not None).values()]
    lines += ["```", ""]
    return "\n".join(lines)


def study_line(result) -> str:
    """One line for the experiment's description: the experiments list shows it raw, and the
    experiment page clamps it to two lines."""
    link = trials_url(ui_base(result.tracking_uri), result.experiment_id)
    b = result.best
    h = task(result.task).headline
    best = (f"best trial {b.number}, {result.objective} {b.value:.4f}"
            + (f" (test {h} {b.metrics[f'test_{h}']:.4f})"
               if f"test_{h}" in b.metrics else "") if b else "no completed trial yet")
    return (f"cnntune study `{result.study}`: {best}; [all trials, best first]({link}); "
            "the study run's description has the details.")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
