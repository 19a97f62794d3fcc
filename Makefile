# greenserver: everything goes through the project venv in .venv, created on
# first use.  `make test` is what CI runs (via .ci/run).

PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
INSTALLED = $(VENV)/.installed
INSTALLED_TEST = $(VENV)/.installed-test
INSTALLED_BENCH = $(VENV)/.installed-bench
INSTALLED_DOCS = $(VENV)/.installed-docs

# Lint and type-check only the trees that exist (tests/typing, bench, ... may
# not exist yet).
LINT_PATHS = $(wildcard greenserver tests examples bench docs/*.py)
TYPE_PATHS = $(wildcard greenserver examples tests/typing docs/*.py)
# MkDocs 1.x prints a banner about its successor on every build.
MKDOCS = NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

.DEFAULT_GOAL := test
# `make test` runs its steps strictly in order, even under -j.
.NOTPARALLEL:
.PHONY: demo test lint typecheck lint-imports docs docs-strict stress bench bench-beam format clean sysdeps

# System packages the tests and the benchmarks need, as command:package
# pairs (Debian names): redis-tools (redis-cli, redis-benchmark) and
# redis-server for the KV server; erlang-nox (erl, epmd) and elixir (OTP 25
# nodes for the distribution tests); chromium for the observer's browser test
# (Playwright drives it: `playwright install` cannot download a browser
# here).  tools/sysdeps.sh does nothing when
# every command is there, installs the packages unattended where apt-get
# exists (CI runs it as root, CI=true, no terminal), and otherwise stops
# with the list to install.  `make demo` needs none of them: only `test`,
# `stress` and `bench` depend on sysdeps.
SYSDEPS = redis-cli:redis-tools redis-benchmark:redis-tools redis-server:redis-server \
	erl:erlang-nox epmd:erlang-nox elixir:elixir chromium:chromium
sysdeps:
	@sh tools/sysdeps.sh $(SYSDEPS)

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(INSTALLED): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(INSTALLED_TEST): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(INSTALLED_DOCS): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[docs]'
	touch $@

$(INSTALLED_BENCH): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[bench]'
	touch $@

demo: $(INSTALLED)
	$(BIN)/python examples/demo.py
	$(BIN)/python examples/kv_demo.py
	$(BIN)/python examples/nodes_demo.py

# tests/test_docs.py runs every ```python block of docs/; docs-strict checks
# that the site builds without a warning (links, the API reference).
test: sysdeps lint typecheck lint-imports docs-strict
	$(BIN)/python -m pytest -q --doctest-modules tests README.md greenserver

# The documentation site, built into site/ (open site/index.html).
docs: $(INSTALLED_DOCS)
	$(MKDOCS) build

docs-strict: $(INSTALLED_TEST)
	$(MKDOCS) build --strict --quiet

lint: $(INSTALLED_TEST)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(INSTALLED_TEST)
	$(BIN)/mypy $(TYPE_PATHS)

lint-imports: $(INSTALLED_TEST)
	$(BIN)/lint-imports

stress: sysdeps $(INSTALLED_TEST)
	$(BIN)/python -m pytest -q -m stress tests

# The benchmark table (with the BEAM twins when elixir is installed, and
# 1,000,000 GenServers under a DynamicSupervisor), the KV server under
# redis-benchmark, then the stress tests (10,000 random kills in a
# supervision tree).
bench: sysdeps $(INSTALLED_BENCH) $(INSTALLED_TEST)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.kv_bench
	$(BIN)/python -m bench.nodes_bench
	$(BIN)/python -m pytest -q -m stress tests

# Only issue 10's comparison with the BEAM: each case, its Elixir twin, the targets.
BEAM_CASES = gen_server.call,gen_server.cast,gen_server.start_link_100k,idle_mem.gen_server.rss,beam.idle_mem,million
bench-beam: sysdeps $(INSTALLED_BENCH)
	$(BIN)/python -m bench --only $(BEAM_CASES)

format: $(INSTALLED_TEST)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

clean:
	rm -rf build dist site *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
