"""Start and stop a real `newscite serve` for benchmarks and browser tests.

Shared by eval/bench_chat.py, eval/bench_load.py and tests/ui/test_browser.py: the server
runs this checkout's CLI with this interpreter, offline, on a free port of 127.0.0.1, with
its uploads in a folder of the caller's and no login unless one is passed in `env`.

Example:
    >>> with served(Path("idx"), Path("/tmp/work")) as url:
    ...     urllib.request.urlopen(url).status
    200
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium that talks to nothing but the page it is sent to.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class ServerError(RuntimeError):
    """`newscite serve` exited or did not answer in time; the message holds its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(index: Path, folder: Path, timeout: float = 120.0,
                 **env: str) -> tuple[subprocess.Popen, str]:
    """`newscite serve` over `index` on a free port, once it answers: (process, url).
    Its log is `folder/serve-PORT.log`; `env` adds environment variables (NEWSCITE_USER...)."""
    port = free_port()
    log_path = folder / f"serve-{port}.log"
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(folder / "gradio"),
               "NEWSCITE_USER": "", "NEWSCITE_PASSWORD": "", "PYTHONPATH": str(ROOT), **env}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "newscite.cli", "serve", "--index", str(index), "--port",
             str(port)], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise ServerError(f"newscite serve did not start:\n{log_path.read_text()}")
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """Ask the server to stop; kill it if it has not within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def served(index: Path, folder: Path, **env: str) -> Iterator[str]:
    """The URL of `newscite serve` over `index` for the `with` block; stopped on the way out,
    errors included."""
    process, url = start_server(index, folder, **env)
    try:
        yield url
    finally:
        stop(process)
