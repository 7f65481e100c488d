# Two commands keep working on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# Test workers: most tests wait on I/O (the sandbox, the databases), so more workers than cores
# (on 2 cores: 4 workers 8 min 27 s of pytest, 6 workers 7 min 51 s).
PYTEST_WORKERS ?= 6

.PHONY: run demo guide test durations test-dates lock lint typecheck format bench sandbox migrate clean chromium

# Exactly the lock (every version pinned, every file's hash checked), then the project itself
# without resolving anything again. `make lock` rewrites the lock after pyproject.toml changes.
# --no-compile: pip byte-compiles one file after another (half of a fresh install's time);
# `compileall -j0` does the same on every core afterwards. Compiled it must be: where
# PYTHONDONTWRITEBYTECODE is set (as on CI's machines) Python never writes what it compiles, and
# every process (each test worker, each bot a test starts) compiled aiogram, SQLAlchemy and the
# rest anew: 3 s of CPU per process.
COMPILE = $(PY) -m compileall -q -j0 -x '/(tests?|testing)/' $(VENV)/lib >/dev/null || true
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-compile --no-deps -e .
	$(COMPILE)
	touch $(STAMP) $(RUN_STAMP)

# What running needs (`make run`, `make demo`): the lock without the test extra's tools
# (scripts/lock-subset), a third of a fresh install's time less. Nothing to do after $(STAMP).
$(RUN_STAMP): pyproject.toml requirements.lock scripts/lock-subset
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) scripts/lock-subset > $(VENV)/run.lock
	$(PY) -m pip install -q --no-compile --require-hashes -r $(VENV)/run.lock
	$(PY) -m pip install -q --no-compile --no-deps -e .
	$(COMPILE)
	touch $(RUN_STAMP)

lock: $(STAMP)  ## re-resolve requirements.lock from pyproject.toml (keeps pinned versions unless they no longer fit)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra redis --universal \
		--python-version 3.11 --generate-hashes -o requirements.lock

run: $(RUN_STAMP)  ## set up, migrate and run the bot
	$(PY) -m bot migrate
	$(PY) -m bot run

demo: $(RUN_STAMP)  ## try the bot in a browser: prints http://127.0.0.1:$(PORT)/demo (default 8080)
	$(PY) -m bot demo --port $(or $(PORT),8080)

guide: $(STAMP) chromium  ## the guide's pictures: screenshots of the demo page (docs/huong-dan/img)
	@fc-list 2>/dev/null | grep -qi "color emoji" || { test "$$(id -u)" != 0 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji; }
	$(PY) scripts/screenshots docs/huong-dan/img

migrate: $(RUN_STAMP)
	$(PY) -m bot migrate

sandbox: $(RUN_STAMP)  ## the local Bot API stand-in on 127.0.0.1:$(PORT) (default 8081)
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

# Workers are fed one test at a time, the longest first (tests/durations.json): see
# `pytest_collection_modifyitems` in tests/conftest.py.
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --maxschedchunk=1

# The project's own modules compiled too (a second, nothing to do); pytest's rewritten test
# modules are cached only where Python may write bytecode, so the suite runs with it allowed.
test: lint typecheck chromium  ## lint and types, then the whole suite on SQLite and PostgreSQL
	$(PY) -m compileall -q -j0 bot handlers storage sandbox bench tests >/dev/null
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest $(PYTEST_PARALLEL)

durations: $(STAMP) chromium  ## run the suite and record its slow tests' seconds (the order `make test` runs them in)
	$(VENV)/bin/pytest $(PYTEST_PARALLEL) --record-durations tests/durations.json

chromium:  ## Debian's chromium for the browser test (Playwright drives it; nothing downloaded)
	@test -x /usr/bin/chromium || { \
		test "$$(id -u)" = 0 || { echo "the browser test needs chromium: sudo apt-get install chromium" >&2; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test-dates: $(STAMP)  ## the end-to-end suite at hard instants (Tết, quarter end, New Year's Eve, 00:05 on the 1st)
	scripts/test-dates

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
