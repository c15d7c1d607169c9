# BESSY II digital twin. `make run` and `make test` do all set-up themselves.
#
# EPICS comes from the pinned PyPI wheels installed into .venv-epics, unless
# EPICS_BASE (and PVXS) name a site installation: then no venv is made for
# the build and epics-pvxs-sys links against the site's libraries.

PYTHON ?= python3
CARGO ?= cargo

EPICS_WHEELS := epicscorelibs==7.0.10.99.0.2 pvxslibs==1.5.3
TEST_PACKAGES := $(EPICS_WHEELS) pyepics==3.5.10 caproto==1.3.0 p4p==4.3.0 \
                 pytest==9.2.0 numpy==2.4.6 pymongo==4.20.0 requests==2.34.2 openapi-core==0.23.1 websockets==17.4 \
                 selenium==4.51.0 prometheus-client==0.26.0
MONGO_PACKAGES := secantusdb==0.7.0b3

PYAT_PACKAGES := accelerator-toolbox==0.9.0 caproto==1.3.0
# HZB's client stack (ophyd/bluesky) for tests/test_hzb_clients.py: a venv of
# its own because it pins numpy < 2 and pyepics 3.5.2 (verified on Python 3.11)
HZB_PACKAGES := bact-bessyii-mls-ophyd==0.2.0 bluesky==1.10.0 ophyd==1.9.0 \
                pyepics==3.5.2 numpy==1.26.4
# pyAML with its EPICS backend (ophyd-async, aioca, p4p) for tests/test_pyaml.py
PYAML_PACKAGES := accelerator-middle-layer==0.3.2 'pyaml-cs-oa[epics]==0.3.1'

EPICS_VENV := .venv-epics
TEST_VENV := .venv
PYAT_VENV := .venv-pyat
MONGO_VENV := .venv-mongo
PYAML_VENV := .venv-pyaml
HZB_VENV := .venv-hzb
EPICS_STAMP := $(EPICS_VENV)/.installed
TEST_STAMP := $(TEST_VENV)/.installed
PYAT_STAMP := $(PYAT_VENV)/.installed
MONGO_STAMP := $(MONGO_VENV)/.installed
PYAML_STAMP := $(PYAML_VENV)/.installed
HZB_STAMP := $(HZB_VENV)/.installed

# Debian's Chromium and ChromeDriver for the web view's browser test
# (tests/test_web_view.py); apt as root, else through sudo.
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

ifeq ($(strip $(EPICS_BASE)),)
EPICS_DEP := $(EPICS_STAMP)
endif

.PHONY: all build run test test-rust test-e2e bench bench-ioc bench-engine bench-twin bench-store bench-bba bench-load bench-web bench-shadow reference fmt clean

all: build

$(EPICS_STAMP):
	$(PYTHON) -m venv $(EPICS_VENV)
	$(EPICS_VENV)/bin/pip install --quiet --disable-pip-version-check $(EPICS_WHEELS)
	touch $@

$(PYAT_STAMP):
	$(PYTHON) -m venv $(PYAT_VENV)
	$(PYAT_VENV)/bin/pip install --quiet --disable-pip-version-check $(PYAT_PACKAGES)
	touch $@

# A MongoDB-wire server for the store tests (test-time tool only).
$(MONGO_STAMP):
	$(PYTHON) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/pip install --quiet --disable-pip-version-check $(MONGO_PACKAGES)
	touch $@

# HZB's facility software, each in a venv of its own (their pins conflict)
$(PYAML_STAMP):
	$(PYTHON) -m venv $(PYAML_VENV)
	$(PYAML_VENV)/bin/pip install --quiet --disable-pip-version-check $(PYAML_PACKAGES)
	touch $@

$(HZB_STAMP):
	$(PYTHON) -m venv $(HZB_VENV)
	$(HZB_VENV)/bin/pip install --quiet --disable-pip-version-check $(HZB_PACKAGES)
	touch $@

$(CHROMEDRIVER):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

$(TEST_STAMP):
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --disable-pip-version-check $(TEST_PACKAGES)
	touch $@

## Set-up and release build: target/release/twin-ioc
build: $(EPICS_DEP)
	$(CARGO) build --release --locked --workspace

## Build and start the twin for BESSY II (embedded store, st.cmd)
run: build
	./target/release/twin-ioc st.cmd

## The whole suite: Rust unit and in-process tests, then end-to-end tests
## with real clients (pyepics, caproto, p4p) against the binary.
test: test-rust test-e2e

test-rust: build
	$(CARGO) test --release --locked --workspace

test-e2e: build $(TEST_STAMP) $(MONGO_STAMP) $(PYAML_STAMP) $(HZB_STAMP) $(CHROMEDRIVER)
	$(TEST_VENV)/bin/python -m pytest tests -v

## Benchmarks (not tests), each side by side with its competitor in one run.
bench: bench-ioc bench-engine bench-twin bench-store bench-bba bench-web bench-shadow

bench-ioc: build $(TEST_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_ioc.py

bench-engine: build $(PYAT_STAMP)
	$(PYAT_VENV)/bin/python tests/bench/bench_engine.py

bench-twin: build $(TEST_STAMP) $(PYAT_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_twin.py

bench-store: build $(TEST_STAMP) $(MONGO_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_store.py

bench-bba: build $(TEST_STAMP) $(PYAT_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_bba.py

# 100 CA + 20 PVA monitors, 1000 put-callback writes/s for 60 s
# (BENCH_LOAD_SECONDS, BENCH_LOAD_RATE_HZ; a soak is a long run)
bench-load: build $(TEST_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_load.py

# PVWS update vs CA monitor after a put-callback; 50 WebSocket clients
bench-web: build $(TEST_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_web.py

bench-shadow: build $(TEST_STAMP)
	$(TEST_VENV)/bin/python tests/bench/bench_shadow.py

## Regenerate the pyAT reference data the engine is validated against.
reference: $(PYAT_STAMP)
	$(PYAT_VENV)/bin/python tests/reference/make_pyat_reference.py

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(EPICS_VENV) $(TEST_VENV) $(PYAT_VENV) $(MONGO_VENV) $(PYAML_VENV) $(HZB_VENV)
