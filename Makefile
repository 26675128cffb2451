# Agent memory: PostgreSQL-native long-term memory for AI agents.
# `make up` sets up and starts everything; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help up down status psql dsn test test-sql test-upgrade test-py test-soak test-soak-ha test-image lint bench bench-scale soak eval eval-consolidation seed clean-data \
	legacy-fixture import-legacy export import backup restore agent-indexes

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

up: ## install what is missing, start Postgres, Redis, the embed daemon and the database gauges exporter (idempotent)
	@bash scripts/install-system.sh
	@bash scripts/install-python.sh
	@bash scripts/secrets.sh
	@bash scripts/cluster.sh start
	@bash scripts/db.sh
	@bash scripts/redis.sh start
	@bash scripts/daemon.sh start
	@bash scripts/exporter.sh start
	@bash scripts/connect-info.sh

down: ## stop the exporter, the daemon, Redis and Postgres (data is kept in var/)
	@bash scripts/exporter.sh stop
	@bash scripts/daemon.sh stop
	@bash scripts/redis.sh stop
	@bash scripts/cluster.sh stop

status: ## show what runs
	@bash scripts/cluster.sh status
	@bash scripts/redis.sh status
	@bash scripts/daemon.sh status
	@bash scripts/exporter.sh status

psql: ## open psql as the operator
	@bash scripts/psql.sh

dsn: ## print the operator's libpq connection URI
	@bash scripts/dsn.sh

test: test-sql test-upgrade test-py test-soak test-soak-ha lint ## run every test: pgTAP, the upgrade test, pytest, the short soak, the HA soak's ci profile, lint

test-sql: ## pgTAP suites under sql/tests through pg_prove
	@bash scripts/test-sql.sh

test-upgrade: ## the previous release (sql/PREVIOUS_RELEASE) upgraded with this tree's migrations has the catalog of a fresh install
	@bash scripts/test-upgrade.sh

test-py: ## pytest suites under python/tests
	@bash scripts/test-py.sh

test-soak: ## the short soak (70 s of load and six faults on a stack of its own in var/soak)
	@bash scripts/soak.sh --profile short

test-soak-ha: ## on an HA stack of its own (var/soak-ha): the test-ha suite, then the failover soak's ci profile (kill -9 of the leader, a planned switchover, 16 writers)
	@bash scripts/test-soak-ha.sh

test-image: ## build the Postgres, Redis and daemon images with podman (Debian packages only) and smoke-test docker-compose.yml with podman-compose
	@bash scripts/test-image.sh

lint: ## sqlfluff on sql/, ruff on python/
	@bash scripts/lint.sh

bench: ## every benchmark (embedding pipeline, search at 100k, pgbench load), ratios against baselines of the same run (reports/bench.md)
	@bash scripts/bench.sh

bench-scale: ## scale benchmark, not in make test: 100k and 1M episodes, 200 agents, synthetic vectors; HNSW build, recall, halfvec, ingest (reports/bench-scale.md; ~30 min)
	@bash scripts/bench-scale.sh

soak: ## the long soak: 10 min of load, two rounds of faults, invariants (reports/soak.md)
	@bash scripts/soak.sh --profile long --report reports/soak.md

eval: ## retrieval evaluation on LoCoMo (recall@5/10/20 per category; hybrid, vector, text, BM25, exact cosine)
	@bash scripts/eval.sh

eval-consolidation: ## thresholds of the memory-consolidation job, measured on LoCoMo and the seeds (reports/eval-consolidation.md)
	@bash scripts/eval-consolidation.sh

seed: ## optional: create agents NEXUS and ARIA and NEXUS's five identity blocks
	@bash scripts/seed.sh

clean-data: down ## stop everything and delete var/ (all stored memory!) and .secrets/
	rm -rf var .secrets

# == legacy import, export and import, backups (issue 7; docs/portability.md) ==
.PHONY: legacy-fixture import-legacy export import backup restore agent-indexes

