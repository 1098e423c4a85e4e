# Two commands for a fresh machine: `make run` serves the demo event, `make test` passes the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
ADMIN_KEY_FILE := var/admin-key.txt

.PHONY: install run test lint format openapi bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

run: install
	$(BIN)/python -m service migrate
	$(BIN)/python -m service load-demo --if-empty
	@test -s $(ADMIN_KEY_FILE) || (umask 077 && $(BIN)/python -m service create-api-key \
		--role admin --name "make run" | tail -n 1 > $(ADMIN_KEY_FILE))
	@echo "Admin API key (kept in $(ADMIN_KEY_FILE)): $$(cat $(ADMIN_KEY_FILE))"
	@echo "Serving on http://$(HOST):$(PORT) - interactive docs at http://$(HOST):$(PORT)/docs"
	@echo "Kiosk: http://$(HOST):$(PORT)/kiosk - console: http://$(HOST):$(PORT)/console (sign in with the key above)"
	@# The demo event is a day of 2025: rehearsing its door today needs scan times outside that
	@# day accepted (CHECKIN_GRACE_HOURS, 2 h by default; set it to keep the default).
	CHECKIN_GRACE_HOURS=$${CHECKIN_GRACE_HOURS:-1000000} \
		$(BIN)/python -m service serve --host $(HOST) --port $(PORT)

# Two worker processes (xdist), one per core of the machines this runs on; each has its own database.
# Tests that share a server or a cluster run on one of them (tests/conftest.py, ONE_WORKER).
# The suite starts dozens of Python processes (servers, workers, the command line): with
# bytecode cached (Python's default, git-ignored) each imports the service without compiling it
# again, where an environment setting PYTHONDONTWRITEBYTECODE would have every one recompile.
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check service migrations tests bench
	$(BIN)/ruff format --check service migrations tests bench
	$(BIN)/mypy service

format: install
	$(BIN)/ruff format service migrations tests bench
	$(BIN)/ruff check --fix service migrations tests bench

openapi: install
	$(BIN)/python -m service openapi --output openapi.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
