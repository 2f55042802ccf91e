# One command each: `make test` and `make demo` create the virtual environment themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test test-deploy lint demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(PY) -m pytest

# Separate Airflow processes on PostgreSQL, killed workers and triggerers, the browser.
test-deploy: install
	$(PY) scripts/ensure_chromium.py
	$(PY) -m pytest -m deploy tests/deploy tests/browser

demo: install
	$(PY) scripts/demo.py

bench: install
	$(PY) benchmarks/import_time.py
	$(PY) benchmarks/triggerer_load.py
	$(PY) benchmarks/gc_pause.py
	$(PY) benchmarks/download.py
	$(PY) benchmarks/video_page.py

clean:
	rm -rf $(VENV) demo-output browser-screenshots .pytest_cache .ruff_cache