legacy-fixture: ## create the test "old brain" database legacy_brain (4,704 episodes; LEGACY_DB=..., ARGS=--replace)
	@bash -c '. scripts/lib.sh && pg_env_super && exec $(PY) scripts/legacy-fixture.py --dbname "$(or $(LEGACY_DB),legacy_brain)" $(ARGS)'

import-legacy: ## import an old brain into an agent: AGENT=NEXUS [ROLE=agent_nexus] [SERVER=..] [LEGACY_DB=..] [ARGS=..]
	@bash scripts/import-legacy.sh --agent "$(AGENT)" $(if $(ROLE),--role "$(ROLE)") \
		--server "$(or $(SERVER),legacy_brain)" --dbname "$(or $(LEGACY_DB),legacy_brain)" $(ARGS)

export: ## export an agent to newline-delimited JSON: AGENT=NEXUS [OUT=file]
	@bash scripts/export-agent.sh --agent "$(AGENT)" $(if $(OUT),--out "$(OUT)")

import: ## import an export file: FILE=... [AS=new_name ROLE=login_role] [ARGS=--remap|--keep-ids]
	@bash scripts/import-agent.sh "$(FILE)" $(if $(AS),--as "$(AS)") $(if $(ROLE),--role "$(ROLE)") $(ARGS)

agent-indexes: ## give each agent too large to be ranked exactly its own HNSW index (CONCURRENTLY): [MIN_CHUNKS=n] [ARGS=--dry-run]
	@bash scripts/agent-indexes.sh $(if $(MIN_CHUNKS),--min-chunks "$(MIN_CHUNKS)") $(ARGS)

backup: ## pg_dump the memory database with roles, jobs and a manifest: [OUT=dir]
	@bash scripts/backup.sh $(if $(OUT),--out "$(OUT)")

restore: ## restore a backup into a fresh database and check it: BACKUP=dir DB=name [ARGS=--globals]
	@bash scripts/restore.sh "$(BACKUP)" --dbname "$(DB)" $(ARGS)

# == high availability (issue 18; opt-in, `make up` stays the single-node stack) ==
.PHONY: up-ha down-ha status-ha dsn-ha switchover-ha test-ha bench-ha soak-ha soak-ha-long

up-ha: ## opt-in HA stack in var/ha: etcd, Patroni with three PostgreSQL nodes (synchronous), Redis, the daemon on the leader
	@bash scripts/ha.sh up

down-ha: ## stop the HA stack (replicas first, then the leader, then etcd; data kept in var/ha)
	@bash scripts/ha.sh down

status-ha: ## show the HA stack: etcd, the Patroni members and their roles, Redis, the daemon
	@bash scripts/ha.sh status

dsn-ha: ## print the HA libpq URIs: read-write (writers) and prefer-standby (searches)
	@bash scripts/ha.sh dsn

switchover-ha: ## planned switchover of the HA stack to the sync standby (or TO=pgN): a CHECKPOINT on the leader, then patronictl switchover
	@bash scripts/ha.sh switchover $(TO)

test-ha: ## against the HA stack (make up-ha): every read function of the API as an agent on each standby
	@bash scripts/test-ha.sh

bench-ha: ## read scaling on the HA stack (needs make up-ha): hybrid search tps with 1, 2 and 3 nodes serving reads (reports/bench-ha.md, in reports/bench.md)
	@BENCH_PARTS=ha bash scripts/bench.sh

soak-ha: ## failover soak, short profile (~5 min, not in make test): 16 writers with idempotency keys, readers on standbys, kill -9, switchover, etcd pause, reinit
	@bash scripts/soak-ha.sh --profile short --report reports/soak-ha-short.tmp

soak-ha-long: ## failover soak, long profile (by hand, ~12 min): four leader kills, three switchovers, etcd pause, reinit (reports/soak-ha.md)
	@bash scripts/soak-ha.sh --profile long --report reports/soak-ha.md
