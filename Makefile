# One command per chore. Each target creates .venv on first use and installs what it needs,
# so on a fresh machine `make demo` and `make test` are all there is to type.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	.ci/typecheck

demo: install
	$(BIN)/python bench/demo.py

bench: install
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .lint demo-out
