# Two commands start everything: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UV := uv==0.13.9

.PHONY: setup demo test serve layers synth lint bench capacity soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# uv installs the same pins in seconds where pip takes a minute; pip stays the fallback.
	@# Where Python writes no bytecode at import (PYTHONDONTWRITEBYTECODE), every test worker and
	@# stack process compiles the packages again (25-33 s of the suite): then they are compiled here once (21 s).
	$(PY) -m pip install --quiet $(UV) && $(PY) -m uv pip install --quiet $(if $(PYTHONDONTWRITEBYTECODE),--compile-bytecode) \
		--python $(PY) -e '.[cdk,dev]' \
		|| $(PY) -m pip install --quiet -e '.[cdk,dev]'
	@# The browser tests drive Debian's chromium (never a downloaded browser): installed where missing and possible.
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto --dist worksteal

serve: $(STAMP)
	$(PY) -m infra.local serve $(if $(DATA),--data-dir $(DATA))

layers: $(STAMP)
	$(PY) -m infra.cdk.layers

synth: layers
	$(PY) -m infra.cdk.synth

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m tests.benchmarks.run

# Orders a minute the cloud deployment carries and its first bottleneck (docs/capacity.md).
# Records a trace of whole lifecycles on the local stack unless a fresh one exists;
# CAPACITY_ARGS passes options (--record, --sku-buckets N, --order-shards N, --placed ...).
capacity: $(STAMP)
	$(PY) -m tests.benchmarks.capacity $(CAPACITY_ARGS)

# Thousands of operations at once on a few orders, every invariant checked after each round.
# In process on moto; with SOAK_HTTP_OPERATIONS (e.g. 3000) over the local stack's HTTP API instead.
SOAK_OPERATIONS ?= 3000
SOAK_SEED ?= 20261202
SOAK_HTTP_OPERATIONS ?=
soak: $(STAMP)
ifeq ($(strip $(SOAK_HTTP_OPERATIONS)),)
	SOAK_OPERATIONS=$(SOAK_OPERATIONS) SOAK_SEED=$(SOAK_SEED) SOAK_ORDERS=6 \
		$(PY) -m pytest -p no:xdist -s -q tests/integration/test_soak.py
else
	SOAK_HTTP_OPERATIONS=$(SOAK_HTTP_OPERATIONS) SOAK_SEED=$(SOAK_SEED) \
		$(PY) -m pytest -p no:xdist -s -q tests/e2e/test_concurrent_model_http.py
endif

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .hypothesis bench-results
