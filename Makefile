# One command each: `make test` and `make demo` create the virtual environment themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test test-deploy test-floor lint demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,redis]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .

# The shared request budget's tests start a real redis-server (installed here when missing).
test: install lint
	$(PY) scripts/ensure_redis.py
	$(PY) -m pytest

# Separate Airflow processes on PostgreSQL (LocalExecutor; CeleryExecutor on Redis with two
# workers and two triggerers; SQLite for newcomers), killed workers and triggerers, the browser.
test-deploy: install
	$(PY) scripts/ensure_chromium.py
	$(PY) scripts/ensure_redis.py
	$(PY) -m pytest -m deploy tests/deploy tests/browser

# The oldest supported Airflow (.ci/floor-constraints.txt, with the pins it needs) in a venv of
# its own; the provider from a wheel, not editable; the example DAGs, import cost and shims.
FLOOR_VENV ?= .venv-floor
FLOOR_PY := $(FLOOR_VENV)/bin/python

$(FLOOR_VENV)/.installed: pyproject.toml .ci/floor-constraints.txt
	rm -rf $(FLOOR_VENV)
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_PY) -m pip install --quiet --upgrade pip
	$(FLOOR_PY) -m pip install --quiet -c .ci/floor-constraints.txt \
		"apache-airflow" . "pytest>=8" "pytest-asyncio>=0.24"
	touch $@

test-floor: $(FLOOR_VENV)/.installed
	$(FLOOR_PY) -m pip install --quiet --no-deps --force-reinstall .
	$(FLOOR_PY) -m pip check
	$(FLOOR_PY) scripts/test_floor.py

demo: install
	$(PY) scripts/demo.py

bench: install
	$(PY) benchmarks/import_time.py
	$(PY) benchmarks/triggerer_load.py
	$(PY) benchmarks/gc_pause.py
	$(PY) benchmarks/download.py
	$(PY) benchmarks/rate_limit.py
	$(PY) benchmarks/video_page.py

clean:
	rm -rf $(VENV) $(FLOOR_VENV) demo-output browser-screenshots .pytest_cache .ruff_cache
