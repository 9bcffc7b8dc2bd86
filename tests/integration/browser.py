"""A headless Chromium driven through its DevTools protocol: open a page, wait until what it
shows holds a condition, read it back.

One browser serves every page of a test, and each page is read as soon as it is ready rather
than after a fixed virtual-time budget (a new Chromium a page with `--virtual-time-budget`
took 80 s for the MLflow UI test's four pages)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

# what each frame of a page shows: its headings, its figures drawn by plotly, its images'
# widths and whether a figure failed to draw
FRAME_JS = ("JSON.stringify({h1: [...document.querySelectorAll('h1')].map(e => e.textContent),"
            " drawn: document.querySelectorAll('.fig.js-plotly-plot').length,"
            " images: [...document.images].map(i => i.naturalWidth),"
            " failed: !!document.body && document.body.innerText.includes('could not draw')})")
DOM_JS = "document.documentElement ? document.documentElement.outerHTML : ''"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


class Browser:
    """A headless Chromium with one page; ``dom`` and ``frames`` open a URL in it."""

    def __init__(self, profile):
        from cnntune.cli.ui import free_port

        self.port = free_port()
        self.proc = subprocess.Popen(
            [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}",
             f"--remote-debugging-port={self.port}", "--window-size=1600,1100", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self._pages():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("headless chromium did not open its DevTools port")
            time.sleep(0.3)

    def close(self) -> None:
        """Kill the browser (again is harmless)."""
        self.proc.kill()
        self.proc.wait()

    def _targets(self) -> list[dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=10) as r:
                return json.load(r)
        except (OSError, ValueError):
            return []

    def _pages(self) -> list[dict]:
        return [t for t in self._targets() if t["type"] == "page"]

    def _call(self, target: dict, method: str, params: dict | None = None) -> dict:
        import aiohttp

        async def call():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(target["webSocketDebuggerUrl"],
                                              max_msg_size=0) as ws:
                    await ws.send_json({"id": 1, "method": method, "params": params or {}})
                    while True:
                        msg = await ws.receive_json()
                        if msg.get("id") == 1:
                            return msg.get("result", {})

        try:
            return asyncio.run(asyncio.wait_for(call(), 30))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # a page going away
            raise OSError(str(exc)) from exc

    def _evaluate(self, target: dict, js: str):
        return self._call(target, "Runtime.evaluate",
                          {"expression": js, "returnByValue": True})["result"].get("value")

    def open(self, url: str) -> None:
        page = self._pages()[0]
        self._call(page, "Page.navigate", {"url": "about:blank"})  # a full load, not a hash hop
        self._call(page, "Page.navigate", {"url": url})

    def dom(self, url: str, until, wait: float = 60.0) -> str:
        """The page's DOM once ``until(dom)`` holds, or after ``wait`` seconds (for the
        assertions that follow to say what it showed)."""
        def read():
            try:
                return self._evaluate(self._pages()[0], DOM_JS) or ""
            except (OSError, KeyError, IndexError):
                return ""

        return self._read_until(url, read, until, wait, every=0.5)

    def frames(self, url: str, until, wait: float = 60.0) -> list[dict]:
        """What each frame of the page shows (``FRAME_JS``) once ``until(frames)`` holds, or
        after ``wait`` seconds. Sandboxed iframes are targets of their own, which is how
        their content is reached (a screenshot does not paint them)."""
        def read():
            frames = []
            for target in self._targets():
                if target["type"] in ("page", "iframe"):
                    try:
                        frames.append(json.loads(self._evaluate(target, FRAME_JS)))
                    except (OSError, KeyError, TypeError, ValueError):
                        pass
            return frames

        return self._read_until(url, read, until, wait, every=1.0)

    def _read_until(self, url: str, read, until, wait: float, every: float):
        """Open ``url``, then ``read()`` it every ``every`` seconds until ``until`` holds of
        what was read, or ``wait`` seconds have passed; the last reading."""
        self.open(url)
        deadline = time.monotonic() + wait
        while True:
            time.sleep(every)
            seen = read()
            if until(seen) or time.monotonic() > deadline:
                return seen
