# wasm-claims: `make report` is the main job, `make test` the harness's own tests.
# Both create .venv and install the package into it on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: venv build image engines doctor report test bench clean help

help:
	@echo "make report  build workloads, run every suite, write reports/index.html (+ results.json, junit.xml, summary.md)"
	@echo "make test    the harness's own tests (includes a short end-to-end run of every suite)"
	@echo "make doctor  what is available on this machine and why not"
	@echo "make bench   examples per second through each form (sha256, 1 KiB)"

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

# Wasm engines that build from the registries (wasmi, Wasmer: cargo, cached under the cache
# root, first build only); without cargo or on a failed build their rows are skipped.
engines: venv
	-$(BIN)/wasm-claims runtime install --buildable

report: build image engines
	$(BIN)/wasm-claims doctor
	@mkdir -p reports
	$(PYTEST) --suite all --report-dir reports --junitxml=reports/junit.xml -p no:cacheprovider; \
	  status=$$?; test -f reports/index.html && echo "report: reports/index.html"; exit $$status

test: venv
	$(PYTEST) tests

bench: venv
	$(BIN)/python -m harness.bench

clean:
	rm -rf $(VENV) reports/*.json reports/*.html reports/*.xml reports/*.md .pytest_cache
