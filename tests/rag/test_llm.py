"""The LLM backends with real models: a llama.cpp server, the in-process model, a dead port."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import pytest

from newscite.config import Config, ConfigError
from newscite.eval.serving import stop
from newscite.rag.llm import LlamaCppChat, LLMUnavailable, check_server, make_chat_model

QUESTION = "What is the capital of France? Answer in one sentence."


def _free_port() -> int:
    """A port nothing listens on (the OS picks it, the socket is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_config(smollm2, tmp_path_factory):
    """A real llama.cpp OpenAI-compatible server on a free local port, stopped at the end."""
    port = _free_port()
    log_file = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log_file, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", smollm2, "--host",
             "127.0.0.1", "--port", str(port), "--n_ctx", "2048"], stdout=log, stderr=log)
    config = Config.load({"llm_base_url": f"http://127.0.0.1:{port}/v1", "llm_max_tokens": 24},
                         environ={})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                check_server(config, timeout=1.0)
                break
            except LLMUnavailable:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not start:\n{log_file.read_text()}")
                time.sleep(0.3)
        yield config
    finally:
        stop(server)


def test_server_backend_answers_and_streams(server_config):
    chat = make_chat_model(server_config)
    reply = chat.invoke(QUESTION)
    assert reply.content.strip()
    assert 0 < reply.usage_metadata["output_tokens"] <= 24  # the server got the limit
    pieces = [chunk.content for chunk in chat.stream(QUESTION)]
    assert len([p for p in pieces if p]) >= 3, pieces
    assert "".join(pieces).strip()


def test_check_server_explains_a_wrong_api_root(server_config):
    without_v1 = server_config.llm_base_url.removesuffix("/v1")
    with pytest.raises(LLMUnavailable, match="HTTP 404.*often ending in /v1"):
        check_server(server_config.with_(llm_base_url=without_v1))


@pytest.mark.isolated
def test_in_process_backend_answers_and_streams(smollm2):
    chat = make_chat_model(Config.load({"llm_gguf": "smollm2", "llm_max_tokens": 24,
                                        "llm_context": 1024}, environ={}))
    assert isinstance(chat, LlamaCppChat) and chat.model_path == smollm2
    reply = chat.invoke(QUESTION)
    assert reply.content.strip()
    assert 0 < reply.usage_metadata["output_tokens"] <= 24
    pieces = [chunk.content for chunk in chat.stream(QUESTION)]
    assert len([p for p in pieces if p]) >= 3, pieces


def test_missing_model_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(LLMUnavailable, match=f"{re.escape(str(missing))}.*'llm_gguf'"):
        make_chat_model(Config.load({"llm_gguf": str(missing)}, environ={}))


def test_server_that_is_down_is_reported_with_its_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    config = Config.load({"llm_base_url": url, "llm_timeout": 5}, environ={})
    down = f"no LLM server answers at {re.escape(url)}"
    with pytest.raises(LLMUnavailable, match=f"{down} \\(setting 'llm_base_url'\\)"):
        check_server(config)
    chat = make_chat_model(config)  # building it contacts nothing
    with pytest.raises(LLMUnavailable, match=down):
        chat.invoke("hello")


def test_no_llm_configured_gives_none():
    assert make_chat_model(Config.load({}, environ={})) is None


def test_llm_settings_load_from_env_and_mask_the_key():
    config = Config.load({}, environ={"NEWSCITE_LLM_BASE_URL": "https://api.openai.com/v1",
                                      "NEWSCITE_LLM_API_KEY": "sk-secret",
                                      "NEWSCITE_LLM_TEMPERATURE": "0.7"})
    assert (config.llm_temperature, config.llm_max_tokens, config.llm_timeout,
            config.llm_context) == (0.7, 384, 60.0, 4096)
    assert config.describe()["llm_api_key"] == "***"
    assert "sk-secret" not in str(config.describe())


@pytest.mark.parametrize("flags, message", [
    ({"llm_base_url": "localhost:11434"}, "'llm_base_url' must start with http:// or https://"),
    ({"llm_temperature": 2.5}, "'llm_temperature' (from flag --llm-temperature) must be between"),
    ({"llm_max_tokens": 8}, "'llm_max_tokens' (from flag --llm-max-tokens) must be between 16"),
    ({"llm_timeout": 0}, "'llm_timeout' (from flag --llm-timeout) must be between 1.0"),
    ({"llm_context": 256}, "'llm_context' (from flag --llm-context) must be between 512"),
    ({"llm_base_url": "http://x/v1", "llm_gguf": "smollm2"}, "set only one"),
])
def test_bad_llm_settings_name_the_setting(flags, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.load(flags, environ={})


@pytest.mark.isolated
def test_generate_mode_answer_cites_only_checked_passages(smollm2, news_index, embedder):
    """The chain in generate mode with the bundled model: whatever the model writes, the final
    answer's markers resolve to passages it was shown, and a reply without a valid citation
    is replaced by the extractive answer (and says so in `origin`)."""
    from newscite.index.store import Store
    from newscite.rag.answer import ExtractiveAnswerer
    from newscite.rag.chain import NewsRAG
    from newscite.rag.citations import check
    from newscite.rag.retrieve import Retriever

    question = "Why is NATO delaying Ukraine's membership bid?"
    with Store.open(news_index) as store:
        rag = NewsRAG(Retriever(store, embedder), ExtractiveAnswerer(embedder),
                      LlamaCppChat(model_path=smollm2, max_tokens=96), mode="generate")
        answer = rag.answer(question)
        extractive = rag.answer(question, mode="extractive")
    assert answer.origin in ("generated", "fallback") and not answer.abstained
    report = check(answer.text, answer.passages)
    assert report.removed == 0 and report.valid, answer.text
    if answer.origin == "fallback":
        assert answer.text == extractive.text
    assert extractive.origin == "extractive"
