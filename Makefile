# Two commands keep working on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test workers: most tests wait on I/O (the sandbox, the databases), so more workers than cores.
PYTEST_WORKERS ?= 4

.PHONY: run test test-dates lock lint typecheck format bench sandbox migrate clean

# Exactly the lock (every version pinned, every file's hash checked), then the project itself
# without resolving anything again. `make lock` rewrites the lock after pyproject.toml changes.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

lock: $(STAMP)  ## re-resolve requirements.lock from pyproject.toml (keeps pinned versions unless they no longer fit)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra redis --universal \
		--python-version 3.11 --generate-hashes -o requirements.lock

run: $(STAMP)  ## set up, migrate and run the bot
	$(PY) -m bot migrate
	$(PY) -m bot run

migrate: $(STAMP)
	$(PY) -m bot migrate

sandbox: $(STAMP)  ## the local Bot API stand-in on 127.0.0.1:$(PORT) (default 8081)
	$(PY) -m sandbox --port $(or $(PORT),8081)

lint: $(STAMP)  ## ruff, and lint-imports: the house plan's contracts in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)  ## mypy at aiogram's strictness on bot/, handlers/, storage/, sandbox/
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
