# `make demo` and `make test` set everything up on a fresh machine (see README).
# Installs are pinned by constraints.txt (`make lock` regenerates it; docs/cli.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := constraints.txt
# torch first: the CPU wheel of this version; any other pulls GBs of CUDA packages
TORCH  := $(or $(shell grep -m1 '^torch==' $(LOCK) 2>/dev/null),torch==2.13.0)
# s3rver: a second S3 implementation for the remote-den tests (they skip without it)
S3RVER := s3rver@3.7.1
NODE_STAMP := .node/.installed-stamp

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MEDCAT_DISABLE_VERSION_CHECK := true
export TOKENIZERS_PARALLELISM := false

.PHONY: install lock demo test lint bench clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(LOCK) $(TORCH)
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev]"
	touch $(STAMP)

$(NODE_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-audit --no-fund --save-exact --prefix .node $(S3RVER) && touch $@; \
	else echo "npm not found: the tests that need $(S3RVER) will be skipped"; fi

install: $(STAMP) $(NODE_STAMP)

# after changing pyproject.toml (or `pip install -U NAME` in .venv): install what it asks
# for, unconstrained, then pin every distribution it needs at the installed version
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python tools/lockfile.py > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	touch $(STAMP)

demo: install
	$(BIN)/python -m medcat_den.cli.demo

test: install
	TQDM_DISABLE=1 $(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

lint: install
	$(BIN)/ruff check medcat_den tests bench
	$(BIN)/mypy medcat_den

bench: install
	$(BIN)/python bench/den_bench.py

clean:
	rm -rf $(VENV) .node .pytest_cache .mypy_cache .ruff_cache
