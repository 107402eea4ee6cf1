"""Embedding backends: ONNX exports agree with PyTorch, are cached once, and auto decides by
the CPU's flags and follows the vectors an index holds; an int8 index refuses float
vectors."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from newscite.index import embedding
from newscite.index.embedding import Embedder, Precision, resolve_precision
from tests.conftest import FIXTURES, ROOT

TEXTS = ["NATO delays Ukraine's membership bid until the war ends.",
         "The city council approved the new tram line; it will cost 240 million euros and "
         "open in 2027, officials said on Tuesday after a long debate.", "short"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private export cache for this module (the export runs once, here)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSCITE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def reference():
    return Embedder(precision=Precision.FP32).embed(TEXTS)


@pytest.mark.parametrize("precision, least_cosine", [(Precision.ONNX_FP32, 0.9999),
                                                     (Precision.ONNX_INT8, 0.97)])
def test_onnx_vectors_agree_with_pytorch_fp32(cache, reference, precision, least_cosine):
    vectors = Embedder(precision=precision, batch_size=2).embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() >= least_cosine


@pytest.mark.parametrize("precision", [Precision.ONNX_FP32, Precision.ONNX_INT8])
def test_onnx_pools_spans_as_pytorch_does(cache, precision):
    """The exported graph gives the word pieces' vectors too, so a question's parts are
    pooled the same way on every backend."""
    text, spans = TEXTS[1], [(0, 40), (41, 90)]
    fp32 = Embedder(precision=Precision.FP32).embed_with_spans(text, spans)
    onnx = Embedder(precision=precision).embed_with_spans(text, spans)
    assert (onnx[1] * fp32[1]).sum(axis=1).min() >= (0.9999 if precision is
                                                      Precision.ONNX_FP32 else 0.95)
    assert float(onnx[0] @ fp32[0]) >= 0.97


def test_an_int8_vector_depends_on_its_text_alone(cache):
    """int8 scales activations per run: batched, a text's vector moved with its companions."""
    int8 = Embedder(precision=Precision.ONNX_INT8, batch_size=64)
    together = int8.embed(TEXTS)
    assert np.array_equal(together, np.vstack([int8.embed([text]) for text in TEXTS]))


def test_the_export_is_made_once_and_reused(cache):
    Embedder(precision=Precision.ONNX_INT8).embed(TEXTS[:1])
    exports = list((cache / "onnx").iterdir())
    assert len(exports) == 1 and {p.name for p in exports[0].iterdir()} == {
        embedding.ONNX_FILE, embedding.ONNX_INT8_FILE}
    written = {p: p.stat().st_mtime_ns for p in exports[0].iterdir()}
    Embedder(precision=Precision.ONNX_FP32).embed(TEXTS[:1])
    assert list((cache / "onnx").iterdir()) == exports  # no staging folder left behind
    assert {p: p.stat().st_mtime_ns for p in exports[0].iterdir()} == written


def test_the_export_runs_in_a_child_process(cache):
    """The export (torch tracing, quantisation) is a child's work: it shows in the children's
    peak memory, not as this process loading the quantiser."""
    assert (cache / "onnx").is_dir()  # exported by the tests above, once
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 300 << 10  # KiB: > 300 MB
    assert "onnxruntime.quantization" not in sys.modules


