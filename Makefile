# Pulse: the two set-up commands are `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PULSE  := $(VENV)/bin/pulse
STAMP  := $(VENV)/.installed
export OMP_WAIT_POLICY ?= PASSIVE
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium

.PHONY: install models demo train run serve chat test test-fast bench load chaos eval clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0          # the CPU wheel: first, so nothing pulls a CUDA build
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(STAMP)

models: install
	$(PULSE) models pull qwen2.5-coder-1.5b smollm2-135m

demo-workspace/index.faiss: | install
	$(PULSE) demo

demo: demo-workspace/index.faiss

demo-workspace/models/sentiment.json: demo-workspace/index.faiss
	$(PULSE) train

train: demo-workspace/models/sentiment.json

# the web UI, support API and OpenAI API on http://127.0.0.1:7860/
run: models train
	$(PULSE) serve

serve: run

chat: models train
	$(PULSE) chat

# Debian's Chromium for the web UI's browser tests (Playwright drives it; it never downloads a browser)
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

test: models $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q

# the inner loop: lint, types, and every test that needs no built workspace, trained model, language model or server
test-fast: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q -m "not slow"

bench: models train
	$(PY) -m bench

load: models train
	$(PY) -m bench.load

# concurrent streaming sessions, clients hanging up, and a SIGKILL of the server mid-turn (bench/chaos.py)
chaos: models train
	$(PY) -m bench.chaos

# the full eval suites with the default model; the report lands in demo-workspace/eval_runs/<run>/ (SPLIT=dev|test|all)
SPLIT ?= all
EVAL_SUITES := evals/suites/analyst.yaml evals/suites/shopper.yaml evals/suites/support.yaml evals/suites/chitchat.yaml evals/suites/components.yaml
eval: models train demo-workspace-zh/models/sentiment.json
	$(PULSE) eval $(EVAL_SUITES) --split $(SPLIT)
	$(PULSE) --workspace demo-workspace-zh eval evals/suites/chinese.yaml --split $(SPLIT)

# the Chinese demo: its own workspace (one vector space per workspace: multilingual USE here)
demo-workspace-zh/index.faiss: | install
	$(PULSE) --workspace demo-workspace-zh demo --zh

# every step its data supports (sentiment, topics, churn; the recommender is skipped: no order lines)
demo-workspace-zh/models/sentiment.json: demo-workspace-zh/index.faiss
	$(PULSE) --workspace demo-workspace-zh train

clean:
	rm -rf $(VENV) demo-workspace demo-workspace-zh .pytest_cache
