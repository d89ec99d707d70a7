# `make run` and `make test` each set up everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MPLM_PUBLIC_DATA ?= $(abspath ../shared/data)
export MPLM_PUBLIC_DATA

.PHONY: install run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

# The CPU build of torch 2.13.0 is installed first and pinned, so that the train
# extra never pulls a multi-GB CUDA build.
install: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train]' 'torch==2.13.0'

run: install
	$(BIN)/mplm-data gen sudoku --n 25 --count 8 --seed 0 --clues 400 --format mplm --resume --out data/sudoku-25x25-mplm

test: install
	$(BIN)/python -m pytest -q tests; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

bench: install
	$(BIN)/pip install --quiet -e '.[bench]' 'torch==2.13.0'
	$(BIN)/python scripts/bench_sudoku.py
	$(BIN)/python scripts/bench_sat.py
	$(BIN)/python scripts/bench_write.py
	$(BIN)/python scripts/bench_runtime.py

clean:
	rm -rf $(VENV) build *.egg-info
