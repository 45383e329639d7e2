# Set-up is part of every target: a fresh clone needs only python3 (3.10+) and make.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the server on its embedded defaults (127.0.0.1:8080, ~/.pictograph/data, SQLite).
serve: $(STAMP)
	$(VENV)/bin/pictograph server start

## Run the test suite (SQLite always; PostgreSQL on 127.0.0.1:5432 when it answers, required in CI).
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

## Run every benchmark and print its figures.
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .conformance-venv
