"""A trial's confusion matrix (counted by ``tasks.confusion``) drawn as a PNG with PIL
(the study logs one per completed trial, between trials, so it must be quick)."""

from __future__ import annotations

import io

import numpy as np

CELL = 30  # pixels a cell


def confusion_png(cm: np.ndarray, names: list[str], title: str = "") -> bytes:
    """The matrix as a PNG: rows the true class, columns the predicted one, each cell shaded
    by its share of its row (blue on the diagonal, red off it) and labelled with its count."""
    from PIL import Image, ImageDraw, ImageFont

    cm = np.asarray(cm)
    n = len(names)
    font = ImageFont.load_default()
    label = [str(name)[:12] for name in names]
    left = 8 + 7 * max(len(t) for t in label)
    top = 22 + 7 * max(len(t) for t in label)
    img = Image.new("RGB", (left + CELL * n + 8, top + CELL * n + 8), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), title or "true (rows) / predicted (columns)", fill="black", font=font)
    rows = cm.sum(1, keepdims=True).clip(min=1)
    for i in range(n):
        draw.text((4, top + CELL * i + CELL // 2 - 5), label[i], fill="black", font=font)
        column = Image.new("RGB", (7 * len(label[i]) + 4, 12), "white")
        ImageDraw.Draw(column).text((0, 0), label[i], fill="black", font=font)
        img.paste(column.rotate(90, expand=True), (left + CELL * i + CELL // 2 - 6,
                                                   top - 7 * len(label[i]) - 8))
        for j in range(n):
            share = cm[i, j] / rows[i, 0]
            base = (44, 127, 184) if i == j else (215, 48, 31)
            weight = share if i == j else min(1.0, 2 * share)
            color = tuple(int(255 - (255 - c) * weight) for c in base)
            x0, y0 = left + CELL * j, top + CELL * i
            draw.rectangle((x0, y0, x0 + CELL - 1, y0 + CELL - 1), fill=color,
                           outline=(220, 220, 220))
            text = str(int(cm[i, j]))
            draw.text((x0 + CELL // 2 - 3 * len(text), y0 + CELL // 2 - 5), text,
                      fill="white" if weight > 0.6 else "black", font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
