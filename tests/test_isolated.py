"""The `isolated` marker (tests/isolated.py): a native crash fails one test, not the suite."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_a_crash_in_an_isolated_test_fails_only_that_test(pytester, monkeypatch):
    pytester.makeconftest('pytest_plugins = ("isolated",)')
    pytester.makepyfile(test_crash="""
        import os, signal
        import pytest

        @pytest.mark.isolated
        def test_dies_of_sigill():
            os.kill(os.getpid(), signal.SIGILL)

        @pytest.mark.isolated
        def test_passes_in_its_own_process():
            assert os.environ["NEWSCITE_ISOLATED_TEST"] == "1"

        @pytest.mark.isolated
        def test_skips_in_its_own_process():
            pytest.skip("nothing to run here")

        def test_runs_after_the_crash():
            assert "NEWSCITE_ISOLATED_TEST" not in os.environ
    """)
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*test_dies_of_sigill*", "*the test's process crashed with SIGILL*"])
