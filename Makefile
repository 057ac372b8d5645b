# The README's two commands: `make run` (the demo / main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

LOCK      := requirements/lock.txt
TEST_LOCK := requirements/test-lock.txt

.PHONY: run test test-fast durations lint install install-test lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every package comes from the lock at its pinned version and hash; then Vitrina itself, without
# resolving anything again (--no-deps) and built with the locked setuptools (--no-build-isolation).
# Stamps re-run the install whenever the lock or pyproject.toml changes.
$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(TEST_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(TEST_LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed

# Resolve pyproject.toml's ranges on PyPI for CPython 3.11 on x86-64 Linux (what CI runs), with
# every file's sha256, keeping the pins already locked (`make lock UPGRADE=--upgrade` moves every
# pin to the newest release). Run after changing a dependency; commit both files.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes $(UPGRADE) \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--index-url https://pypi.org/simple --no-emit-index-url
lock: | $(BIN)/python
	$(BIN)/pip install -q 'uv>=0.5,<1'
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra test -o $(TEST_LOCK)

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The demo: emulator with demo shops, SQLite catalogue under var/demo, one pipeline run, then the
# web app and the scheduler until Ctrl-C. Offline; VITRINA_DEMO_IMAGES=DIR uses real photos.
run: $(VENV)/.installed
	$(BIN)/vitrina demo $(DEMO_ARGS)

# The whole suite (what CI runs), spread over the CPUs by pytest-xdist: one worker per CPU and one
# more, since many tests wait on a served catalogue, a browser or a crawl (`make test WORKERS=0`:
# one process), each test module on one worker (its module-scoped fixtures start once).
# docs/development.md: the layers.
WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# The project's modules are byte-compiled first: where PYTHONDONTWRITEBYTECODE is set (as on
# CI machines like this one) every `vitrina` process the tests start would otherwise compile
# them from source again (~0.07 s of CPU each, hundreds of processes).
COMPILE = $(BIN)/python -m compileall -q -j 0 catalog classifier crawler pipeline web vitrina_cli tests benchmarks scheduler.py
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(COMPILE) > /dev/null
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile

# The quick loop: ruff and the unit layer (tests/unit/: no browser, no emulator crawls, no
# model), in one process.
test-fast: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests/unit

# Time every test file in a whole run and rewrite tests/durations.json, from which `make test`
# starts the longest files first (tests/support/durations.py); run after adding slow tests.
durations: $(VENV)/.installed-test
	mkdir -p var
	-$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile --junitxml=var/junit.xml
	$(BIN)/python -m tests.support.durations var/junit.xml > tests/durations.json

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

# mypy on catalog/, pipeline/ and web/ ([tool.mypy] in pyproject.toml); `make test` and `make
# lint` run it first (a rule of its own, so the targets' recipes stay as they are).
.PHONY: typecheck
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy
test lint: typecheck

clean:
	rm -rf $(VENV) var .pytest_cache
