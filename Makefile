# The two commands a new user needs: `make demo` (set up + run the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test clean

$(STAMP): pyproject.toml
	sh scripts/ensure-ngspice.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,ray]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ckt size netlists/two_stage_miller.cir --spec netlists/two_stage_miller.yaml --budget 60 --out runs/demo
	@echo "report: runs/demo/report.md"

test: $(STAMP)
	$(BIN)/ruff check ckt
	$(BIN)/mypy ckt
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build *.egg-info
