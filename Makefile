# LabStream: a newcomer's commands. Every target creates and uses the project virtualenv itself.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint fmt chaos install system-deps clean schemas kafka-jars

# The virtualenv is rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The Quix Streams peer of `make bench` (bench/quix.py) runs in a virtualenv of its own, from PyPI by
# name: quixstreams 3.28.1 requires pydantic<2.14 and pydantic-settings<2.16, so installing it into
# $(VENV) would downgrade both there. This one holds quixstreams and LabStream's own package.
QUIX_VENV   ?= .venv-quix
QUIXSTREAMS ?= quixstreams==3.28.1
QUIX_STAMP  := $(QUIX_VENV)/.installed
$(QUIX_STAMP): pyproject.toml
	@test -x $(QUIX_VENV)/bin/python || $(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(QUIX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e . '$(QUIXSTREAMS)'
	@touch $(QUIX_STAMP)

# Debian packages the checks use (promtool and a real Prometheus; a real Alertmanager and amtool;
# chromium; Java and Maven for Apache Kafka). Installed, never downloaded as binaries.
system-deps:
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing prometheus from Debian's packages"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi
	@if ! command -v prometheus-alertmanager >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing prometheus-alertmanager from Debian's packages"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; \
	fi
	@# chromium: the /tutor page test drives Debian's browser with Playwright (no browser download)
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing chromium from Debian's packages"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi
	@if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing Java and Maven from Debian's packages (Apache Kafka for the tests)"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends default-jre-headless maven >/dev/null; \
	fi

# Apache Kafka's broker jars (labstream/kafka/pom.xml) through Maven, cached: the tests' cluster runs them.
kafka-jars: $(STAMP)
	$(PY) -m labstream.kafka_cluster

run: $(STAMP)
	$(VENV)/bin/labstream up

test: $(STAMP) system-deps kafka-jars
	$(PY) -m pytest -q --durations=15

bench: $(STAMP) $(QUIX_STAMP) kafka-jars
	LABSTREAM_BENCH_QUIX_PYTHON=$(abspath $(QUIX_VENV))/bin/python $(PY) -m bench

chaos: $(STAMP) system-deps kafka-jars
	$(PY) -m bench.chaos

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schemas: $(STAMP)
	$(VENV)/bin/labstream schemas --out docs/schemas

clean:
	rm -rf $(VENV) $(QUIX_VENV) .pytest_cache .mypy_cache .ruff_cache
