# Pulse: the two set-up commands are `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PULSE  := $(VENV)/bin/pulse
STAMP  := $(VENV)/.installed
export OMP_WAIT_POLICY ?= PASSIVE
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install models demo train run chat test bench clean

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

run: models train
	$(PULSE) chat

chat: run

test: models
	$(PY) -m pytest -q

bench: models train
	$(PY) -m bench

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache
