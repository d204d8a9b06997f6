# One command each: `make install`, `make data`, `make test`.
PYTHON ?= python3
TORCH ?= 2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data/tiny
HOURS ?= 1

.PHONY: install data lm test lint bench clean

install: $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install "torch==$(TORCH)"
	$(BIN)/pip install -e ".[dev]"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

data:
	$(BIN)/python -m deepspeech_tt.data.synth --out $(DATA) --hours $(HOURS)

lm:
	$(BIN)/python -m deepspeech_tt.decoding.lm --text $(DATA)/lm_text.txt --order 3 --out $(DATA)/lm/3gram.arpa

test:
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check deepspeech_tt tests scripts
	$(BIN)/mypy deepspeech_tt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
