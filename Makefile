# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv and install
# srpo (CPU torch pinned by constraints-cpu.txt) on first use.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.srpo-installed
PIP_QUIET := 2>&1 | { grep -v -e 'is ignored: it is neither' || true; }

.PHONY: demo test bench clean

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints-cpu.txt -e '.[test]' $(PIP_QUIET)
	touch $(STAMP)

# The TRL engine's extra, for the tests only: the native path and `make demo` need none of it.
TRL_STAMP := $(VENV)/.srpo-trl-installed
$(TRL_STAMP): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints-cpu.txt -e '.[test,trl]' $(PIP_QUIET)
	touch $(TRL_STAMP)

demo: $(STAMP)
	$(VENV)/bin/srpo demo

test: $(STAMP) $(TRL_STAMP)
	bash scripts/ensure-chromium.sh || test -z "$$CI"  # CI must have it; elsewhere the browser test skips
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
