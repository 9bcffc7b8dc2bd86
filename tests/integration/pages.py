"""What an HTML page made with plotly shows: its figures' traces, read back from the page."""

import json
import re


def plotly_traces(html: str) -> list[dict]:
    """Every trace of every plotly figure on the page, in page order (the data argument of
    each ``Plotly.newPlot("id", [...], ...)``)."""
    out = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        data, _ = decoder.raw_decode(html, m.end())
        out.extend(data)
    return out


def heat_mapped_panels(png, n: int, dpi: int = 110, panel=(2.1, 2.8)) -> list[float]:
    """For an explain grid (``reports.explain.grid_png``: 8 panels a row, each ``panel``
    inches at ``dpi``), the share of strongly coloured pixels in each of its first ``n``
    panels. A grey image with no map over it scores ~0 (a wrongly predicted panel's red
    title is well under 1% of its panel); a jet-coloured map over it, tens of percent."""
    import numpy as np
    from PIL import Image

    im = np.asarray(Image.open(png).convert("RGB")).astype(int)
    h, w = im.shape[:2]
    cols, rows = min(8, n), -(-n // 8)
    pw, ph = panel[0] * dpi, panel[1] * dpi
    assert (round(w / pw), round(h / ph)) == (cols, rows), (w, h, n)
    coloured = (abs(im[..., 0] - im[..., 1]) + abs(im[..., 1] - im[..., 2])) > 60
    return [float(coloured[int(r * ph):int((r + 1) * ph), int(c * pw):int((c + 1) * pw)].mean())
            for i in range(n) for r, c in [divmod(i, cols)]]
