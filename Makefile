# wasm-claims: `make report` is the main job, `make test` the harness's own tests.
# Both create .venv and install the package into it on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SETUP_STAMP := .setup-stamp
PYTEST := $(BIN)/python -m pytest
# Parallel workers for `make report` (pytest-xdist; benchmarks still run alone): JOBS=0 for a serial run.
JOBS   ?= $(shell nproc 2>/dev/null || echo 1)
PYTEST_ARGS ?=
# Optional extras `make report` installs first (pip extras of this package, comma-separated), e.g.
# EXTRAS=torch: the pytorch WASI-NN rows (TorchScript; torch is several GB, so it is never a default).
EXTRAS ?=
# llama.cpp for the CPU, without what the harness does not call (server, examples, tools, tests, curl).
GGML_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF -DGGML_OPENMP=OFF

.PHONY: setup venv extras build image engines doctor report test bench arm-leg clean help

help:
	@echo "make report  build workloads, run every suite, write reports/index.html (+ results.json, junit.xml, summary.md)"
	@echo "             EXTRAS=torch also installs torch and runs the pytorch WASI-NN rows (several GB)"
	@echo "make test    the harness's own tests (includes a short end-to-end run of every suite)"
	@echo "make doctor  what is available on this machine and why not"
	@echo "make setup   the Debian packages the full report needs (run by report/test; apt-get as root or with sudo -n)"
	@echo "make venv    .venv with the package installed (run by every target)"
	@echo "make bench   examples per second through each form (sha256, 1 KiB)"
	@echo "make arm-leg smoke + portability with the harness itself as an aarch64 program under qemu-user (root; reports/arm-leg)"

# Debian packages (qemu-user, Rust wasm32, node, chromium...): once, stamped; without root or
# sudo -n it prints the apt-get command and the run goes on with visible skips.
$(SETUP_STAMP): scripts/setup.sh
	@scripts/setup.sh $@

setup: $(SETUP_STAMP)

$(STAMP): pyproject.toml | $(SETUP_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@echo "building llama-cpp-python from source (the ggml WASI-NN backend; several minutes, once: pip keeps the wheel)"
	@CMAKE_ARGS="$(GGML_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(BIN)/python scripts/with_progress.py llama.cpp \
	  $(VENV)/llama-cpp-build.log -- $(BIN)/python -m pip install -v -e '.[ggml]' \
	  || echo "warning: llama-cpp-python did not build; the ggml parity rows will be skipped with the reason"
	touch $@

venv: $(STAMP)

extras: venv
ifneq ($(strip $(EXTRAS)),)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
endif

doctor: venv
	$(BIN)/wasm-claims doctor

build: venv
	$(BIN)/wasm-claims build

# The container form needs the local Python image; without a Docker engine it is skipped
# (not-tested in the report), so a failure here does not stop the report.
image: venv
	-$(BIN)/wasm-claims image build

# Wasm engines that build from the registries (wasmi, Wasmer: cargo, cached under the cache
# root, first build only); without cargo or on a failed build their rows are skipped.
engines: venv
	-$(BIN)/wasm-claims runtime install --buildable

report: extras build image engines
	$(BIN)/wasm-claims doctor
	@mkdir -p reports
	$(PYTEST) -n $(JOBS) --suite all --report-dir reports --junitxml=reports/junit.xml -p no:cacheprovider $(PYTEST_ARGS); \
	  status=$$?; test -f reports/index.html && echo "report: reports/index.html"; exit $$status

test: venv
	$(PYTEST) tests

arm-leg: venv
	$(BIN)/wasm-claims arm-leg

bench: venv
	$(BIN)/python -m harness.bench

clean:
	rm -rf $(VENV) reports/*.json reports/*.html reports/*.xml reports/*.md .pytest_cache
