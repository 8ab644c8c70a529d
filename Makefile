# sharelake: `make test` and `make demo` work on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test test-slow lint demo bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

demo: $(STAMP)
	$(BIN)/sharelake demo

bench: $(STAMP)
	$(BIN)/sharelake bench --json bench.json

bench-quick: $(STAMP)
	$(BIN)/sharelake bench --quick --json bench-quick.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
