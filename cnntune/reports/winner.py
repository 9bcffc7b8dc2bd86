"""The report's sections on the winning trial: what it is (params, test figures, export size
and latency where measured), its architecture, its learning curves, how it errs on the test
split (confusion matrix, misclassified examples), where it looks (Grad-CAM) and how it
compares with the classical baselines on the same splits.

Everything but the learning curves needs the trial's logged model and the study's data, both
loaded once; a trial whose model was not logged gets the sections that need neither.
"""

from __future__ import annotations

import functools
import html
import io
from typing import Any

import numpy as np

from ..catalog import TASKS
from ..tasks import confusion
from .confusion import confusion_html
from .page import Section, png_tag, table_html

GRID = 16  # examples in the misclassified and the Grad-CAM grids


def winner_sections(view, best) -> list[Section]:
    model = data = None
    if best.model_logged:
        from .._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
        model = view.load_model(best)
        data = view.load_data()
    # a winner cut at the deadline before its test split was scored: scored here
    scored_now = view.test_figures(best, model, data) \
        if model is not None and "test" in best.unscored else {}
    sections = [_summary(view, best, scored_now)]
    curves = learning_curves(view, best)
    if curves is not None:
        sections.append(Section(f"Trial {best.number}: learning curves").figure(
            "winner-curves", curves))
    if model is not None:
        sections.append(Section(f"Trial {best.number}: architecture").html(architecture(model)))
        sections += ERRORS[data.task.name](view, best, model, data)
    else:
        sections.append(Section(f"Trial {best.number}: model", note=(
            "its model was not logged, so its architecture, confusion matrix and Grad-CAM are "
            f"not shown; <code>cnntune export {html.escape(view.study)} --retrain</code> "
            "trains it again")))
    baselines = _baselines(view, best)
    if baselines is not None:
        sections.append(baselines)
    return sections


def _summary(view, best, scored_now: dict[str, float] | None = None) -> Section:
    import pandas as pd

    m = {**best.metrics, **(scored_now or {})}
    rows = [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in best.params.items()]
    params = pd.DataFrame(rows, columns=["param", "value"])
    figures = {"objective": view.objective, view.objective: m.get(view.objective)}
    for k in (*(f"{split}_{f}" for f in view.task.figures for split in ("test", "val")),
              "epochs", "best_epoch", "n_params", "fit_seconds", "trial_seconds"):
        if k in m:
            figures[k] = m[k]
    figures["export size (MB)"] = m.get("size_mb", "not measured")
    figures["latency (ms per image)"] = m.get("latency_ms", "not measured")
    measured = pd.DataFrame(list(figures.items()), columns=["figure", "value"])
    measured["value"] = [f"{v:.4g}" if isinstance(v, float) else str(v)
                         for v in measured["value"]]
    note = ("export size and latency are measured when the space has a <code>latency:</code> "
            "section or a size or latency constraint" if "latency_ms" not in m else "")
    if scored_now:
        note += (" The test figures were scored now, from the weights the trial kept when the "
                 "search's deadline cut it, before its test split was scored.")
    if "val" in best.unscored:
        note += (f" Its {html.escape(view.objective)} is its best check's, measured on that "
                 "check's part of the validation split.")
    return (Section(f"The winner: trial {best.number}", note=note)
            .html('<div style="display:flex;gap:3em;align-items:flex-start">'
                  + table_html(params) + table_html(measured) + "</div>"))


