"""The llama.cpp CPU check (rag.native): a build this CPU cannot run is named, never run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from newscite.config import Config
from newscite.rag.llm import LLMUnavailable, make_chat_model
from newscite.rag.native import CACHE_NAME, explain_crash, llama_problem, missing_features

# What llama_print_system_info() prints for the AVX-512 build this project used to make.
AVX512_BUILD = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
                "BMI2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
                "OPENMP = 1 | REPACK = 1 | ")
AMD_EPYC_FLAGS = frozenset("fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx avx2 f16c fma bmi2".split())


def _died_of_sigill() -> int:
    """The return code of a real child process killed by SIGILL."""
    code = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    return subprocess.run([sys.executable, "-c", code]).returncode


def test_missing_features_are_those_compiled_in_but_not_on_the_cpu():
    assert missing_features(AVX512_BUILD, AMD_EPYC_FLAGS) == ["AVX512", "AVX512_VNNI",
                                                              "AVX512_BF16"]
    assert missing_features(AVX512_BUILD, AMD_EPYC_FLAGS | {"avx512f", "avx512_vnni",
                                                           "avx512_bf16"}) == []


def test_a_sigill_names_the_missing_feature_and_the_rebuild_command():
    returncode = _died_of_sigill()
    assert returncode == -signal.SIGILL
    problem = explain_crash(returncode, AVX512_BUILD, ("AMD EPYC 7B13", AMD_EPYC_FLAGS), "m.gguf")
    assert problem == ("llama.cpp in this environment was built for AVX512, AVX512_VNNI, "
                       "AVX512_BF16, which this CPU (AMD EPYC 7B13) lacks (SIGILL); rebuild it "
                       "for this machine: make llm")
    assert "\n" not in problem


def test_a_crash_without_a_missing_feature_still_says_what_to_do():
    problem = explain_crash(-signal.SIGSEGV, "", ("Some CPU", AMD_EPYC_FLAGS), "m.gguf")
    assert "SIGSEGV" in problem and "m.gguf" in problem and problem.endswith("make llm")
    assert explain_crash(1, AVX512_BUILD, ("Some CPU", AMD_EPYC_FLAGS), "m.gguf") is None


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "newscite" / CACHE_NAME


@pytest.mark.isolated
def test_the_installed_build_runs_here_and_the_verdict_is_cached(smollm2, cache_home):
    assert llama_problem(smollm2) is None  # the child loaded the model and ran a token
    verdicts = json.loads(cache_home.read_text())
    assert list(verdicts.values()) == [None]
    # the second call reads the cache: a verdict written there is what it returns
    cache_home.write_text(json.dumps({key: "cached verdict" for key in verdicts}))
    assert llama_problem(smollm2) == "cached verdict"


def test_a_build_that_cannot_run_here_keeps_the_chat_extractive(smollm2, cache_home):
    from newscite.ui.backend import open_llm

    llama_problem(smollm2)  # the real check, cached
    problem = ("llama.cpp in this environment was built for AVX512, which this CPU (AMD EPYC) "
               "lacks (SIGILL); rebuild it for this machine: make llm")
    verdicts = json.loads(cache_home.read_text())
    cache_home.write_text(json.dumps({key: problem for key in verdicts}))

    config = Config.load({"llm_gguf": "smollm2"}, environ={})
    with pytest.raises(LLMUnavailable) as caught:
        make_chat_model(config)
    assert str(caught.value) == f"{problem} (setting 'llm_gguf')"
    model, status = open_llm(config)
    assert model is None and status.startswith("extractive only") and problem in status