def test_a_failed_export_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text("{not json")
    monkeypatch.setenv("NEWSCITE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match=r"failed in its child process \(exit [1-9]") as error:
        embedding.onnx_model(model, quantized=True)
    assert "precision 'fp32' or 'bf16' needs no export" in str(error.value)
    assert list((tmp_path / "cache" / "onnx").iterdir()) == []  # no staging folder left


@pytest.mark.parametrize("flags, picked", [({"avx2", "avx512f", "avx512_bf16"}, Precision.BF16),
                                           ({"avx2", "fma"}, embedding.AUTO_WITHOUT_BF16),
                                           (set(), embedding.AUTO_WITHOUT_BF16)])
def test_auto_decides_by_the_cpu_flags_found_at_run_time(monkeypatch, flags, picked):
    monkeypatch.setattr(embedding, "cpu_flags", lambda: flags)
    assert resolve_precision("auto") is picked
    assert resolve_precision("fp32") is Precision.FP32  # an explicit choice stays


def test_auto_without_onnx_runtime_falls_back_to_fp32_and_says_why(monkeypatch, caplog):
    monkeypatch.setattr(embedding, "cpu_flags", lambda: {"avx2", "fma"})
    monkeypatch.setattr(embedding, "AUTO_WITHOUT_BF16", Precision.ONNX_INT8)
    monkeypatch.setattr(embedding, "_logged", set())
    real_find_spec = embedding.importlib.util.find_spec
    monkeypatch.setattr(embedding.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name))
    assert resolve_precision("auto") is Precision.FP32
    assert "needs ONNX Runtime, which is not installed: pip install -e '.[onnx]'" in caplog.text


def test_cpu_flags_are_read_from_this_machine():
    assert "sse2" in embedding.cpu_flags() or not embedding.Path("/proc/cpuinfo").exists()


def test_flags_can_be_hidden_for_tests_and_benchmarks(monkeypatch):
    monkeypatch.delenv(embedding.HIDE_FLAGS_VARIABLE, raising=False)
    seen = embedding.cpu_flags()
    monkeypatch.setenv(embedding.HIDE_FLAGS_VARIABLE, "sse2, avx512_bf16")
    assert embedding.cpu_flags() == seen - {"sse2", "avx512_bf16"}  # the others stay
    assert resolve_precision("auto") is not Precision.BF16
    monkeypatch.setenv(embedding.HIDE_FLAGS_VARIABLE, "AVX512-BF16")
    with pytest.raises(ValueError, match="NEWSCITE_HIDE_CPU_FLAGS.*not CPU flag names"):
        embedding.cpu_flags()


def test_the_index_identity_separates_int8_from_float_vectors(cache):
    float_identity = Embedder(precision=Precision.FP32).identity
    assert float_identity["quantization"] is None
    assert Embedder(precision=Precision.BF16).identity == float_identity
    assert Embedder(precision=Precision.ONNX_INT8).identity["quantization"] == "int8-dynamic"


def test_an_int8_index_refuses_a_float_writer(tmp_path, cache, chunker):
    from newscite.index.ingest import index_identity
    from newscite.index.store import IndexMismatchError, Store

    int8 = Embedder(precision=Precision.ONNX_INT8)
    with Store.open(tmp_path / "idx", identity=index_identity(int8, chunker), writable=True,
                    create=True):
        pass
    with pytest.raises(IndexMismatchError, match="quantization") as refused:
        Store.open(tmp_path / "idx", identity=index_identity(Embedder(precision="fp32"), chunker),
                   writable=True)
    # the message says what to run, or which setting writes such vectors
    assert "newscite reindex --index" in str(refused.value)
    assert "quantization 'int8-dynamic' is precision = 'onnx-int8'" in str(refused.value)


@pytest.mark.parametrize("flags, float_pick", [({"avx2", "avx512_bf16"}, Precision.BF16),
                                               ({"avx2", "fma"}, Precision.FP32)])
def test_auto_follows_the_vectors_an_index_holds(monkeypatch, flags, float_pick):
    """An index built on another CPU keeps taking articles: auto never picks vectors it
    would refuse (an index written before the key existed holds float vectors)."""
    monkeypatch.setattr(embedding, "cpu_flags", lambda: flags)
    assert resolve_precision("auto", {"quantization": "int8-dynamic"}) is Precision.ONNX_INT8
    assert resolve_precision("auto", {"model": "m", "quantization": None}) is float_pick
    assert resolve_precision("auto", {"model": "m"}) is float_pick
    assert resolve_precision("fp32", {"quantization": "int8-dynamic"}) is Precision.FP32


def test_a_float_index_takes_articles_from_auto_on_a_cpu_without_bf16(config_factory,
                                                                        monkeypatch):
    """The index was built where auto meant a float backend; on a CPU where auto means int8
    for a new index, the writer follows the index instead of being refused."""
    from newscite import factory

    config = config_factory(precision="fp32")
    ingester = factory.make_ingester(config, progress=False)
    with ingester.store:
        assert ingester.run([str(FIXTURES / "news.jsonl")]).added == 3  # and one merged copy
    monkeypatch.setenv(embedding.HIDE_FLAGS_VARIABLE, "avx512_bf16")
    auto = config.with_(precision="auto")
    assert factory.make_embedder(auto).precision is Precision.FP32
    assert factory.make_embedder(auto, follow_index=False).precision is resolve_precision("auto")
    ingester = factory.make_ingester(auto, progress=False)
    with ingester.store:
        assert ingester.run([str(ROOT / "seeds")]).added == 1