def learning_curves(view, best):
    """Loss and the other per-epoch metrics of one trial, train and validation side by side,
    against passes over the training split (a study checked n times a pass logs n points a
    pass); the learning rate, where logged, in a last panel of its own on a log axis (on a
    score's axis a 1e-3 rate draws as a flat 0)."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    names = sorted(k[len("epoch/"):] for k in best.metrics if k.startswith("epoch/"))
    rates = [n for n in ("learning_rate", "lr") if n in names][:1]  # the schedule, not a score
    bases = sorted({n[4:] if n.startswith("val_") else n for n in names}
                   - {"lr", "learning_rate"}, key=lambda n: (n != "loss", n))
    if not bases:
        return None
    checks = int(view.settings.get("checks_per_epoch", 1))
    panels = [(base, ((base, "dot"), (f"val_{base}", "solid"))) for base in bases]
    panels += [("learning rate", ((rate, "solid"),)) for rate in rates]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels])
    for col, (_, lines) in enumerate(panels, 1):
        for name, dash in lines:
            if name not in names:
                continue
            hist = sorted(view.client.get_metric_history(best.run_id, f"epoch/{name}"),
                          key=lambda h: h.step)
            fig.add_trace(go.Scatter(x=[h.step / checks for h in hist], y=[h.value for h in hist],
                                     mode="lines+markers", name=name,
                                     line=dict(dash=dash)), row=1, col=col)
    if rates:
        fig.update_yaxes(type="log", row=1, col=len(panels))
    fig.update_xaxes(title="epoch")
    fig.update_layout(template="plotly_white", height=360, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def architecture(model) -> str:
    """The model's layers (name, kind, output shape, parameters) as an HTML table."""
    import pandas as pd

    rows = []
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = ""
        rows.append({"layer": layer.name, "kind": type(layer).__name__,
                     "output shape": str(shape).replace("None", "batch"),
                     "params": layer.count_params() if layer.built else 0})
    df = pd.DataFrame(rows)
    total = int(model.count_params())
    return (f"<p>{len(rows)} layers, {total:,} parameters "
            f"({sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} trainable).</p>"
            + table_html(df))


def _errors(view, best, model, data) -> list[Section]:
    """Confusion matrix, misclassified test examples and a Grad-CAM grid on the test split."""
    meta = view.data_spec
    names = [str(n) for n in meta["class_names"]]
    x = data.test.x.astype("float32")
    y = np.asarray(data.test.y).astype(int)
    probs = np.asarray(model.predict(x, batch_size=256, verbose=0))
    pred = probs.argmax(1)
    cm = confusion(y, pred, len(names))
    accuracy = float((pred == y).mean())
    out = [Section(f"Trial {best.number}: test confusion matrix", note=(
        f"{len(y)} test examples, accuracy {accuracy:.4f}; rows are the true class, columns "
        "the predicted one; recall is per row, precision per column")).html(
        confusion_html(cm, names))]
    shown = x * float(meta["prep"].get("scale", 1.0)) if meta.get("kind") != "sequence" else x
    from .explain import grid_png, gradcam, spread

    wrong = np.flatnonzero(pred != y)
    if len(wrong):
        idx = wrong[spread(y[wrong], GRID)]
        out.append(Section(f"Trial {best.number}: misclassified test examples", note=(
            f"{len(wrong)} of {len(y)} wrong; up to {GRID} shown, spread over the true "
            "classes")).html(_png(grid_png, shown[idx], None, probs[idx], y[idx], names,
                                 [f"test #{i}" for i in idx], "misclassified")))
    idx = spread(y, GRID)
    try:
        maps, cam_probs = gradcam(model, x[idx])
    except Exception as exc:  # a model without a spatial layer to explain
        out.append(Section(f"Trial {best.number}: Grad-CAM", note=html.escape(
            f"not drawn: {type(exc).__name__}: {exc}")))
    else:
        out.append(Section(f"Trial {best.number}: Grad-CAM", note=(
            "where the model looked for the class it predicted (red: most); titles in red are "
            "wrong")).html(_png(grid_png, shown[idx], maps, cam_probs, y[idx], names,
                                [f"test #{i}" for i in idx], "Grad-CAM", jpeg=True)))
    return out


