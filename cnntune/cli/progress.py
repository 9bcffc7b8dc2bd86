"""The live view of `cnntune search` and its closing summary (rich).

In a terminal or a Jupyter notebook: a live panel with trial n of N, the running trial's epoch,
the best so far, the elapsed time and the last trials. Elsewhere (CI, pipes): one plain line per
finished trial.
"""

from __future__ import annotations

import time
from collections import deque

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..catalog import Direction, State, Stop
from ..files import event_line
from ..tracking.links import next_commands, trials_url, ui_base
from ..tracking.stores import DEFAULT_TRACKING_URI

STATE_STYLE = {State.COMPLETE: "green", State.PRUNED: "yellow", State.FAIL: "red"}


class Progress:
    def __init__(self, console, quiet: bool = False, last: int = 6):
        self.console = console
        self.quiet = quiet
        self.live = None
        self.t0 = time.perf_counter()
        self.study = ""
        self.total = None
        self.done = 0
        self.existing = 0
        self.direction = "maximize"
        self.objective = "val_accuracy"
        self.headline = "accuracy"  # the task's accuracy-like figure, shown on the test split
        self.ends_at = None  # time.time() when --timeout runs out
        self.checks = 1  # checks a pass over the training split (cnntune.checks)
        self.counts: dict[str, int] = {}  # state -> trials finished in this run
        self.best = None  # (value, number, test_accuracy)
        self.current = None  # (number, epoch, logs)
        self.recent = deque(maxlen=last)

    # -- context manager --------------------------------------------------------------------

    def __enter__(self):
        # a Jupyter notebook: one display updated in place; a terminal: rich's live panel
        if not self.quiet and self.console.is_jupyter:
            self.live = NotebookLive(self._render())
        elif not self.quiet and self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                             transient=False)
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)
        return False

    # -- events -----------------------------------------------------------------------------

    def __call__(self, kind: str, payload: dict) -> None:
        if kind == "study_start":
            self.study = payload["study"]
            self.total = payload["trials"]
            self.existing = payload["existing_trials"]
            self.direction = payload["settings"]["direction"]
            self.objective = payload["settings"]["objective"]
            from ..tasks import task

            self.headline = task(payload["settings"].get("task")).headline
            self.ends_at = payload.get("ends_at")
            self.checks = int(payload["settings"].get("checks_per_epoch", 1))
            if payload.get("best"):
                b = payload["best"]
                self.best = (b["value"], b["number"], b["test"])
            if not self.quiet:
                s = payload["settings"]
                verb = f"resuming ({self.existing} trials so far)" if payload["resumed"] else "new"
                self.console.print(
                    f"study [bold]{self.study}[/] {verb}: {s['data']} "
                    f"({s['n_train']}/{s['n_val']}/{s['n_test']} train/val/test), "
                    f"{s['engine']} {s['algorithm']}"
                    + (f", {s['pruner']} pruner" if s["pruner"] != "none" else "")
                    + f", up to {s['epochs']} "
                    f"epoch{'s' if s['epochs'] != 1 else ''} per trial"
                    + (f", checked {self.checks} times an epoch" if self.checks > 1 else ""))
                if payload.get("data_note"):
                    self.console.print(payload["data_note"], style="yellow", highlight=False)
                warm = payload.get("warm_start") or {}
                for note in warm.get("notes", []):
                    self.console.print(note, highlight=False)
                if warm.get("enqueued") and not warm.get("notes"):
                    n = warm["enqueued"]
                    self.console.print(f"warm start: {n} known-good configuration"
                                       f"{'s' if n != 1 else ''} first", highlight=False)
        elif kind == "baselines":
            if not self.quiet:
                for r in payload["results"]:
                    m = r["metrics"]
                    h = self.headline
                    self.console.print(f"baseline {r['name']:<20} val_{h} "
                                       f"{m[f'val_{h}']:.4f}  test {m[f'test_{h}']:.4f}"
                                       f"  {m['fit_seconds']:.1f}s", highlight=False)
        elif kind == "worker_start":  # a --ray worker placed (or restarted) on a node
            if not self.quiet:
                labels = ", ".join(f"{k}={v}" for k, v in payload.get("labels", {}).items())
                self.console.print(f"worker {payload['worker']} on node {payload['node']}"
                                   + (f" ({labels})" if labels else "")
                                   + (f", GPU {payload['gpus']}" if payload.get("gpus") else ""),
                                   highlight=False)
        elif kind == "trial_start":
            self.current = (payload["number"], 0, {})
        elif kind == "epoch":
            self.current = (payload["number"], payload["epoch"], payload["logs"])
        elif kind == "trial_end":
            self.done += 1
            self.counts[payload["state"]] = self.counts.get(payload["state"], 0) + 1
            self.current = None
            m = payload["metrics"]
            # the loop says whether a trial became the best (feasible, better than the best
            # when it started); with several workers a later one may still be worse
            if payload.get("best") and self._better(payload["value"]):
                self.best = (payload["value"], payload["number"],
                             m.get(f"test_{self.headline}"))
            self.recent.append(payload)
            if self.live is None and not self.quiet:
                self.console.print(self._line(payload), highlight=False)
        if self.live is not None:
            self.live.update(self._render())

    def _better(self, value) -> bool:
        return Direction(self.direction).better(value, self.best and self.best[0])

    # -- rendering --------------------------------------------------------------------------

    def _line(self, p: dict) -> str:
        m = p["metrics"]
        n = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        parts = [f"trial {p['number']:>3} ({n})", f"{p['state']:<8}"]
        if p["value"] is not None:
            parts.append(f"{self.objective} {p['value']:.4f}")
        if f"test_{self.headline}" in m:
            parts.append(f"test {self.headline} {m[f'test_{self.headline}']:.4f}")
        if "epochs" in m:
            parts.append(f"{round(m['epochs'], 2):g} ep")
        if p.get("stopped") == Stop.DEADLINE:
            parts.append("cut at the deadline")
        if p.get("unscored") and p["state"] == State.COMPLETE:
            parts.append(unscored_note(p["unscored"]))
        if p.get("origin"):
            parts.append(p["origin"])
        if "latency_ms" in m:
            parts.append(f"{m['latency_ms']:.3f} ms/img")
        parts.append(f"{p['seconds']:.1f}s")
        if p.get("error"):
            parts.append(f"({p['error']})")
        if self.best:
            parts.append(f"| best {self.best[0]:.4f} (trial {self.best[1]})")
        return "  ".join(parts)

    def _render(self):
        elapsed = time.perf_counter() - self.t0
        n = f"{self.done} of {self.total}" if self.total else f"{self.done}"
        head = Text.assemble(("study ", "dim"), (self.study or "...", "bold"),
                             ("  trials ", "dim"), n, ("  elapsed ", "dim"), _clock(elapsed))
        if self.ends_at is not None:
            head.append("  left ", "dim")
            head.append(_clock(max(0.0, self.ends_at - time.time())))
        # a second line, so that both fit an 80-column terminal
        head.append("\n")
        if self.best:
            head.append("best ", "dim")
            head.append(f"{self.best[0]:.4f}", "bold green")
            head.append(f" (trial {self.best[1]}"
                        + (f", test {self.best[2]:.4f})" if self.best[2] is not None else ")"))
        else:
            head.append("no best yet", "dim")
        if self.done and elapsed > 0:
            head.append(f"  {60 * self.done / elapsed:.1f} trials/min", "dim")
        for state in (State.PRUNED, State.FAIL):
            if self.counts.get(state):
                head.append(f"  {self.counts[state]} {state.lower()}", STATE_STYLE[state])
        rows = [head]
        if self.current:
            num, ep, logs = self.current
            txt = f"running trial {num}: epoch {round(ep / self.checks, 2):g}"
            if self.objective in logs:
                txt += f", {self.objective} {logs[self.objective]:.4f}"
            rows.append(Text(txt, "cyan"))
        if self.recent:
            table = Table(box=None, pad_edge=False, header_style="dim")
            test = f"test_{self.headline}"
            for col in ("trial", "state", self.objective, test, "epochs", "secs"):
                table.add_column(col, justify="right" if col != "state" else "left")
            for p in self.recent:
                m = p["metrics"]
                table.add_row(str(p["number"]), Text(p["state"], STATE_STYLE.get(p["state"], "")),
                              f"{p['value']:.4f}" if p["value"] is not None else "-",
                              f"{m[test]:.4f}" if test in m else "-",
                              f"{round(m['epochs'], 2):g}" if "epochs" in m else "-",
                              f"{p['seconds']:.1f}")
            rows.append(table)
        return Group(*rows)

    # -- summary ----------------------------------------------------------------------------

    def summary(self, result) -> None:
        console = self.console

        def c_print(*args, **kw):
            console.print(*args, highlight=False, **kw)

        counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(result.counts.items()))
        by = f" by {result.workers} workers" if result.workers > 1 else ""
        ran = f"{result.new_trials} trial{'s' * (result.new_trials != 1)}"
        c_print(f"\n[bold]study {result.study}[/]: {ran} run now{by} in "
                f"{result.elapsed:.0f}s; {sum(result.counts.values())} in the study ({counts})")
        for failed in result.failed_workers:
            c_print(f"[red]{failed}[/]")
        for c in result.cut:
            c_print(f"[yellow]{cut_line(c, self.headline)}[/]")
        b = result.best
        if b is None:
            c_print("no trial completed, so there is no best trial yet")
            if result.advice:
                c_print(f"[red]{result.advice}[/]")
        else:
            m = b.metrics
            table = Table(title=f"best trial {b.number}", title_justify="left", box=None)
            table.add_column("param", style="dim")
            table.add_column("value")
            for k, v in b.params.items():
                table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
            c_print(table)
            test = f"test_{self.headline}"
            c_print(f"{result.objective} {b.value:.4f}"
                    + (" (its best check's, on part of the validation split)"
                       if "val" in b.unscored else "")
                    + (f"   {test} {m[test]:.4f}" if test in m else
                       f"   {test}: not scored before the deadline (cnntune best "
                       f"{result.study} scores it)")
                    + f"   params {int(m.get('n_params', 0)):,}")
            if b.model_uri:
                c_print(f"model:       {b.model_uri}  (mlflow.pyfunc.load_model)")
            elif b.kept:
                c_print(f"model:       runs:/{b.run_id}/checkpoint  (the weights it kept when "
                        "cut at the deadline; cnntune export makes a model of them)")
            else:
                c_print(f"model:       not logged (trial {b.number} ended before its model "
                        "was saved)")
        c_print(f"MLflow:      experiment '{result.study}' (id {result.experiment_id}), "
                f"study run {result.parent_run_id}")
        trials = trials_url(ui_base(result.tracking_uri), result.experiment_id)
        if result.tracking_uri.startswith(("http://", "https://")):
            c_print(f"the trials:  {trials}", soft_wrap=True)
        else:
            uri = "" if result.tracking_uri == DEFAULT_TRACKING_URI \
                else f" --tracking-uri {result.tracking_uri}"
            c_print(f"the trials:  cnntune ui{uri}   then open", soft_wrap=True)
            c_print(f"             {trials}", soft_wrap=True)
        go_on = next_commands(result.study, result.tracking_uri, best=b is not None)
        c_print(f"report:      {go_on['report']}", soft_wrap=True)
        if "export" in go_on:
            c_print(f"export:      {go_on['export']}", soft_wrap=True)


