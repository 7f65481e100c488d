# Two commands keep working on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test workers: most tests wait on I/O (the sandbox, the databases), so more workers than cores.
PYTEST_WORKERS ?= 4

.PHONY: run demo guide test test-dates lint typecheck format bench sandbox migrate clean chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## set up, migrate and run the bot
	$(PY) -m bot migrate
	$(PY) -m bot run

demo: $(STAMP)  ## try the bot in a browser: prints http://127.0.0.1:$(PORT)/demo (default 8080)
	$(PY) -m bot demo --port $(or $(PORT),8080)

guide: $(STAMP) chromium  ## the guide's pictures: screenshots of the demo page (docs/huong-dan/img)
	@fc-list 2>/dev/null | grep -qi "color emoji" || { test "$$(id -u)" != 0 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji; }
	$(PY) scripts/screenshots docs/huong-dan/img

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

test: lint typecheck chromium  ## lint and types, then the whole suite on SQLite and PostgreSQL
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

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
