# Two commands keep working on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test workers: most tests wait on I/O (the sandbox, the databases), so more workers than cores.
PYTEST_WORKERS ?= 4

.PHONY: run test test-dates lint typecheck format bench sandbox migrate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## set up, migrate and run the bot
	$(PY) -m bot migrate
	$(PY) -m bot run

migrate: $(STAMP)
	$(PY) -m bot migrate

sandbox: $(STAMP)  ## the local Bot API stand-in on 127.0.0.1:$(PORT) (default 8081)
	$(PY) -m sandbox --port $(or $(PORT),8081)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)  ## mypy, disallow_untyped_defs on bot/, handlers/, storage/
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint typecheck  ## lint and types, then the whole suite on SQLite and PostgreSQL
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

test-dates: $(STAMP)  ## the end-to-end suite at hard instants (Tết, quarter end, New Year's Eve, 00:05 on the 1st)
	scripts/test-dates

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