class NotebookLive:
    """The live panel in a Jupyter notebook: one output, replaced as the search goes (an
    IPython display handle, which every Jupyter front end updates; no widgets needed), at
    most every ``every`` seconds and once at the end."""

    def __init__(self, renderable, every: float = 0.5):
        self.renderable, self.every = renderable, every
        self.handle = None
        self._shown = 0.0

    def __enter__(self):
        from IPython.display import display

        self.handle = display(self._html(), display_id=True)
        self._shown = time.monotonic()
        return self

    def update(self, renderable) -> None:
        self.renderable = renderable
        if time.monotonic() - self._shown >= self.every:
            self._show()

    def __exit__(self, *exc):
        self._show()
        return False

    def _show(self) -> None:
        if self.handle is not None:
            self.handle.update(self._html())
            self._shown = time.monotonic()

    def _html(self):
        import io

        from IPython.display import HTML
        from rich.console import Console

        console = Console(file=io.StringIO(), record=True, width=100, force_jupyter=False)
        console.print(self.renderable)
        return HTML(console.export_html(inline_styles=True, code_format="<pre style=\"font-"
                                        "family:monospace;line-height:1.2\">{code}</pre>"))


def unscored_note(unscored) -> str:
    """What a trial cut at the deadline left unscored, in words (catalog.UNSCORED)."""
    words = {"val": "validation on a check's part", "test": "test not scored",
             "latency": "latency not measured"}
    return "; ".join(words[u] for u in unscored if u in words)


