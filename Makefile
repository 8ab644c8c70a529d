# sharelake: `make test` and `make demo` work on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: browser-deps portal-screenshots test test-slow test-malicious fuzz test-faults test-multihost lint demo bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The portal's browser tests drive Debian's chromium (installed here when missing).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed: the browser tests will skip"; fi; }

test: lint browser-deps
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -p no:cacheprovider --doctest-modules src/sharelake

# The property tests (hypothesis) with fresh random examples, 500 per property.
fuzz: $(STAMP)
	SHARELAKE_HYPOTHESIS=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider $$(grep -rl '@given' tests)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The cheating-party suite (issue 17): 100 seeded injections per protocol, 1,200 in all,
# each of which must abort with IntegrityError (a sample of 20 per protocol runs in `make test`).
test-malicious: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests/harness/test_cheating.py tests/mpc/test_shuffle_check.py

# Three nodes in three network namespaces joined by veth pairs (needs root and iproute2;
# skipped with the reason otherwise).
test-multihost: $(STAMP)
	$(BIN)/python -m pytest -q -m multihost -rs

# The attack and fault suite over real node processes (SECURITY.md, "Attack suite"):
# every `faults` test, the slow ones too (the fast ones also run in `make test`).
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults

demo: $(STAMP)
	$(BIN)/sharelake demo

bench: $(STAMP)
	$(BIN)/sharelake bench --json bench.json

bench-quick: $(STAMP)
	$(BIN)/sharelake bench --quick --json bench-quick.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Screenshots of every portal page for docs/portal/, taken by the browser tests.
portal-screenshots: $(STAMP) browser-deps
	SHARELAKE_SCREENSHOTS=docs/portal $(BIN)/python -m pytest -q tests/portal
