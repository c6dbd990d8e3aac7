# wasm-claims: `make report` is the main job, `make test` the harness's own tests.
# Both create .venv and install the package into it on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest
# Parallel workers for `make report` (pytest-xdist; benchmarks still run alone): JOBS=0 for a serial run.
JOBS   ?= $(shell nproc 2>/dev/null || echo 1)
PYTEST_ARGS ?=

.PHONY: venv build image doctor report test bench arm-leg clean help

help:
	@echo "make report  build workloads, run every suite, write reports/index.html (+ results.json, junit.xml, summary.md)"
	@echo "make test    the harness's own tests (includes a short end-to-end run of every suite)"
	@echo "make doctor  what is available on this machine and why not"
	@echo "make bench   examples per second through each form (sha256, 1 KiB)"
	@echo "make arm-leg smoke + portability with the harness itself as an aarch64 program under qemu-user (root; reports/arm-leg)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

venv: $(STAMP)

doctor: venv
	$(BIN)/wasm-claims doctor

build: venv
	$(BIN)/wasm-claims build

# The container form needs the local Python image; without a Docker engine it is skipped
# (not-tested in the report), so a failure here does not stop the report.
image: venv
	-$(BIN)/wasm-claims image build

report: build image
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
