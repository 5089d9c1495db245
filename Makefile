# Two commands do all set-up on a fresh machine (see README):
#   make demo   — create .venv, install specc with the training stack, run the local demo
#   make test   — create .venv, install specc with the training stack and test tools, run the test suite
#
# torch is chosen before anything else so that pip never pulls a build you did not want:
#   TORCH=auto (default): a CUDA machine (nvidia-smi works) gets PyPI's newest `torch` (CUDA wheels);
#                         a machine without a GPU gets `torch==2.13.0` (a CPU build is on disk on our CI
#                         machines; elsewhere PyPI's wheel).
#   TORCH='torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu'  — any pip arguments of your choice.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= auto
PY := $(VENV)/bin/python
STAMP := $(VENV)/.specc-installed

.PHONY: demo test venv bench clean

# pip's own chatter goes to $(LOG); it is printed only when an install step fails.
LOG := $(VENV)/install.log

$(STAMP): pyproject.toml setup.py specc/contract/_fastscan.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "specc: setting up $(VENV) (log: $(LOG))"
	@$(PY) -m pip install --quiet --upgrade pip > $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@if [ "$(TORCH)" = "auto" ]; then \
	  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	    echo "specc: GPU found: installing PyPI's torch (CUDA build)"; torch="torch"; \
	  else \
	    echo "specc: no GPU: installing torch==2.13.0 (CPU)"; torch="torch==2.13.0"; \
	  fi; \
	else torch="$(TORCH)"; fi; \
	$(PY) -m pip install --quiet $$torch >> $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@echo "specc: installing specc[train,test]"
	@$(PY) -m pip install --quiet -e ".[train,test]" >> $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@$(VENV)/bin/specc demo

test: $(STAMP)
	@$(VENV)/bin/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
