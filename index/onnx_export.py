"""The ONNX export of a local sentence-transformers model, run in a child process.

`index.embedding.onnx_model` starts `python -m newscite.index.onnx_export MODEL FOLDER` on
first use of an ONNX backend, so that the export's memory (torch's tracer, the fp32 graph
and its int8 copy, about 1 GiB more on top of a loaded model) is never held by the process
that serves or ingests: that process only waits, and its peak stays that of embedding.

The child loads the model in fp32 from the local folder (nothing downloaded) and writes
`model.onnx` (fp32) and `model-int8.onnx` (int8) into FOLDER, which the parent then renames
into the cache; it exits non-zero, with the reason on stderr, when the export fails.

Example:
    $ python -m newscite.index.onnx_export ~/models/all-MiniLM-L6-v2 /tmp/export
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# ONNX opset of the export: supported by every onnxruntime since 1.12 and by OpenVINO.
ONNX_OPSET = 17
ONNX_FILE, ONNX_INT8_FILE = "model.onnx", "model-int8.onnx"
# The graph's outputs: the text's vector, and each word piece's vector before pooling.
OUTPUTS = ("sentence_embedding", "token_embeddings")
# int8 quantises the matrix products only, each output channel with its own scale: with the
# defaults (the embedding table too, one scale per tensor) the vectors fell to cosine 0.91
# (mean 0.947) of fp32 on MultiHop-RAG passages; this way 0.985 (mean 0.994). Weights keep
# 7 bits (reduce_range): CPUs without VNNI (AVX2 only, as the AMD EPYC machines) multiply
# u8 x s8 pairs into 16 bits, which full-range weights can overflow; with 7 bits every x86
# CPU computes the same integers, so the quality measured here holds there too.
INT8_OPS = ("MatMul",)


def _sentence_module(model, names: list[str]):
    """`model` (a SentenceTransformer) as a module of the tokenizer's tensors, for export."""
    import torch

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            out = self.model(dict(zip(names, tensors)))
            return out["sentence_embedding"], out["token_embeddings"]

    return SentenceEmbedding().eval()


def export_onnx(model, folder: Path) -> None:
    """Write `model` (a fp32 SentenceTransformer) to `folder` as ONNX, fp32 and int8.

    The graph runs the whole sentence-transformers pipeline (transformer, pooling,
    normalisation) from the tokenizer's tensors, with batch and length dynamic; it gives the
    word pieces' vectors too (`OUTPUTS`: `Embedder.embed_with_spans` pools parts of a text).
    int8 is onnxruntime's dynamic quantisation of the weights (activations quantised per
    batch at run time) of the matrix products, per channel; sentence-transformers'
    `export_dynamic_quantized_onnx_model` does the same through optimum, which this project
    cannot install (it pins an older transformers; see docs/performance.md).
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sample = model.preprocess(["an example passage", "a second, slightly longer example"])
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.inference_mode():
        torch.onnx.export(_sentence_module(model, names), tuple(sample[n] for n in names),
                          str(folder / ONNX_FILE), input_names=names,
                          output_names=list(OUTPUTS),
                          dynamic_axes={**axes, "sentence_embedding": {0: "batch"},
                                        "token_embeddings": {0: "batch", 1: "tokens"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    quantize_dynamic(folder / ONNX_FILE, folder / ONNX_INT8_FILE, weight_type=QuantType.QInt8,
                     op_types_to_quantize=list(INT8_OPS), per_channel=True, reduce_range=True)


def export_folder(model_path: Path, folder: Path) -> None:
    """Load the model of local folder `model_path` in fp32 and export it into `folder`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.eval()
    export_onnx(model, folder)


def main(argv: list[str] | None = None) -> int:
    """The child's entry point: export MODEL into the existing, empty FOLDER."""
    parser = argparse.ArgumentParser(prog="python -m newscite.index.onnx_export",
                                     description="Export a local sentence-transformers model "
                                                 "to ONNX (fp32 and int8) into a folder.")
    parser.add_argument("model", type=Path, help="local sentence-transformers folder")
    parser.add_argument("folder", type=Path, help="existing folder to write the files into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.folder.is_dir():
        log.error("%s is not a folder", args.folder)
        return 2
    export_folder(args.model, args.folder)
    log.info("exported %s into %s", args.model, args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
