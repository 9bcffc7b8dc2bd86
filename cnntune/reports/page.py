"""One self-contained HTML page of figures, tables and images, small enough to mail.

plotly.js is the page's weight: the full bundle that the plotly package inlines is 4.8 MB, so a
report used to weigh 4.9 MB whatever its size. The page instead carries plotly.js' *basic*
bundle (scatter and bar traces: every figure cnntune draws; v3.7.0, MIT, `assets/`), gzipped
and base64-encoded: about 0.5 MB, once. The browser unzips it with ``DecompressionStream``
(every current browser) and then draws each figure from its JSON, so the page works offline,
from a file, and inside the MLflow UI's artifact viewer. Images (confusion grids, Grad-CAM) are
inline PNGs.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from importlib import resources

PLOTLY_ASSET = "plotly-basic.min.js.gz"


@dataclass
class Section:
    """A heading and its body: figures (plotly), HTML (tables, images) or both, in order."""

    title: str
    parts: list = field(default_factory=list)  # ("fig", id, figure) | ("html", str)
    note: str = ""

    def figure(self, fig_id: str, fig) -> Section:
        self.parts.append(("fig", fig_id, fig))
        return self

    def html(self, text: str) -> Section:
        self.parts.append(("html", text))
        return self


def plotly_js_gz_b64() -> str:
    data = resources.files("cnntune.reports").joinpath("assets", PLOTLY_ASSET).read_bytes()
    return base64.b64encode(data).decode("ascii")


def png_tag(image: bytes, alt: str, mime: str = "image/png") -> str:
    return (f'<img alt="{html.escape(alt)}" style="max-width:100%" '
            f'src="data:{mime};base64,{base64.b64encode(image).decode("ascii")}">')


def table_html(df, **kw) -> str:
    return df.to_html(index=False, na_rep="", border=0,
                      float_format=lambda v: f"{v:.4g}", **kw)


def render(title: str, intro: str, sections: list[Section]) -> str:
    """The page: ``intro`` is HTML; each section's figures are drawn once plotly.js is in."""
    figs: dict[str, dict] = {}
    body = []
    for s in sections:
        body.append(f'<h2 id="{_anchor(s.title)}">{html.escape(s.title)}</h2>')
        if s.note:
            body.append(f'<p class="note">{s.note}</p>')
        for part in s.parts:
            if part[0] == "fig":
                _, fig_id, fig = part
                figs[fig_id] = json.loads(fig.to_json())
                body.append(f'<div class="fig" id="{html.escape(fig_id)}"></div>')
            else:
                body.append(part[1])
    toc = " · ".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>'
                     for s in sections)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}
h2{{margin-top:2em}}.fig{{min-height:420px}}.note{{color:#555}}
.cm td{{text-align:right;min-width:2.5em}}</style></head><body>
<h1>{html.escape(title)}</h1>
{intro}
<p>{toc}</p>
{chr(10).join(body)}
<script>
const FIGURES = {json.dumps(figs, separators=(",", ":"))};
const PLOTLY_GZ = "{plotly_js_gz_b64()}";
(async () => {{
  try {{
    const bytes = Uint8Array.from(atob(PLOTLY_GZ), c => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const s = document.createElement("script");
    s.textContent = await new Response(stream).text();
    document.head.appendChild(s);
    for (const [id, f] of Object.entries(FIGURES)) {{
      Plotly.newPlot(id, f.data, f.layout, {{responsive: true, displaylogo: false}});
    }}
  }} catch (e) {{
    for (const id of Object.keys(FIGURES)) {{
      document.getElementById(id).textContent = "this browser could not draw the figure: " + e;
    }}
  }}
}})();
</script>
</body></html>
"""


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
