# One command each: `make test` and `make demo` create the virtual environment themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test test-deploy test-floor test-floor-canary test-32 lint docs demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,redis]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .

# The shared request budget's tests start a real redis-server (installed here when missing).
# Four pytest processes (pytest-xdist), each with its own Airflow home, database and emulator:
# the tests wait on jobs and loops far more than they compute, so four share two cores well.
PYTEST_WORKERS ?= 4
test: install lint
	$(PY) scripts/ensure_redis.py
	$(PY) -m pytest -n $(PYTEST_WORKERS)

# Separate Airflow processes on PostgreSQL (LocalExecutor; CeleryExecutor on Redis with two
# workers and two triggerers; SQLite for newcomers), killed workers and triggerers, the browser.
test-deploy: install
	$(PY) scripts/ensure_chromium.py
	$(PY) scripts/ensure_redis.py
	$(PY) -m pytest -m deploy tests/deploy tests/browser

# The oldest supported Airflow (.ci/floor-constraints.txt, with the pins it needs) in a venv of
# its own; the provider from a wheel, not editable; the example DAGs, import cost, links, shims.
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

# The floor's release line at its newest (3.1.x, whose own metadata carries Airflow's fixes),
# with none of our pins: what `pip install "apache-airflow<3.2" airflow-provider-grokvideo`
# gives a user today. The day a library's release breaks it, this run says what broke without
# failing CI; the deferral guard alone must pass (today's cryptography cannot defer on 3.1).
CANARY_VENV ?= .venv-floor-canary
CANARY_PY := $(CANARY_VENV)/bin/python

test-floor-canary:
	rm -rf $(CANARY_VENV)
	$(PYTHON) -m venv $(CANARY_VENV)
	$(CANARY_PY) -m pip install --quiet --upgrade pip
	$(CANARY_PY) -m pip install --quiet "apache-airflow>=3.1,<3.2" "cryptography>=51" . \
		"pytest>=8" "pytest-asyncio>=0.24"
	GROKVIDEO_EXPECT_DEFERRAL_BLOCKED=1 $(CANARY_PY) scripts/test_floor.py tests/integration/test_deferral_guard.py
	-$(CANARY_PY) -m pip check
	GROKVIDEO_EXPECT_DEFERRAL_BLOCKED=1 $(CANARY_PY) scripts/floor_canary.py

# The newest Airflow 3.2 release (.ci/airflow-3.2-constraints.txt, with the pins it needs) in a
# venv of its own, the provider from a wheel: the same selection as test-floor.
AF32_VENV ?= .venv-32
AF32_PY := $(AF32_VENV)/bin/python

$(AF32_VENV)/.installed: pyproject.toml .ci/airflow-3.2-constraints.txt
	rm -rf $(AF32_VENV)
	$(PYTHON) -m venv $(AF32_VENV)
	$(AF32_PY) -m pip install --quiet --upgrade pip
	$(AF32_PY) -m pip install --quiet -c .ci/airflow-3.2-constraints.txt \
		"apache-airflow" . "pytest>=8" "pytest-asyncio>=0.24"
	touch $@

test-32: $(AF32_VENV)/.installed
	$(AF32_PY) -m pip install --quiet --no-deps --force-reinstall .
	$(AF32_PY) -m pip check
	$(AF32_PY) scripts/test_floor.py

# The documentation site (mkdocs.yml: README.md as its home page, then docs/) built into site/.
# --strict fails the build on a page missing from the nav and on a broken link or anchor,
# README.md's included. Material's notice about its successor is not news on every build.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

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
	rm -rf $(VENV) $(FLOOR_VENV) $(CANARY_VENV) $(AF32_VENV) site demo-output browser-screenshots .pytest_cache .ruff_cache
