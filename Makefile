# facmon — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
INFLUX ?=

.PHONY: demo test lint typecheck unit integration clean

# The venv is (re)built when absent or when pyproject.toml changes.
$(BIN)/facmon: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

## Run the whole system with simulated devices on embedded defaults (Ctrl-C stops it).
demo: $(BIN)/facmon
	$(BIN)/facmon demo --port $(PORT) $(if $(INFLUX),--influx $(INFLUX))

## Install the test services if missing, then lint, type-check and run the whole suite.
test: $(BIN)/facmon
	bash tests/setup-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/facmon
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(BIN)/facmon
	$(BIN)/mypy

unit: $(BIN)/facmon
	$(BIN)/pytest -m "not integration"

integration: $(BIN)/facmon
	bash tests/setup-services.sh
	$(BIN)/pytest -m integration

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info

.PHONY: screenshots
## The README's screenshots of the status page (docs/img), taken by the demo's scenario test.
screenshots: $(BIN)/facmon
	bash tests/setup-services.sh
	FACMON_SCREENSHOTS=docs/img $(BIN)/pytest -q \
		tests/integration/test_demo.py::test_demo_raises_every_scenario_alert_within_two_minutes

.PHONY: bench
## Benchmarks (about 15 minutes): gateway polling vs thingsboard-gateway and a C floor, collector
## vs InfluxDB's ceiling and Telegraf's batching, the asset list vs bare Starlette (wrk), rule
## evaluation and alert latency, and the whole pipeline end to end (a load ramp to 40,000
## points/s with CPU per point, latency and loss, memory at 1,000 devices, Mosquitto's and
## InfluxDB's ceilings); each writes its section of docs/benchmarks.md. Needs root the first
## time (apt, PyPI).
bench: $(BIN)/facmon
	bash tests/setup-services.sh
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk
	$(BIN)/python bench/gateway/run.py
	$(BIN)/python bench/collector/run.py
	$(BIN)/python bench/api/run.py
	$(BIN)/python bench/alerts/run.py
	$(BIN)/python bench/e2e/run.py

.PHONY: soak
## Soak (an hour, not in CI): sim, gateway, collector and API at 5,000 points/s on real Mosquitto
## and InfluxDB; memory growth and CPU per process, the collector's lag and end-to-end loss
## (must be 0); writes bench/soak/last.json. SOAK_SECONDS=, SOAK_RATE= change length and load.
soak: $(BIN)/facmon
	bash tests/setup-services.sh
	$(BIN)/python bench/soak/run.py $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS)) \
		$(if $(SOAK_RATE),--rate $(SOAK_RATE))