def cut_line(c: dict, headline: str) -> str:
    """One trial this run cut at the deadline, for the summary: what it kept, what not."""
    epochs = c.get("epochs")
    trained = f" after {round(epochs, 2):g} epochs" if epochs is not None else ""
    if c["state"] != State.COMPLETE:
        return f"cut: trial {c['number']} at the deadline{trained}, {c['state'].lower()}"
    what = f" ({unscored_note(c['unscored'])})" if c.get("unscored") else ""
    return (f"cut: trial {c['number']} at the deadline{trained}, its best check kept{what}"
            if epochs is not None else f"cut: trial {c['number']}{what}")


class JsonLines:
    """Every search event as one JSON object per line, for machines: ``{"event": kind,
    "time": unix seconds, ...payload}``; the last line is ``study_end`` with the result. A
    file is appended to and flushed after every line, so a crash loses nothing written."""

    def __init__(self, path: str):
        import sys

        if path == "-":
            self.f, self._own = sys.stdout, False
        else:
            try:
                self.f, self._own = open(path, "a", encoding="utf-8"), True
            except OSError as exc:
                from ..errors import ConfigError

                raise ConfigError(f"--jsonl '{path}' cannot be opened ({exc.strerror}); give "
                                  "a writable file path or -") from None

    def __call__(self, kind: str, payload: dict) -> None:
        self.f.write(event_line(kind, payload) + "\n")
        self.f.flush()

    def result(self, result) -> None:
        import dataclasses

        self("study_end", dataclasses.asdict(result))

    def close(self) -> None:
        if self._own:
            self.f.close()


def _clock(seconds: float) -> str:
    """42s, 3m05s, 1h02m."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