def _value_errors(view, best, model, data) -> list[Section]:
    """A regression's test predictions against the truth, one panel per target, and the
    test examples it is furthest off on."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    meta = view.data_spec
    names = [str(n) for n in meta["class_names"]]
    x = data.test.x.astype("float32")
    y = np.asarray(data.test.y, "float64").reshape(len(x), -1)
    pred = np.asarray(model.predict(x, batch_size=256, verbose=0), "float64").reshape(y.shape)
    scores = data.task.label_scores(y, pred, "")
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for k in range(len(names)):
        lo, hi = float(min(y[:, k].min(), pred[:, k].min())), \
            float(max(y[:, k].max(), pred[:, k].max()))
        fig.add_trace(go.Scatter(x=y[:, k], y=pred[:, k], mode="markers", name=names[k],
                                 marker=dict(size=4, opacity=0.5)), row=1, col=k + 1)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False,
                                 line=dict(dash="dot", color="grey")), row=1, col=k + 1)
    fig.update_xaxes(title="true")
    fig.update_yaxes(title="predicted")
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=50, r=20, t=50, b=40))
    out = [Section(f"Trial {best.number}: test predictions against the truth", note=(
        f"{len(y)} test examples, rmse {scores['rmse']:.4g}, mae {scores['mae']:.4g}, "
        f"r2 {scores['r2']:.4f}; on the dotted line a prediction is exact")).figure(
        "winner-values", fig)]
    import pandas as pd

    off = np.abs((pred - y) / y.std(axis=0).clip(min=1e-12)).mean(axis=1)
    worst = np.argsort(-off)[:GRID]
    rows = [{"test example": int(i), **{f"true {n}": y[i, k] for k, n in enumerate(names)},
             **{f"predicted {n}": pred[i, k] for k, n in enumerate(names)}} for i in worst]
    out.append(Section(f"Trial {best.number}: the test examples furthest off", note=(
        "by mean absolute error in target standard deviations")).html(
        table_html(pd.DataFrame(rows).round(4))))
    return out


def _label_errors(view, best, model, data) -> list[Section]:
    """A multi-label model's test figures per label at its thresholds (tuned on validation),
    and a Grad-CAM grid of each predicted label."""
    import pandas as pd
    from sklearn.metrics import precision_recall_fscore_support

    meta = view.data_spec
    names = [str(n) for n in meta["class_names"]]
    x = data.test.x.astype("float32")
    y = np.asarray(data.test.y) > 0.5
    probs = np.asarray(model.predict(x, batch_size=256, verbose=0))
    decision = data.task.decide(model, data.val)
    pred = probs >= np.asarray(decision["thresholds"])
    p, r, f, support = precision_recall_fscore_support(y, pred, zero_division=0)
    table = pd.DataFrame({"label": names, "threshold": decision["thresholds"],
                          "precision": p, "recall": r, "f1": f, "test examples": support,
                          "predicted": pred.sum(axis=0)}).round(4)
    scores = data.task.label_scores(y, pred, "")
    out = [Section(f"Trial {best.number}: test figures per label", note=(
        f"{len(y)} test examples, micro-F1 {scores['micro_f1']:.4f}, macro-F1 "
        f"{scores['macro_f1']:.4f}, exact match {scores['exact_match']:.4f}; a label is "
        "predicted at or above its threshold, tuned on the validation split")).html(
        table_html(table))]
    from .explain import grid_png, gradcam, spread

    idx = spread(data.task.strata(y), GRID // 2)
    rows, outputs, titles = data.task.explained(probs[idx], y[idx], names, decision)
    shown = x * float(meta["prep"].get("scale", 1.0)) if meta.get("kind") != "sequence" else x
    rows, outputs, titles = rows[:GRID], outputs[:GRID], titles[:GRID]
    try:
        maps, cam_probs = gradcam(model, x[idx][rows], outputs)
    except Exception as exc:  # a model without a spatial layer to explain
        out.append(Section(f"Trial {best.number}: Grad-CAM", note=html.escape(
            f"not drawn: {type(exc).__name__}: {exc}")))
    else:
        captions = [f"test #{idx[i]}" for i in rows]
        out.append(Section(f"Trial {best.number}: Grad-CAM per predicted label", note=(
            "where the model looked for each label it predicted (red: most); '(not there)' "
            "marks a label the example does not have")).html(_png(
                functools.partial(grid_png, titles=[f"{t}\n{c}" for t, c in zip(titles,
                                                                                 captions)]),
                shown[idx][rows], maps, cam_probs, None, names, captions, "Grad-CAM",
                jpeg=True)))
    return out


def _mask_errors(view, best, model, data) -> list[Section]:
    """A segmentation's test IoU per class and, for a few test images, the image, the true
    mask and the predicted one drawn over it."""
    import pandas as pd

    from ..deploy.predict import class_colours, overlay
    from ..tasks import class_iou, labelled_pixels
    from .explain import spread

    meta = view.data_spec
    names = [str(n) for n in meta["class_names"]]
    x = data.test.x.astype("float32")
    y = np.asarray(data.test.y).astype(int)
    pred = np.asarray(model.predict(x, batch_size=64, verbose=0)).argmax(-1)
    cm = confusion(*labelled_pixels(y, pred.reshape(-1)), len(names))  # void pixels left out
    scores = data.task.label_scores(y, pred, "")
    table = pd.DataFrame({"class": names, "IoU": class_iou(cm),
                          "true pixels": cm.sum(axis=1), "predicted pixels": cm.sum(axis=0)})
    out = [Section(f"Trial {best.number}: test IoU per class", note=(
        f"{len(y)} test images, mean IoU {scores['mean_iou']:.4f}, Dice {scores['dice']:.4f}, "
        f"pixel accuracy {scores['pixel_accuracy']:.4f}")).html(table_html(table.round(4)))]
    colours = class_colours(len(names))
    idx = spread(data.task.strata(y), GRID // 2)
    shown = x[idx] * float(meta["prep"].get("scale", 1.0))
    rows = [np.concatenate([overlay(img, np.zeros_like(t), colours), overlay(img, t, colours),
                            overlay(img, p, colours)], axis=1)
            for img, t, p in zip(shown, y[idx], pred[idx])]
    from PIL import Image

    grid = Image.fromarray(np.concatenate(rows, axis=0))
    scale = max(1, 360 // grid.width)
    grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    grid.save(buf, "PNG")
    legend = ", ".join(f'<span style="color:rgb{tuple(int(v) for v in colours[i])}">'
                       f"&#9632;</span> {html.escape(n)}" for i, n in enumerate(names) if i)
    out.append(Section(f"Trial {best.number}: test images, true and predicted masks", note=(
        f"each row: the image, the true mask over it, the predicted mask over it; {legend}"))
        .html(png_tag(buf.getvalue(), "masks")))
    return out


# what the report shows of the winner's errors, per task (catalog.TASKS)
ERRORS = {"classification": _errors, "regression": _value_errors, "multilabel": _label_errors,
          "segmentation": _mask_errors}
assert tuple(ERRORS) == TASKS, "the report draws every task's errors"


def _png(draw, *args, jpeg: bool = False) -> str:
    """The drawing as an inline image; ``jpeg`` for heat-map overlays, which PNG cannot
    compress (a 16-example Grad-CAM grid: 430 KB as PNG, about 60 KB as JPEG)."""
    buf = io.BytesIO()
    draw(buf, *args)
    if not jpeg:
        return png_tag(buf.getvalue(), args[-1])
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(buf.getvalue())).convert("RGB").save(out, "JPEG", quality=80)
    return png_tag(out.getvalue(), args[-1], mime="image/jpeg")


def _baselines(view, best) -> Section | None:
    import pandas as pd

    found = view.baselines()
    if not found:
        return None
    h = view.task.headline
    cols = (f"val_{h}", f"test_{h}", "fit_seconds")
    rows: list[dict[str, Any]] = [{"model": f"CNN (trial {best.number})",
                                   **{c: best.metrics.get(c) for c in cols}}]
    rows += [{"model": b["name"], **{c: b["metrics"].get(c) for c in cols}} for b in found]
    df = pd.DataFrame(rows, columns=["model", *cols])
    return Section("The winner beside the baselines", note=(
        "classical models fitted on the same splits (cnntune search --baselines)")).html(
        table_html(df))
