# For a fresh machine: `make run` (dashboard with demo data), `make test` (the fast tier, a few
# minutes) and `make test-all` (every test, as CI runs it).
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test test-all install browser demo bench docs clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Seeds the embedded store with the demo fleet on first run, then serves the dashboard.
run: install
	$(PY) -m analytics demo --if-empty
	$(PY) -m ui.serve --server.port $(PORT)

# The browser test needs Debian's Chromium; install it when missing (root only).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else echo "chromium is missing: sudo apt-get install chromium chromium-driver"; fi; }

# Lint (ruff: pyflakes, import order, bugbear, pyupgrade), then the fast tier: every domain, one
# browser smoke test; the `slow` and `browser` tests (markers: tests/conftest.py) are left out.
test: install browser
	$(PY) -m ruff check .
	$(PY) -m pytest -m "smoke or not (slow or browser)"

# Lint, then every test (CI: .ci/run).
test-all: install browser
	$(PY) -m ruff check .
	$(PY) -m pytest

# Regenerate docs/cli.md's command-line reference from the argument parsers.
docs: install
	$(PY) -c "from analytics.cli.main import update_cli_docs; update_cli_docs()"

demo: install
	$(PY) -m analytics demo

bench: install
	$(PY) -m analytics --dsn chdb://$(CURDIR)/.data/bench bench

clean:
	rm -rf .data $(VENV)
