# Two commands start everything: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test serve layers synth lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cdk,dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto

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

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .hypothesis bench-results
