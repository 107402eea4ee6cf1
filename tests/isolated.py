"""The `isolated` marker: the test runs in a Python process of its own.

For tests of native code that can crash the interpreter (llama.cpp built for a CPU feature
this machine lacks dies of SIGILL): the crash then fails that one test, with the signal named,
and the rest of the suite still runs and reports. Loaded by tests/conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

# Set in the child process that runs one `isolated` test, so that it runs the test itself.
ISOLATED_CHILD = "NEWSCITE_ISOLATED_TEST"
ISOLATED_TIMEOUT_S = 600


def pytest_configure(config):
    config.addinivalue_line("markers", "isolated: runs in a Python process of its own, so that "
                            "a native crash (SIGILL, SIGSEGV) fails this test, not the suite")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run an `isolated` test in a fresh `python -m pytest NODEID` and report its outcome.

    A fresh interpreter rather than a fork: a forked child inherits the parent's OpenMP
    thread pools (torch's, llama.cpp's), which hang after fork.
    """
    if pyfuncitem.get_closest_marker("isolated") is None or os.environ.get(ISOLATED_CHILD):
        return None
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "--no-header", "-p", "no:cacheprovider",
         pyfuncitem.nodeid], cwd=pyfuncitem.config.rootpath, capture_output=True, text=True,
        env={**os.environ, ISOLATED_CHILD: "1"}, timeout=ISOLATED_TIMEOUT_S)
    output = (child.stdout + child.stderr)[-4000:]
    summary = (output.strip().splitlines() or [""])[-1]
    if child.returncode < 0:
        pytest.fail(f"the test's process crashed with {signal.Signals(-child.returncode).name}"
                    f"\n{output}", pytrace=False)
    if child.returncode != 0:
        pytest.fail(f"failed in its own process:\n{output}", pytrace=False)
    if " skipped" in summary:
        pytest.skip(f"skipped in its own process: {summary}")
    return True
