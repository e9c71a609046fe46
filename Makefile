# Kobe City Government Cloud landing zone. Two commands set everything up on a fresh machine:
#   make synth   cdk synth of the default environment (config/kobe-stg.toml) into cdk.out/
#   make test    the test suite
# Each creates .venv (Python packages and Node 24 from PyPI) and node_modules (the pinned CDK CLI, and Mermaid's
# parser for the tests) when missing, and reinstalls them only when requirements*.txt or package*.json change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# jsii warns about Node versions it has not been tested with; ours is pinned in requirements.txt.
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

PY_STAMP   := $(VENV)/.stamp-requirements
NODE_STAMP := node_modules/.stamp-package-lock
CDK        := $(CURDIR)/node_modules/.bin/cdk
ENV        ?= kobe-stg
CDK_OUT    ?= cdk.out

.PHONY: setup synth synth-all test lint bench cost snapshot-update rules-doc review diff deploy-check schema clean preflight verify prices

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup
	$(CDK) synth --quiet -c env=$(ENV) -o $(CDK_OUT)
	@echo "Templates of $(ENV) are in $(CDK_OUT)/"

synth-all: setup
	@for env in $$(ls config/*.toml | xargs -n1 basename | sed 's/\.toml$$//'); do \
	  echo "== $$env"; $(CDK) synth --quiet -c env=$$env -o cdk.out.$$env || exit 1; done

test: setup
	$(BIN)/python -m pytest

lint: setup synth
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy govcloud app.py
	@# Each function folder is the root of its code, as Lambda runs it (its packages import from there).
	@for fn in govcloud/runtime/*/; do MYPYPATH=$$fn $(BIN)/mypy $$fn*.py || exit 1; done
	@# W3005: CDK's AwsCustomResource singleton repeats, as DependsOn, the role it already references.
	@# W3010: availability zones come from config on purpose, so that synth makes no AWS call.
	$(BIN)/cfn-lint --non-zero-exit-code warning --ignore-checks W3005 W3010 -- $(CDK_OUT)/assembly-*/*.template.json

bench: setup
	$(BIN)/python bench/run.py

review: setup
	@for env in $$(ls config/*.toml | xargs -n1 basename | sed 's/\.toml$$//'); do \
	  $(CDK) synth --quiet -c env=$$env -o cdk.out.$$env || exit 1; \
	  for lang in en ja; do \
	    $(BIN)/python -m govcloud.review report cdk.out.$$env --out cdk.out.$$env/review --lang $$lang || exit 1; done; done

REVIEW_LANG ?= ja
diff: setup
	ALLOW="$(ALLOW)" scripts/diff.sh $(or $(BASE),$(error give BASE=<git ref>, e.g. make diff BASE=origin/main)) $(REVIEW_LANG)

deploy-check: setup synth
	$(BIN)/python -m govcloud.review deploy-check $(CDK_OUT) --config config/$(ENV).toml

preflight: setup
	$(BIN)/python -m govcloud.ops -c env=$(ENV) preflight $(if $(FORMAT),--format $(FORMAT))

verify: setup
	$(BIN)/python -m govcloud.ops -c env=$(ENV) verify $(if $(FORMAT),--format $(FORMAT))

prices: setup
	$(BIN)/python -m govcloud.ops prices --refresh

cost: setup
	$(BIN)/python -m govcloud.review cost --config config/$(ENV).toml --spokes 20

schema: setup
	$(BIN)/python -m govcloud.config.schema

rules-doc: setup
	$(BIN)/python -m govcloud.compliance.catalogue > docs/RULES.md
	$(BIN)/python -m govcloud.compliance.catalogue --lang ja > docs/ja/RULES.md

snapshot-update: setup
	$(BIN)/python -m pytest tests/test_snapshots.py --snapshot-update

clean:
	rm -rf cdk.out cdk.out.* .bench .pytest_cache .mypy_cache .ruff_cache
