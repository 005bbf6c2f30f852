# The README's commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install install-runtime run test test-pg lint fmt check-migrations clean fuzz fuzz-ci load bench bench-instructions mutation fixture-docs notify-crash flaky bench-offline bench-dashboard

help:
	@echo "make run    - install, migrate, seed sample data, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install (with the dev group) and run the whole suite (SQLite)"
	@echo "make test-pg - the suite on PostgreSQL (TMA_TEST_DATABASE_URL, default database tma_test)"
	@echo "make lint   - ruff check, ruff format --check, mypy, import contracts, alembic check"
	@echo "make fmt    - ruff format and ruff check --fix"
	@echo "make bench  - benchmark on PostgreSQL (docs/performance.md); not part of make test"
	@echo "make flaky  - the lossy-network harness, 25 seeds, on SQLite and PostgreSQL (docs/offline.md)"

# `make run` needs the runtime dependencies only; tests, linters and tools add the `dev` group.
$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(RUNTIME_STAMP)

# The dev group names the contract-coverage plugin, a distribution of this repository:
# installed (editable) from its directory first, it satisfies the group's requirement, so
# pip never looks for it on an index.
PLUGIN_DIR := plugins/pytest-contract-coverage
$(DEV_STAMP): $(RUNTIME_STAMP) $(PLUGIN_DIR)/pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e $(PLUGIN_DIR)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . --group dev
	@touch $(DEV_STAMP)

install-runtime: $(RUNTIME_STAMP)

install: $(DEV_STAMP)

run: install-runtime
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

# The suite creates the database when it does not exist (tma_test by default, its own).
test-pg: install
	TMA_TEST_DATABASE_URL=$${TMA_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/tma_test} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install check-migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src $(PLUGIN_DIR)/pytest_contract_coverage
	$(BIN)/lint-imports --no-cache  # the arrows between packages: docs/architecture.md

# Models and migrations agree: migrate a scratch SQLite database, then `alembic check`.
check-migrations: install
	@rm -f .venv/alembic-check.db
	TMA_DATABASE_URL=sqlite+aiosqlite:///.venv/alembic-check.db $(BIN)/tma db upgrade >/dev/null
	TMA_DATABASE_URL=sqlite+aiosqlite:///.venv/alembic-check.db $(BIN)/alembic check

# Schemathesis against a real server, every operation as admin, manager, user and anonymous.
FUZZ_ARGS := -q -p no:randomly -p no:pytest_contract_coverage
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

# The notification queue's crash test (docs/notifications.md): 10,000 parents due a reminder,
# one `tma worker`, then two, then two of which one is SIGKILLed mid-run and restarted;
# exactly one reminder each, reminders/s. PostgreSQL database tma_notify_crash (its own) and
# Redis (redis://127.0.0.1:6379/0): TMA_CRASH_DATABASE_URL, TMA_CRASH_REDIS_URL.
NOTIFY_CRASH_ARGS ?=
notify-crash: install
	$(BIN)/python bench/notify_crash.py $(NOTIFY_CRASH_ARGS)

# The lossy-network harness (tests/test_flaky_network.py, docs/offline.md): a scripted parent
# through a proxy losing 10 % of requests and 30 % of responses, FLAKY_ROUNDS seeds, on SQLite
# and on PostgreSQL (TMA_TEST_DATABASE_URL, default database tma_flaky, created if missing and
# emptied like the suite's). The suite itself runs 2 seeds (CI's short version).
FLAKY_ROUNDS ?= 25
FLAKY_PG_URL ?= $(or $(TMA_TEST_DATABASE_URL),postgresql+asyncpg://postgres@127.0.0.1:5432/tma_flaky)
flaky: install
	env -u TMA_TEST_DATABASE_URL FLAKY_ROUNDS=$(FLAKY_ROUNDS) $(BIN)/python -m pytest \
		tests/test_flaky_network.py -q -s -p no:randomly
	FLAKY_ROUNDS=$(FLAKY_ROUNDS) TMA_TEST_DATABASE_URL=$(FLAKY_PG_URL) $(BIN)/python -m pytest \
		tests/test_flaky_network.py -q -s -p no:randomly

# Throughput, latency, statements per request and memory at N = 10, 100, 1000 on PostgreSQL
# (TMA_BENCH_DATABASE_URL, default database tma_bench); uses wrk when installed. ~7 minutes.
# Writes bench/results/<date>.json and .png; see docs/performance.md. Not part of `make test`.
bench: install
	$(BIN)/python -m bench.run

# Only the offline lines of `make bench` (bench/offline.py, docs/offline.md): 304 revalidation,
# the bundle, sync batches, the Idempotency-Key layer's cost. Same database settings.
bench-offline: install
	$(BIN)/python -m bench.offline

# Only the provider's-view lines of `make bench` (bench/dashboard.py, docs/contracts/dashboard.md):
# the group dashboard's share of the SELECT 1 ceiling, the CSV export's server memory.
bench-dashboard: install
	$(BIN)/python -m bench.dashboard

# CPU instructions per request under valgrind's callgrind (repeatable; for before/after
# comparisons). Needs valgrind and the bench database filled by `make bench`.
bench-instructions: install
	$(BIN)/python -m bench.instructions

# Mutation testing (mutmut) of the services, dependencies and core security: prints the
# score and the surviving mutants (tests/README.md "Mutation testing"). Slow; not in CI.
mutation: install
	$(BIN)/python bench/mutation.py

# docs/fixtures.md from the fixtures' docstrings (tests/test_fixture_reference.py checks it).
fixture-docs: install
	$(BIN)/python tests/fixture_reference.py

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
