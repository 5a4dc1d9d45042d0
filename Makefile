# Glass: every target installs what it needs first (`make install`).
# Options on any make line:
#   CONFIG=path/to/config.yaml   another config file
#   MITM_ARGS="..."              extra mitmdump/mitmweb arguments (capture, capture-web)
#   CLAUDE=/path/to/claude       the Claude Code binary (run-claude)
#   DIR=~/my/project             the folder Claude Code works in (run-claude; default: here)
#   ARGS="..."                   arguments passed to claude (run-claude) or the analyzer
#   PYTEST_ARGS="..."            arguments passed to pytest (test)

CONFIG ?= config.yaml
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.glass-installed
# The Claude Code CLI the tests drive, installed into a git-ignored folder.
CLAUDE_CODE_VERSION ?= 2.1.197
TOOLS := .tools
CLAUDE_CODE := $(TOOLS)/node_modules/.bin/claude

.PHONY: install capture capture-web run-claude analyze analyze-once memories status usage \
        test bench claude-cli clean help

help:
	@echo "make capture      start the capturing proxy (foreground)"
	@echo "make run-claude   run Claude Code through it (second terminal)"
	@echo "make capture-web  the same proxy with mitmproxy's web UI"
	@echo "make analyze      turn captures into memories (watch mode); analyze-once: backlog only"
	@echo "make memories     list memories; make status: analyzer state; make usage: token report"
	@echo "make test         run the test suite; make bench: the benchmarks"

install: $(STAMP)

# (Re)create the venv when it is missing or was made by a Python older than 3.12.
$(STAMP): pyproject.toml
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  py=$$(scripts/find-python) || exit 1; \
	  echo "glass: creating $(VENV) with $$py"; \
	  rm -rf $(VENV) && "$$py" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

capture: install
	$(PY) -m capture --config "$(CONFIG)" proxy -- $(MITM_ARGS)

capture-web: install
	$(PY) -m capture --config "$(CONFIG)" web -- $(MITM_ARGS)

run-claude: install
	@$(PY) -m capture --config "$(CONFIG)" run-claude $(if $(CLAUDE),--claude "$(CLAUDE)") $(if $(DIR),--dir "$(DIR)") -- $(ARGS)

analyze: install
	$(PY) -m analyze --config "$(CONFIG)" $(ARGS)

analyze-once: install
	$(PY) -m analyze --config "$(CONFIG)" --once $(ARGS)

memories: install
	@$(PY) -m analyze --config "$(CONFIG)" list $(ARGS)

status: install
	@$(PY) -m analyze --config "$(CONFIG)" status $(ARGS)

usage: install
	@$(PY) -m analyze --config "$(CONFIG)" usage $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(ARGS)

# Installs the pinned Claude Code CLI for the end-to-end tests (.ci/run calls it).
claude-cli: $(CLAUDE_CODE)

$(CLAUDE_CODE):
	@command -v npm >/dev/null || { echo "error: npm is needed to install Claude Code for the tests; install Node.js 18+"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error --prefix $(TOOLS) @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	@$(CLAUDE_CODE) --version

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
