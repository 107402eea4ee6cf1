"""Embedding backends side by side: passages and sentences per second, fidelity to fp32.

Every candidate embeds the same MultiHop-RAG passages (the chunks newscite indexes, header
included, so lengths are the real ones) and their distinct sentences (which ingest also
embeds, for `sentence_vectors`: about as many word pieces again, in short texts) in one
process, in interleaved rounds, and each keeps its best round: a busy machine slows all
candidates alike, and the best of N is the least disturbed. Candidates: the `Precision`
backends (PyTorch fp32 and bf16 where the CPU has AVX512-BF16, ONNX Runtime fp32 and int8),
plus OpenVINO fp32 on the same ONNX graph when `openvino` is installed (measured only: it is
not a backend newscite offers). The machine (CPU model, flags that matter, load average) is
printed with the figures. Retrieval quality per backend comes from `newscite eval ...
--precision P` (docs/performance.md).

Run from the repository root:

    .venv/bin/python -m newscite.eval.bench_embed --out eval-out/bench/embed.json [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from newscite.eval.benchkit import CORPUS, print_table, write_json
from newscite.index.embedding import (
    Embedder,
    Precision,
    cpu_flags,
    onnx_model,
    resolve_precision,
)

PASSAGES = 256  # enough for several full batches of every length, little enough to repeat
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16")


def workload(count: int) -> dict[str, list[str]]:
    """The indexed texts (header and chunk) of the corpus's first `count` chunks, and the
    distinct sentences of those chunks, as ingest embeds them."""
    from newscite import factory
    from newscite.config import Config
    from newscite.index.loaders import load
    from newscite.text import split_sentences

    embedder = Embedder(precision=Precision.FP32)
    chunker = factory.make_chunker(Config.load({}, environ={}), embedder)
    chunks = []
    for article in load([str(CORPUS)]):
        chunks += chunker.run(article)
        if len(chunks) >= count:
            break
    chunks = chunks[:count]
    sentences = dict.fromkeys(chunk.text[start:end] for chunk in chunks
                              for start, end in split_sentences(chunk.text))
    return {"passages": [chunk.indexed_text for chunk in chunks], "sentences": list(sentences)}


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.startswith("model name")), "unknown")


def machine() -> dict:
    """The CPU model, the instruction sets that decide the backend, and the load now."""
    flags = cpu_flags()
    return {"cpu": cpu_name(), "cores": len(os.sched_getaffinity(0)),
            "flags": [f for f in FLAGS if f in flags],
            "load_average": os.getloadavg(), "auto": resolve_precision(Precision.AUTO).value}


def openvino_candidate(embedder: Embedder) -> Callable[[list[str]], np.ndarray] | None:
    """OpenVINO on the exported fp32 graph, in fp32 (as on a CPU without BF16); None when
    openvino is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    path = onnx_model(embedder.path, quantized=False)
    compiled = openvino.Core().compile_model(
        str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                           "INFERENCE_NUM_THREADS": len(os.sched_getaffinity(0))})

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), embedder.batch_size):
            features = embedder.model.preprocess(texts[start:start + embedder.batch_size])
            out.append(compiled({n: features[n].numpy() for n in
                                 ("input_ids", "attention_mask", "token_type_ids")})[0])
        vectors = np.concatenate(out)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return embed


def candidates() -> dict[str, Callable[[list[str]], np.ndarray]]:
    chosen = [Precision.FP32, Precision.ONNX_FP32, Precision.ONNX_INT8]
    if "avx512_bf16" in cpu_flags():
        chosen.insert(1, Precision.BF16)
    embedders = {p.value: Embedder(precision=p) for p in chosen}
    found = {name: e.embed for name, e in embedders.items()}
    ov = openvino_candidate(embedders[Precision.ONNX_FP32.value])
    if ov is not None:
        found["openvino-fp32"] = ov
    return found


def measure(kinds: dict[str, list[str]], rounds: int) -> dict[str, dict[str, dict]]:
    """For each candidate and kind of text: the best texts/s over interleaved rounds, and
    the cosine to fp32."""
    found = candidates()
    for embed in found.values():
        embed(kinds["passages"][:8])  # load and warm up outside the clock
    results = {name: {kind: {"seconds": []} for kind in kinds} for name in found}
    for kind, texts in kinds.items():
        reference = found[Precision.FP32.value](texts)
        for _ in range(rounds):
            for name, embed in found.items():
                started = time.perf_counter()
                vectors = embed(texts)
                figures = results[name][kind]
                figures["seconds"].append(time.perf_counter() - started)
                cosine = (vectors * reference).sum(axis=1)
                figures.update(min_cosine=float(cosine.min()), mean_cosine=float(cosine.mean()))
        for name in found:
            results[name][kind]["per_s"] = len(texts) / min(results[name][kind]["seconds"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--passages", type=int, default=PASSAGES)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best counts)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kinds = workload(args.passages)
    before = machine()
    results = measure(kinds, args.rounds)
    after = machine()
    print(f"{before['cpu']}, {before['cores']} cores, flags {' '.join(before['flags'])}; "
          f"load average {before['load_average'][0]:.1f} before, "
          f"{after['load_average'][0]:.1f} after; auto picks {before['auto']}")
    for kind, texts in kinds.items():
        fp32 = results[Precision.FP32.value][kind]["per_s"]
        print_table(["backend", f"{kind}/s (best)", "x fp32", "min cosine to fp32",
                     "mean cosine"],
                    [[name, r[kind]["per_s"], r[kind]["per_s"] / fp32, r[kind]["min_cosine"],
                      r[kind]["mean_cosine"]] for name, r in results.items()],
                    f"{len(texts)} MultiHop-RAG {kind}, best of {args.rounds} interleaved "
                    "rounds")
    write_json(args.out, {"machine": before, "load_average_after": after["load_average"],
                          **{kind: len(texts) for kind, texts in kinds.items()},
                          "rounds": args.rounds, "results": results,
                          "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()
