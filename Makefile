# APayGate: two commands on a fresh machine.
#   make run    start the whole gateway (web, worker, beat) with a demo merchant and token
#   make test   run the whole test suite against PostgreSQL and Redis
# Both create .venv and install the locked dependencies (uv.lock) first: `make run` the
# runtime set (what the image ships), `make test` the runtime set plus the dev group.
#
# uv is bootstrapped into .uv/ with pip, so a fresh machine needs nothing but python3.
# uv reads no pip.conf: it uses PyPI unless UV_DEFAULT_INDEX points it at a mirror.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Empty: the port in .env (8000 on first start). `make run PORT=9000` changes it there.
PORT ?=
UV_VERSION := 0.13.9
UV := .uv/bin/uv
# Never fetch a Python build: use $(PYTHON). --locked: install exactly uv.lock, fail if it
# no longer matches pyproject.toml (run `make lock`).
UV_SYNC := $(UV) sync --locked --python $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install install-runtime lock run sdk-dist test test-fast lint format bench image-test clean

$(UV):
	@echo "Bootstrapping uv $(UV_VERSION) into .uv/"
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Runtime set only. --inexact keeps dev packages a previous `make install` put there.
$(BIN)/.installed-runtime: uv.lock pyproject.toml | $(UV)
	$(UV_SYNC) --no-dev --inexact
	touch $@

# Runtime set and the dev group, exactly (anything not in uv.lock is removed).
$(BIN)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV_SYNC) --group dev
	touch $@ $(BIN)/.installed-runtime

install: $(BIN)/.installed

install-runtime: $(BIN)/.installed-runtime

# After changing dependencies in pyproject.toml: re-resolve, keeping every other pin.
lock: | $(UV)
	$(UV) lock

run: install-runtime
	PORT=$(PORT) bash scripts/run.sh

# The SDK builds served at /docs/sdk/ (`make run` makes them too).
sdk-dist: install-runtime
	bash scripts/build-sdk-dist.sh

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

# Not part of `make test`: needs root and a Docker daemon it may start (deploy/README.md).
image-test:
	bash scripts/image-test.sh

clean:
	rm -rf $(VENV) .uv .run staticfiles .pytest_cache
