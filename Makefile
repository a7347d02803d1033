# Two entry points, both of which install first (into .venv, once):
#   make run    the default study end to end (config.yaml; under an hour on 2 CPU cores)
#   make test   the test suite (what CI runs)
# A study of studies/: make run STUDY=seeds (and make report STUDY=seeds).
VENV ?= .venv
PYTHON ?= python3
CORES ?= all
STUDY ?=
STUDY_ARGS = $(if $(STUDY),--configfile studies/$(STUDY).yaml)

.PHONY: run test report clean-venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) $(STUDY_ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/pytest

report: $(VENV)/.installed
	$(VENV)/bin/snakemake $(STUDY_ARGS) --report results/studies/$(or $(STUDY),default)/report.html

clean-venv:
	rm -rf $(VENV)
