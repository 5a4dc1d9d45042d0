# Glass: every target installs what it needs first (`make install`).
# Options on any make line:
#   CONFIG=path/to/config.yaml   another config file
#   MITM_ARGS="..."              extra mitmdump/mitmweb arguments (capture, capture-web; and a
#                                proxy run-claude or up starts)
#   CLAUDE=/path/to/claude       the Claude Code binary (run-claude)
#   PROVIDER=bedrock|vertex      Claude Code on Amazon Bedrock or Google Vertex AI (run-claude)
#   DIR=~/my/project             the folder Claude Code works in (run-claude; default: here)
#   ARGS="..."                   arguments passed to claude (run-claude) or the analyzer
#   PYTEST_ARGS="..."            arguments passed to pytest (test)

CONFIG ?= config.yaml
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.glass-installed
TOOLS := .tools
# uv installs the locked dependencies (uv.lock); it lives in its own venv under .tools/.
UV := $(TOOLS)/uv/bin/uv
# UV_COMPILE_BYTECODE: .pyc files written at install, so that start-up does not compile the SDK
# again in every process where PYTHONDONTWRITEBYTECODE is set (import anthropic: ~7 s -> ~2 s here).
UV_ENV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1 UV_COMPILE_BYTECODE=1
# The Claude Code CLI the tests drive, installed into a git-ignored folder.
CLAUDE_CODE_VERSION ?= 2.1.197
CLAUDE_CODE := $(TOOLS)/node_modules/.bin/claude
HAVE_NPM := $(shell command -v npm 2>/dev/null)

.PHONY: install lock check capture capture-web run-claude analyze analyze-once memories status usage \
        compact du \
        search hooks view up down logs test no-npm-note browser bench claude-cli clean help

help:
	@echo "make run-claude   run Claude Code through the proxy (starts it in the background if needed)"
	@echo "make up           proxy and analyzer in the background; make down stops them, make logs follows them"
	@echo "make capture      the capturing proxy in the foreground instead"
	@echo "make capture-web  the same proxy with mitmproxy's web UI"
	@echo "make analyze      turn captures into memories (watch mode); analyze-once: backlog only"
	@echo "make memories     list memories; make search Q=...: ranked search; make status; make usage"
	@echo "make compact      gzip old capture days, apply retention (--dry-run: say what); make du: disk use"
	@echo "make view         the web viewer: sessions, conversations, diffs, memories, usage (127.0.0.1:8082)"
	@echo "make hooks        recall memories into Claude Code sessions in DIR (default: here)"
	@echo "make test         static checks and the test suite; make bench: the benchmarks"
	@echo "make browser      Debian's Chromium for the browser tests (make test runs it; apt-get as root)"
	@echo "make lock         re-resolve uv.lock after editing pyproject.toml (ARGS=--upgrade: newest versions)"

# Glass's own packages are compiled too (only files changed since; ~0.1 s): where
# PYTHONDONTWRITEBYTECODE is set, a hook would otherwise compile them at every prompt.
install: $(STAMP)
	@$(PY) -m compileall -q -j 0 analyze capture glass services view >/dev/null

