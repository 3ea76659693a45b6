# APayGate: two commands on a fresh machine.
#   make run    start the whole gateway (web, worker, beat) with a demo merchant and token
#   make test   run the whole test suite against PostgreSQL and Redis
# Both create .venv and install the pinned dependencies (requirements.lock) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install run test test-fast lint format bench clean

$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

install: $(BIN)/.installed

run: install
	PORT=$(PORT) bash scripts/run.sh

test: install
	bash scripts/test.sh

test-fast: install
	$(BIN)/pytest -m "not fault and not e2e" -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	bash bench/run.sh

clean:
	rm -rf $(VENV) .run staticfiles .pytest_cache
