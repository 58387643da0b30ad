"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on the
browser's fd 3, answers on its fd 4, NUL-separated JSON), with the standard library only: open a page at a window
size, evaluate an expression in it (the page's own Content-Security-Policy does not apply to the protocol), and take
a screenshot of a region. Used by the dashboard's browser test (the page's width at 1280 px) and its screenshots.

    with Page.open("http://127.0.0.1:3000/dashboard", width=1280) as page:
        page.evaluate("document.documentElement.scrollWidth")
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class Page:
    def __init__(self, process: subprocess.Popen, commands: int, answers: int, profile: str) -> None:
        self._process, self._commands, self._answers, self._profile = process, commands, answers, profile
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    @classmethod
    def open(cls, url: str, *, width: int = 1280, height: int = 900, timeout_s: float = 60.0) -> Page:
        if BROWSER is None:
            raise RuntimeError("no Chromium on this machine (apt-get install -y chromium)")
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()

        def on_fds_3_and_4() -> None:  # in the child, before exec: the protocol's two descriptors
            read_copy, write_copy = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(read_copy, 3)
            os.dup2(write_copy, 4)

        profile = tempfile.mkdtemp(prefix="chromium-")
        command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"]
        command += ["--remote-debugging-pipe", f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        process = subprocess.Popen(  # noqa: S603 - the system browser, arguments fixed here
            [*command, "about:blank"],
            preexec_fn=on_fds_3_and_4,  # noqa: PLW1509 - single-threaded use: dup2 only
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": profile},
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        page = cls(process, to_browser_write, from_browser_read, profile)
        try:
            target = page.send("Target.createTarget", {"url": url})["targetId"]
            page._session = page.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            page.send("Emulation.setDeviceMetricsOverride", metrics)
            deadline = time.monotonic() + timeout_s
            while page.evaluate("document.readyState") != "complete" or page.evaluate("location.href") != url:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not load within {timeout_s} s")
                time.sleep(0.1)
        except BaseException:
            page.close()
            raise
        return page

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed the protocol pipe")
                self._buffer += chunk
            line, _, self._buffer = self._buffer.partition(b"\0")
            answer = json.loads(line)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, *, top: float, height: float, width: float) -> bytes:
        """A PNG of the page's region from ``top`` (CSS pixels), whatever is scrolled into view."""
        clip = {"x": 0, "y": top, "width": width, "height": height, "scale": 1}
        shot = self.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        self._process.kill()
        self._process.wait(timeout=30)
        for descriptor in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
