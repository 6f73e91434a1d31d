# Two commands: `make demo` runs the main job offline, `make test` passes the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo dev doctor bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check marketdata_pipeline marketdata_pipeline_tests

# Two worker processes, a test file (or the ops package) each at a time, slow files first
# (marketdata_pipeline_tests/conftest.py says why); then the tests marked `alone`, in one process.
test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder -m "not alone"
	$(BIN)/python -m pytest -q -m alone

demo: $(STAMP)
	$(BIN)/marketdata demo

dev: $(STAMP)
	$(BIN)/marketdata dev $(if $(PORT),--port $(PORT))

doctor: $(STAMP)
	$(BIN)/marketdata doctor

bench: $(STAMP)
	$(BIN)/python -m marketdata_pipeline_tests.bench

clean:
	rm -rf $(VENV) data .pytest_cache
