# Two entry points, both of which install first (into .venv, once):
#   make run    the default study end to end (config.yaml; about 40 minutes on 2 CPU cores)
#   make test   the test suite (what CI runs)
VENV ?= .venv
PYTHON ?= python3
CORES ?= all

.PHONY: run test report clean-venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES)

test: $(VENV)/.installed
	$(VENV)/bin/pytest

report: $(VENV)/.installed
	$(VENV)/bin/snakemake --report results/report.html

clean-venv:
	rm -rf $(VENV)
