# OpenSCMS (Python, serverless). `make test` and `make serve` do all set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test serve lint bench asn1-cache clean help

help:
	@echo "make test   install (first use) and run every test, template and ASL check"
	@echo "make serve  start the SCMS locally"
	@echo "make lint   ruff and mypy (strict for layers/codec)"
	@echo "make bench  benchmarks against OpenSSL measured in the same run"

# The venv is rebuilt whenever a lock file or pyproject.toml changes. --no-deps makes the
# lock files the whole truth; `pip check` fails if a lock file misses a dependency.
$(STAMP): requirements/runtime.lock requirements/dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/cfn-lint infra/template.yaml
	$(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check layers functions tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

serve: $(STAMP)
	$(BIN)/python -m scms_cli.main serve

# Rewrite the compiled-ASN.1 cache after editing a vendored module or upgrading asn1tools/Python
# (tests/unit/test_asn1_cache.py fails while it is stale).
asn1-cache: $(STAMP)
	$(BIN)/python -c "from scms_codec.asn1._spec import write_cache; print('wrote', write_cache())"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