$(UV): scripts/uv-requirements.txt
	@py=$$(scripts/find-python) || exit 1; \
	  rm -rf $(TOOLS)/uv && "$$py" -m venv $(TOOLS)/uv && \
	  $(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r scripts/uv-requirements.txt

# Installs exactly what uv.lock says (never changes it); recreates the venv when its
# Python is not the one scripts/find-python picks.
$(STAMP): pyproject.toml uv.lock $(UV)
	@py=$$(scripts/find-python) || exit 1; \
	  $(UV_ENV) $(UV) sync --quiet --locked --all-extras --python "$$py"
	@touch $@

lock: $(UV)
	@py=$$(scripts/find-python) || exit 1; $(UV_ENV) $(UV) lock --python "$$py" $(ARGS)

capture: install
	$(PY) -m capture --config "$(CONFIG)" proxy -- $(MITM_ARGS)

capture-web: install
	$(PY) -m capture --config "$(CONFIG)" web -- $(MITM_ARGS)

# MITM_ARGS reaches a proxy that run-claude or up starts as the environment variable
# GLASS_MITM_ARGS: make exports the text as written, Python splits it as a shell would.
run-claude up: export GLASS_MITM_ARGS = $(MITM_ARGS)

run-claude: install
	@$(PY) -m capture --config "$(CONFIG)" run-claude --mitm-args "$$GLASS_MITM_ARGS" $(if $(PROVIDER),--provider "$(PROVIDER)") $(if $(CLAUDE),--claude "$(CLAUDE)") $(if $(DIR),--dir "$(DIR)") -- $(ARGS)

analyze: install
	$(PY) -m analyze --config "$(CONFIG)" $(ARGS)

analyze-once: install
	$(PY) -m analyze --config "$(CONFIG)" --once $(ARGS)

memories: install
	@$(PY) -m analyze --config "$(CONFIG)" list $(ARGS)

search: install
	@$(if $(Q),,echo 'usage: make search Q="words" [ARGS="--kind decision --project DIR --json"]'; exit 2;) \
	$(PY) -m analyze --config "$(CONFIG)" search $(ARGS) -- "$(Q)"

# Recall: Claude Code's SessionStart/UserPromptSubmit hooks (and the MCP server) for DIR.
# DIR defaults to the folder make was started from; ARGS="remove" or "status" instead of
# installing, ARGS="install --user" for every project, ARGS="install --no-mcp" without .mcp.json.
hooks: install
	@$(PY) -m analyze --config "$(abspath $(CONFIG))" hooks $(or $(ARGS),install) $(if $(findstring --user,$(ARGS)),,--project "$(or $(DIR),$(PWD),$(CURDIR))")

# `make compact --dry-run` (make's own -n) runs the command with --dry-run: `+` runs it under -n.
compact: install
	+@$(PY) -m capture --config "$(CONFIG)" compact $(if $(findstring n,$(firstword -$(MAKEFLAGS))),--dry-run) $(ARGS)

du: install
	@$(PY) -m capture --config "$(CONFIG)" du $(ARGS)

# The background processes (make up / make down / make logs; python -m services), then the
# analyzer's figures; with ARGS=--json only the analyzer's JSON.
status: install
	@$(if $(findstring --json,$(ARGS)),,$(PY) -m services --config "$(CONFIG)" status && \
	  $(PY) -m capture --config "$(CONFIG)" du --summary &&) \
	$(PY) -m analyze --config "$(CONFIG)" status $(ARGS)

up: install
	@$(PY) -m services --config "$(CONFIG)" up --mitm-args "$$GLASS_MITM_ARGS"

down: install
	@$(PY) -m services --config "$(CONFIG)" down

logs: install
	@$(PY) -m services --config "$(CONFIG)" logs

usage: install
	@$(PY) -m analyze --config "$(CONFIG)" usage $(ARGS)

# The local web viewer on view.listen_host:view.port (ARGS="--port 0": any free port).
view: install
	@$(PY) -m view --config "$(CONFIG)" serve $(ARGS)

# Static checks first (ruff, mypy, deptry: every import a declared dependency), then pytest.
check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/deptry .

test: install check browser $(if $(HAVE_NPM),claude-cli,no-npm-note)
	$(PY) -m pytest $(PYTEST_ARGS)

no-npm-note:
	@echo "glass: npm not found: the tests that drive the real Claude Code CLI need Node.js 18+ and npm (they fail with CI=true)"

# Debian's Chromium (and its driver) for the browser tests (tests/browser.py), when missing:
# apt-get as root, else one line saying how (the browser tests then fail with CI=true).
CHROMIUM_BIN := /usr/bin/chromium
CHROMIUM_PACKAGES := chromium chromium-driver
browser:
	@test -x $(CHROMIUM_BIN) || \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES); \
	  else \
	    echo "glass: $(CHROMIUM_BIN) missing: the browser tests need it; as root: apt-get update && apt-get install -y --no-install-recommends $(CHROMIUM_PACKAGES) (they fail with CI=true)"; \
	  fi

bench: install
	$(PY) -m bench $(ARGS)

# Installs the pinned Claude Code CLI for the end-to-end tests (make test calls it).
claude-cli: $(CLAUDE_CODE)

$(CLAUDE_CODE):
	@command -v npm >/dev/null || { echo "error: npm is needed to install Claude Code for the tests; install Node.js 18+"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error --prefix $(TOOLS) @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	@$(CLAUDE_CODE) --version

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
