"""What an HTML page made with plotly shows: its figures' traces, read back from the page."""

import json
import re


def plotly_traces(html: str) -> list[dict]:
    """Every trace of every plotly figure on the page, in page order (the data argument of
    each ``Plotly.newPlot("id", [...], ...)``, or of each figure in the report's
    ``const FIGURES``), with x and y as lists (plotly writes numpy
    arrays as base64 ``{"dtype", "bdata"}``)."""
    out = []
    decoder = json.JSONDecoder()
    figures = []
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):  # plotly's own pages
        figures.append(decoder.raw_decode(html, m.end())[0])
    for m in re.finditer(r"const FIGURES = ", html):  # cnntune's report: {id: figure}
        figures += [f["data"] for f in decoder.raw_decode(html, m.end())[0].values()]
    for data in figures:
        for trace in data:
            for axis in ("x", "y"):
                if isinstance(trace.get(axis), dict) and "bdata" in trace[axis]:
                    trace[axis] = _decoded(trace[axis])
        out.extend(data)
    return out


def _decoded(packed: dict) -> list:
    import base64

    import numpy as np

    return np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"]).tolist()


def heat_mapped_panels(png, dpi: int = 110, panel=(2.1, 2.8)) -> int:
    """For an explain grid (``reports.explain.grid_png``: up to 8 panels a row, each
    ``panel`` inches at ``dpi``), how many panels carry a heat map: over a fifth of their
    pixels strongly coloured. A grey image with no map over it scores ~0 (a wrongly
    predicted panel's red title is well under 1% of its panel); a jet map, tens of percent."""
    import numpy as np
    from PIL import Image

    im = np.asarray(Image.open(png).convert("RGB")).astype(int)
    h, w = im.shape[:2]
    pw, ph = panel[0] * dpi, panel[1] * dpi
    cols, rows = round(w / pw), round(h / ph)
    coloured = (abs(im[..., 0] - im[..., 1]) + abs(im[..., 1] - im[..., 2])) > 60
    return sum(coloured[int(r * ph):int((r + 1) * ph), int(c * pw):int((c + 1) * pw)].mean()
               > 0.05 for r in range(rows) for c in range(cols))
