# tenantctl developer commands. `make install && make demo` on a fresh machine, `make test` for tests.
# DATABASE_URL is used when set; otherwise scripts/devdb.py finds or starts the embedded default.

VENV      := .venv
PY        := $(VENV)/bin/python
ALEMBIC   := $(VENV)/bin/alembic
TENANTCTL := $(VENV)/bin/tenantctl
# Evaluated by the shell in each recipe line that uses it: prints a reachable URL.
DB_URL     = $$($(PY) scripts/devdb.py)
BENCH_TENANTS ?= 1000
BENCH_CREATES ?= 200
BENCH_ARGS ?=
BENCH_FLOOR_ARGS ?=
BENCH_MESSAGE_ARGS ?=

export SUB MSG

.PHONY: install db migrate new-tenant seed revision-core revision-tenant demo bench bench-floor bench-message bench-provision test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

db: install
	@$(PY) scripts/devdb.py

migrate: install
	url="$(DB_URL)" && DATABASE_URL="$$url" $(ALEMBIC) upgrade heads

new-tenant: install
	@test -n "$$SUB" || { echo "usage: make new-tenant SUB=acme" >&2; exit 2; }
	url="$(DB_URL)" && DATABASE_URL="$$url" $(TENANTCTL) tenant create "$$SUB"

# Three sample tenants (acme, globex, initech) with data in every table; existing ones are skipped.
seed: install
	url="$(DB_URL)" && DATABASE_URL="$$url" $(TENANTCTL) migrate up && \
	DATABASE_URL="$$url" $(TENANTCTL) seed

revision-core: install
	@test -n "$$MSG" || { echo "usage: make revision-core MSG='add column x'" >&2; exit 2; }
	url="$(DB_URL)" && DATABASE_URL="$$url" $(ALEMBIC) revision --autogenerate --head core@head -m "$$MSG"

revision-tenant: install
	@test -n "$$MSG" || { echo "usage: make revision-tenant MSG='add column x'" >&2; exit 2; }
	url="$(DB_URL)" && DATABASE_URL="$$url" $(ALEMBIC) revision --autogenerate --head tenant@head -m "$$MSG"

demo: install
	@url="$(DB_URL)" && export DATABASE_URL="$$url" && \
	echo "demo database: $$($(PY) -c 'import sys, toolkit; print(toolkit.mask_url(sys.argv[1]))' "$$url")" && \
	$(TENANTCTL) migrate up && \
	$(TENANTCTL) seed && \
	$(TENANTCTL) tenant list && $(TENANTCTL) migrate status

# Rollout benchmark (bench/rollout.py): make bench BENCH_TENANTS="1000 10000" [BENCH_ARGS=--reuse]
bench: install
	url="$(DB_URL)" && $(PY) bench/rollout.py --database-url "$$url" --tenants $(BENCH_TENANTS) $(BENCH_ARGS)

# How much a second process gains the floor, per kind of DDL (bench/floor_parallelism.py);
# it uses the tenants `make bench` left: make bench-floor BENCH_TENANTS=1000 [BENCH_FLOOR_ARGS="--repeat 5"]
bench-floor: install
	url="$(DB_URL)" && $(PY) bench/floor_parallelism.py --database-url "$$url" --tenants $(BENCH_TENANTS) $(BENCH_FLOOR_ARGS)

# What each part of a rollout's per-tenant message costs against the floor
# (bench/message_cost.py), on the tenants `make bench` left: make bench-message BENCH_TENANTS=1000
bench-message: install
	url="$(DB_URL)" && $(PY) bench/message_cost.py --database-url "$$url" --tenants $(BENCH_TENANTS) $(BENCH_MESSAGE_ARGS)

# Provisioning benchmark (bench/provision.py): make bench-provision BENCH_CREATES=200
bench-provision: install
	url="$(DB_URL)" && $(PY) bench/provision.py --database-url "$$url" --tenants $(BENCH_CREATES)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(VENV)/bin/pytest

clean:
	@if [ -f .pgdata/PG_VERSION ]; then \
	  runuser -u postgres -- true 2>/dev/null && as="runuser -u postgres --" || as=""; \
	  $$as $$(ls -d /usr/lib/postgresql/*/bin | tail -1)/pg_ctl -D .pgdata stop -m fast || true; \
	fi
	rm -rf .pgdata $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache
