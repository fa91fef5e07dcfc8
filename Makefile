# The two commands: `make demo` (the whole pipeline on the sample reports) and
# `make test`. Everything else is for operators. All targets install what they need.

PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.installed
BENCHLIBS := .venv/bench-libs
export PYTHONPATH := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: backup restore install system-packages system-check demo test test-distributed test-fast lint bench mutate bench-gx bench-dbt-airflow warehouse-up warehouse-down warehouse-url airflow-standalone \
        samples dbt-docs clean clean-all backfill reprocess rebuild republish remind portal

install: system-packages $(STAMP) $(BENCHLIBS)/.installed

# The Debian packages the tests need (one list: packages.apt): installed with apt-get as root, else
# printed; `make test` checks them first and stops at once while one is missing.
system-packages:
	python3 scripts/system_packages.py install

system-check:
	python3 scripts/system_packages.py install --strict

$(STAMP): requirements.txt requirements-prod.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv
	$(PIP) install --quiet --upgrade pip==26.3
	$(PIP) install --quiet -r requirements.txt
	# the project's packages importable from anywhere (Airflow tasks, dbt, tests): a .pth, as an editable install would
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'twotowns.pth').write_text('$(CURDIR)\n')"
	touch $(STAMP)

# Cosmos, for the dbt-in-Airflow comparison only: beside the venv, on the path of that comparison alone
$(BENCHLIBS)/.installed: requirements-bench.txt $(STAMP)
	rm -rf $(BENCHLIBS)
	$(PIP) install --quiet --no-deps --target $(BENCHLIBS) -r requirements-bench.txt
	touch $@

demo: install
	$(PY) -m scripts.demo

test: system-check install
	$(PY) -m pytest -q

test-distributed: install  # only the Celery run on two workers against a local Redis (needs redis-server)
	$(PY) -m pytest -q -m distributed tests/test_celery.py

test-fast: install
	$(PY) -m pytest -q -m "not slow and not distributed"

# ruff; duplicated blocks (pylint duplicate-code, [tool.pylint] in pyproject.toml); the packages' import
# direction ([tool.importlinter]); function length, private names across packages, policy copies
# (scripts/lint_structure.py). tests/test_lint.py runs all of them but ruff as part of `make test`.
LINT_PACKAGES := $(wildcard core ingest expectations publish ops portal samplegen scripts dags)
lint: install  # every check runs; the target fails if any failed
	@rc=0; \
	.venv/bin/ruff check . || rc=1; \
	.venv/bin/pylint $(LINT_PACKAGES) || rc=1; \
	.venv/bin/lint-imports --no-cache || rc=1; \
	$(PY) -m scripts.lint_structure || rc=1; \
	exit $$rc

# every stage of a new quarter beside its peer or floor: make bench [SCALE=city|province|nation]
# (city ~5 min, province ~10 min, nation ~40 min on 2 cores; BENCH <name> <value> <unit> lines)
bench: install
	$(PY) -m scripts.bench --scale $(or $(SCALE),city)
	$(PY) -m portal.bench

mutate: install  # bad input at volume: 10,000 mutated files through the reader and parser (~20 s)
	$(PY) -m scripts.mutate --files $(or $(FILES),10000) --seed $(or $(SEED),1)

bench-gx: install  # the GX audits on the sample and on 100 copies of it
	$(PY) -m scripts.bench_gx --factor 100

bench-dbt-airflow: install  # one dbt build task against Cosmos, both through Airflow (~7 min)
	$(PY) -m scripts.bench_dbt_airflow

samples: install
	$(PY) -m samplegen --out data/sample

warehouse-up: install
	$(PY) -m core.warehouse up

warehouse-down: install
	$(PY) -m core.warehouse down

warehouse-url: install
	@$(PY) -m core.warehouse url

dbt-docs: install
	$(PY) -m core.dbt docs generate

# The Airflow UI on http://localhost:8080 (SQLite metadata under .airflow/; the
# admin password is printed and saved in .airflow/simple_auth_manager_passwords.json.generated)
airflow-standalone: install
	$(PY) -m ops ui --port $(or $(PORT),8080)

# Operations (README, "Operations"): each runs the DAGs through Airflow (dag.test here;
# add ARGS=--trigger to hand the runs to a running scheduler instead).
backfill: install   # make backfill FROM=2015Q1 TO=2016Q4
	$(PY) -m ops backfill --from $(FROM) --to $(TO) $(ARGS)

reprocess: install  # make reprocess COUNTY=330421 PERIOD=2016Q3
	$(PY) -m ops reprocess --county $(COUNTY) --period $(PERIOD) $(ARGS)

rebuild: install
	$(PY) -m ops rebuild $(ARGS)

republish: install
	$(PY) -m ops publish $(ARGS)

backup: install  # the warehouse (pg_dump, custom format) and the archive: <var>/backups/<UTC time>/
	$(PY) -m ops backup $(if $(TO),--to $(TO)) $(ARGS)

restore: install  # make restore BACKUP=var/backups/<time>: the warehouse and the archive as backed up
	$(PY) -m ops restore --from-backup $(BACKUP) $(ARGS)

remind: install     # make remind [PERIOD=2016Q3]
	$(PY) -m ops remind $(if $(PERIOD),--period $(PERIOD)) $(ARGS)

# Local runtime state, all of it together so that it stays consistent: the embedded
# warehouse, inbox/outbox/archive, Airflow metadata, publications, dbt artefacts.
# (Production keeps these elsewhere: see README, Configuration.)
clean:
	-test -x $(PY) && $(PY) -m core.warehouse down
	rm -rf .warehouse var .airflow published data/sample dbt_project/target dbt_project/logs .pytest_cache

clean-all: clean
	rm -rf .venv

# The county portal on http://localhost:8000 (PORT=...), on the embedded warehouse, with the sample accounts
# haiyan, jiashan (counties) and office; new passwords are printed once and kept in var/portal/sample-logins.txt
portal: install
	$(PY) -m portal.devserver
