"""Confusion matrices in reports: an HTML table, each cell shaded by its share of its row."""

from __future__ import annotations

import html

import numpy as np


def confusion_html(cm: np.ndarray, names: list[str]) -> str:
    """The matrix as a table, each cell shaded by its share of its row."""
    rows = cm.sum(1, keepdims=True).clip(min=1)
    cols = cm.sum(0).clip(min=1)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = []
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            share = cm[i, j] / rows[i, 0]
            color = (f"rgba(44,127,184,{share:.2f})" if i == j
                     else f"rgba(215,48,31,{min(1.0, 2 * share):.2f})")
            cells.append(f'<td style="background:{color}">{cm[i, j]}</td>')
        recall = cm[i, i] / rows[i, 0]
        body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}"
                    f"<td>{recall:.3f}</td></tr>")
    precision = "".join(f"<td>{cm[j, j] / cols[j]:.3f}</td>" for j in range(len(names)))
    return (f'<table class="cm"><tr><th>true \\ predicted</th>{head}<th>recall</th></tr>'
            f"{''.join(body)}<tr><th>precision</th>{precision}<td></td></tr></table>")


