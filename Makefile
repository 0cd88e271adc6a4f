# The README's commands. `make demo` runs MemeThresher on its embedded defaults; `make test` runs the tests.
VENV ?= .venv
PYTHON ?= python3
PIP := $(VENV)/bin/pip
PACKAGES := -e 'shared[demo]' -e services/crawler -e services/embedder -e services/trainer -e services/api

.PHONY: install install-dev demo up test lint bench screenshots clean

install: $(VENV)/.installed

# Torch first, pinned: an unpinned torch pulled in by open_clip would download a different build.
$(VENV)/.installed: pyproject.toml shared/pyproject.toml services/*/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.14.1 torchvision==0.29.1
	$(PIP) install --quiet $(PACKAGES)
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[dev]'
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

demo: install
	$(VENV)/bin/memethresher up --demo

up: install
	$(VENV)/bin/memethresher up

# The static checks first: a lint or type error fails in seconds, before the tests take minutes.
test: lint
	$(VENV)/bin/pytest

# ruff (lint and format) on everything; mypy on the packages (the files are listed in pyproject.toml).
lint: install-dev
	$(VENV)/bin/ruff check shared services benchmarks tests tools
	$(VENV)/bin/ruff format --check shared services benchmarks tests tools
	$(VENV)/bin/mypy

# The README's screenshots, from a real demo session in a temp folder (about a minute).
screenshots: install-dev
	$(VENV)/bin/python tools/screenshots.py --out docs/screenshots

bench: install-dev
	for bench in benchmarks/bench_*.py; do $(VENV)/bin/python $$bench --quick || exit 1; done

clean:
	rm -rf $(VENV) data
