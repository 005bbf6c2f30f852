# The README's commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install run test test-pg lint fmt check-migrations clean fuzz fuzz-ci load bench bench-instructions

help:
	@echo "make run    - install, migrate, seed sample data, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install and run the whole suite (SQLite; TMA_TEST_DATABASE_URL for PostgreSQL)"
	@echo "make lint   - ruff check, ruff format --check, mypy, alembic check"
	@echo "make fmt    - ruff format and ruff check --fix"
	@echo "make bench  - benchmark on PostgreSQL (docs/performance.md); not part of make test"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . --group dev
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tma db upgrade
	$(BIN)/tma seed --if-empty
	@echo ""
	@echo "  TMA backend on http://$(HOST):$(PORT)"
	@echo "  API docs:     http://$(HOST):$(PORT)/docs"
	@echo "  Sample logins (POST /api/auth/login): admin / password, manager / password, user / password"
	@echo ""
	$(BIN)/tma serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-pg: install
	TMA_TEST_DATABASE_URL=$${TMA_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install check-migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src

# Models and migrations agree: migrate a scratch SQLite database, then `alembic check`.
check-migrations: install
	@rm -f .venv/alembic-check.db
	TMA_DATABASE_URL=sqlite+aiosqlite:///.venv/alembic-check.db $(BIN)/tma db upgrade >/dev/null
	TMA_DATABASE_URL=sqlite+aiosqlite:///.venv/alembic-check.db $(BIN)/alembic check

# Schemathesis against a real server, every operation as admin, manager, user and anonymous.
FUZZ_ARGS := -q -p no:randomly -p no:tma.testing.contract_coverage
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-150} $(BIN)/python -m pytest bench/fuzz.py $(FUZZ_ARGS)

# The short deterministic slice CI runs.
fuzz-ci: install
	FUZZ_EXAMPLES=10 $(BIN)/python -m pytest bench/fuzz.py $(FUZZ_ARGS)

# 50 clients for 60 s against several uvicorn workers on PostgreSQL (database tma_load), the
# workers sharing the Redis rate limiter (redis://127.0.0.1:6379/0; --rate-limit-storage).
LOAD_ARGS ?=
load: install
	$(BIN)/python bench/load.py $(LOAD_ARGS)

# Throughput, latency, statements per request and memory at N = 10, 100, 1000 on PostgreSQL
# (TMA_BENCH_DATABASE_URL, default database tma_bench); uses wrk when installed. ~7 minutes.
# Writes bench/results/<date>.json and .png; see docs/performance.md. Not part of `make test`.
bench: install
	$(BIN)/python -m bench.run

# CPU instructions per request under valgrind's callgrind (repeatable; for before/after
# comparisons). Needs valgrind and the bench database filled by `make bench`.
bench-instructions: install
	$(BIN)/python -m bench.instructions

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
