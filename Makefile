# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test browser cluster-tools cluster cluster-down lint typecheck check serve clean vendor-leaflet

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Set up, migrate the embedded SQLite database, load the demo city (idempotent), serve on :8000.
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m project.serve -b 127.0.0.1 -p 8000 project.asgi:application

# The whole suite. With DATABASE_URL / REDIS_URL set (as .ci/run does) it runs on PostgreSQL and Redis.
test: $(STAMP) browser cluster-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright's own download cannot work offline);
# the monthly PDF's test renders it with poppler's pdftoppm.
browser:
	@{ test -x /usr/bin/chromium && test -x /usr/bin/pdftoppm; } || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; } || \
	  echo "Chromium or poppler-utils is missing: tests/e2e and the PDF test will fail. Install them: apt-get install chromium poppler-utils"

# The map library is vendored (committed under web/static/web/vendor/leaflet, with its licence):
# nothing is fetched at run time or by the tests. This refreshes it from the npm registry,
# checking the tarball against the integrity the registry published for that version.
LEAFLET_VERSION   := 1.9.4
LEAFLET_INTEGRITY := sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==
vendor-leaflet:
	rm -rf var/leaflet && mkdir -p var/leaflet
	cd var/leaflet && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null
	test "sha512-$$(openssl dgst -sha512 -binary var/leaflet/leaflet-$(LEAFLET_VERSION).tgz | base64 -w0)" = "$(LEAFLET_INTEGRITY)"
	tar xzf var/leaflet/leaflet-$(LEAFLET_VERSION).tgz -C var/leaflet
	rm -rf web/static/web/vendor/leaflet && mkdir -p web/static/web/vendor/leaflet
	cp -r var/leaflet/package/dist/leaflet.js var/leaflet/package/dist/leaflet.js.map var/leaflet/package/dist/leaflet.css \
	  var/leaflet/package/dist/images var/leaflet/package/LICENSE web/static/web/vendor/leaflet/
	echo "Leaflet $(LEAFLET_VERSION) from the npm registry ($(LEAFLET_INTEGRITY))" > web/static/web/vendor/leaflet/VERSION

# Sandan on three "hosts" (network namespaces) behind HAProxy, PgBouncer in front of PostgreSQL,
# two Redis shards (deploy/cluster.py, docs/scaling.md). Root only; stop it with `make cluster-down`.
# Uses the PostgreSQL on 127.0.0.1:5432 (CLUSTER_PG) and starts its own Redis on 6391/6392.
cluster: $(STAMP) cluster-tools
	$(BIN)/python deploy/cluster.py up $(CLUSTER_ARGS)

cluster-down: $(STAMP)
	$(BIN)/python deploy/cluster.py down $(CLUSTER_ARGS)

# HAProxy and PgBouncer from Debian, for the cluster and its test (tests/cluster, marker `cluster`).
cluster-tools:
	@{ command -v haproxy && command -v pgbouncer && command -v redis-server; } >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy pgbouncer redis-server >/dev/null; } || \
	  echo "HAProxy, PgBouncer or redis-server is missing: tests/cluster will fail. Install them: apt-get install haproxy pgbouncer redis-server"

# ruff, and the house plan (.importlinter, docs/design.md) as a contract.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

check: lint typecheck test

clean:
	rm -rf $(VENV) db.sqlite3* var .pytest_cache .mypy_cache .ruff_cache
