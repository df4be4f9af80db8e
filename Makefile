# dnevnik — thin wrapper around scripts/, meson and the test runners.
#
#   make run         install missing Debian packages, build, serve a demo school
#                    on http://127.0.0.1:8080 (SQLite in data/; migrations run at start)
#   make test        the whole suite: unit tests (normal + ASan/UBSan builds, PostgreSQL
#                    store tests included) and the black-box API tests against both builds
#                    × both backends; ends with one line "N passed, N failed"
#   make bench       benchmarks (bench/workloads/*: HTTP vs nginx, the issue-6 request mix
#                    at 10,000 students on SQLite and PostgreSQL, ...) on a release build in
#                    $(BENCH_BUILD_DIR); each rewrites its section of BENCHMARKS.md
#   make bench-region | bench-1m   the mix alone at 100,000 / 1,000,000 students
#   make build | build-asan | clean
#
# Variables: LISTEN, DB, DATA_DIR (make run); BENCH_DURATION, BENCH_* (make bench, see bench/run.sh
# and bench/workloads/30-mix.sh);
# API_TESTS (files for the API suites, default tests/api/*.test.mjs);
# BROWSER_TESTS (web UI suites in headless chromium, default tests/browser/*.test.mjs).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= data
DB ?= sqlite:$(DATA_DIR)/dnevnik.db
API_TESTS ?= tests/api/*.test.mjs
BROWSER_TESTS ?= tests/browser/*.test.mjs
BENCH_BUILD_DIR ?= build-release

.PHONY: run build build-asan test bench bench-region bench-1m bench-release clean deps fuzz test-crash test-cluster

deps:
	scripts/install-deps.sh run

build: deps
	[ -f $(BUILD_DIR)/build.ninja ] || meson setup $(BUILD_DIR)
	ninja -C $(BUILD_DIR)

build-asan: deps
	[ -f $(ASAN_DIR)/build.ninja ] || meson setup $(ASAN_DIR) -Db_sanitize=address,undefined
	ninja -C $(ASAN_DIR)

run: build
	@mkdir -p $(DATA_DIR)
	echo "dnevnik: serving http://$(LISTEN) (Ctrl-C to stop)"
	exec ./$(BUILD_DIR)/dnevnik serve --listen $(LISTEN) --db $(DB) --data-dir $(DATA_DIR) --demo

bench: bench-release
	echo "==> bench/run.sh"
	DN_BIN=$(abspath $(BENCH_BUILD_DIR))/dnevnik bench/run.sh

# The mix at region scale: generating 100,000 students takes ~4 min on SQLite
# (cached in bench/data/ afterwards, 2 GB) plus the PostgreSQL load each run;
# 1,000,000 students take ~30 min and ~21 GB of disk for SQLite alone, so
# PostgreSQL stays at 100,000 there unless BENCH_MIX_PG_STUDENTS says otherwise.
bench-region: bench-release
	BENCH_WORKLOADS=mix BENCH_STUDENTS=100000 BENCH_MIX_PG_STUDENTS=$${BENCH_MIX_PG_STUDENTS:-100000} \
	  BENCH_DURATION=$${BENCH_DURATION:-30} \
	  BENCH_WORKLOAD_TIMEOUT=$${BENCH_WORKLOAD_TIMEOUT:-7200} DN_BIN=$(abspath $(BENCH_BUILD_DIR))/dnevnik bench/run.sh

bench-1m: bench-release
	BENCH_WORKLOADS=mix BENCH_STUDENTS=1000000 BENCH_MIX_PG_STUDENTS=$${BENCH_MIX_PG_STUDENTS:-100000} \
	  BENCH_DURATION=$${BENCH_DURATION:-30} BENCH_WORKLOAD_TIMEOUT=$${BENCH_WORKLOAD_TIMEOUT:-14400} \
	  DN_BIN=$(abspath $(BENCH_BUILD_DIR))/dnevnik bench/run.sh

bench-release:
	@scripts/install-deps.sh bench
	[ -f $(BENCH_BUILD_DIR)/build.ninja ] || meson setup $(BENCH_BUILD_DIR) --buildtype=release
	ninja -C $(BENCH_BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(BENCH_BUILD_DIR)

# Every suite runs even if an earlier one failed; the exit status and the final
# "N passed, N failed" line cover all of them. The PostgreSQL cluster is always stopped.
test:
	@scripts/install-deps.sh test
	# Sanitizer findings fail the run; h2o's own per-thread caches are suppressed (tests/lsan.supp).
	export LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	echo "==> build ($(BUILD_DIR), $(ASAN_DIR))"
	$(MAKE) build
	$(MAKE) build-asan
	results=$$(mktemp -d /tmp/dnevnik-test.XXXXXX)
	pgdir=$$(mktemp -d /tmp/dnevnik-pg.XXXXXX)
	s3dir=$$(mktemp -d /tmp/dnevnik-s3.XXXXXX)
	cleanup() {
	  scripts/pg-test-cluster.sh destroy "$$pgdir" >/dev/null 2>&1 || true
	  scripts/s3-test-server.sh stop "$$s3dir" >/dev/null 2>&1 || true
	  rm -rf "$$s3dir"
	  rm -rf "$$results"
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	echo "==> starting a throwaway PostgreSQL cluster in $$pgdir"
	DN_TEST_PG_URL=$$(scripts/pg-test-cluster.sh start "$$pgdir")
	export DN_TEST_PG_URL
	echo "    $$DN_TEST_PG_URL"
	passed=0 failed=0 skipped=0 broken=()
	# count NAME RC PASS FAIL SKIP: a suite that failed without a failing test
	# (crash, timeout, missing output) still counts as one failure.
	count() {
	  local p=$${3:-0} f=$${4:-0} s=$${5:-0}
	  if [ "$$2" -ne 0 ] && [ "$$f" -eq 0 ]; then f=1; fi
	  [ "$$2" -eq 0 ] || broken+=("$$1")
	  echo "    $$1: $$p passed, $$f failed, $$s skipped (exit $$2)"
	  passed=$$((passed + p)) failed=$$((failed + f)) skipped=$$((skipped + s))
	}
	for dir in $(BUILD_DIR) $(ASAN_DIR); do
	  echo "==> unit tests ($$dir)"
	  log=$$dir/meson-logs/testlog.json
	  rm -f "$$log"
	  rc=0; meson test -C "$$dir" --suite unit --print-errorlogs || rc=$$?
	  p=0 f=0 s=0
	  if [ -f "$$log" ]; then
	    p=$$(grep -c '"result": "OK"' "$$log" || true)
	    f=$$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$$log" || true)
	    s=$$(grep -cE '"result": "(SKIP|EXPECTEDFAIL)"' "$$log" || true)
	  fi
	  count "unit[$$dir]" "$$rc" "$$p" "$$f" "$$s"
	done
	if node -e 'const p=require("./package.json");process.exit(Object.keys({...p.dependencies,...p.devDependencies}).length?0:1)'; then
	  echo "==> npm dependencies"
	  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	fi
	# files.test.mjs also runs against S3 (s3rver) when DN_TEST_S3=1
	echo "==> starting a throwaway S3 server (s3rver) in $$s3dir"
	DN_TEST_S3_ENDPOINT=$$(scripts/s3-test-server.sh start "$$s3dir")
	export DN_TEST_S3=1 DN_TEST_S3_ENDPOINT DN_TEST_S3_BUCKET=dnevnik-test
	echo "    $$DN_TEST_S3_ENDPOINT"
	for dir in $(BUILD_DIR) $(ASAN_DIR); do
	  for db in sqlite pg; do
	    echo "==> API tests ($$dir, $$db)"
	    tap=$$results/api-$$dir-$$db.tap
	    rc=0
	    DN_BIN=$(CURDIR)/$$dir/dnevnik DN_DB=$$db timeout -k 10 1200 \
	      node --test --test-reporter=spec --test-reporter-destination=stdout \
	        --test-reporter=tap --test-reporter-destination="$$tap" $(API_TESTS) || rc=$$?
	    read -r p f s < <(awk '/^# pass /{p=$$3} /^# fail /{f+=$$3} /^# cancelled /{f+=$$3} /^# skipped /{s+=$$3} /^# todo /{s+=$$3} END{print p+0, f+0, s+0}' "$$tap" 2>/dev/null || echo "0 0 0")
	    count "api[$$dir,$$db]" "$$rc" "$$p" "$$f" "$$s"
	  done
	done
	# The web UI in headless chromium, once: against the normal build and SQLite
	# (the UI only uses the API, which the suites above cover on every build and store).
	echo "==> browser tests ($(BUILD_DIR), sqlite)"
	tap=$$results/browser.tap
	rc=0
	DN_BIN=$(CURDIR)/$(BUILD_DIR)/dnevnik DN_DB=sqlite timeout -k 10 600 \
	  node --test --test-reporter=spec --test-reporter-destination=stdout \
	    --test-reporter=tap --test-reporter-destination="$$tap" $(BROWSER_TESTS) || rc=$$?
	read -r p f s < <(awk '/^# pass /{p=$$3} /^# fail /{f+=$$3} /^# cancelled /{f+=$$3} /^# skipped /{s+=$$3} /^# todo /{s+=$$3} END{print p+0, f+0, s+0}' "$$tap" 2>/dev/null || echo "0 0 0")
	count "browser[$(BUILD_DIR),sqlite]" "$$rc" "$$p" "$$f" "$$s"
	# Extra suites (crash safety, fuzzing, slow clients, the cluster topology, ...): each
	# tests/suites/NN-name.sh runs by itself with the env below and ends with the line
	# "P passed, F failed" (optionally ", S skipped"); see tests/suites/README.md.
	export DN_BIN=$(CURDIR)/$(BUILD_DIR)/dnevnik DN_ASAN_BIN=$(CURDIR)/$(ASAN_DIR)/dnevnik \
	  DN_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) DN_ASAN_DIR=$(CURDIR)/$(ASAN_DIR) DN_SUITE_MODE=short
	for suite in tests/suites/[0-9]*.sh; do
	  [ -e "$$suite" ] || continue
	  name=$$(basename "$$suite" .sh)
	  echo "==> suite $$name"
	  out=$$results/suite-$$name.log
	  rc=0
	  timeout -k 10 1800 bash "$$suite" 2>&1 | tee "$$out" || rc=$${PIPESTATUS[0]}
	  read -r p f s < <(grep -E '^[0-9]+ passed, [0-9]+ failed' "$$out" | tail -1 | \
	    sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' | awk '{print $$1+0, $$2+0, $$3+0}' || echo "0 0 0")
	  [ -n "$${p:-}" ] || { p=0 f=0 s=0; }
	  count "suite[$$name]" "$$rc" "$$p" "$$f" "$$s"
	done
	echo "==> summary"
	[ "$$skipped" -eq 0 ] || echo "($$skipped skipped)"
	[ $${#broken[@]} -eq 0 ] || echo "failing suites: $${broken[*]}"
	echo "$$passed passed, $$failed failed"
	[ "$$failed" -eq 0 ]

# Long versions of the extra suites (the short ones run inside `make test`).
fuzz: build
	DN_SUITE_MODE=long bash tests/suites/20-fuzz.sh

test-crash: build
	DN_BIN=$(CURDIR)/$(BUILD_DIR)/dnevnik DN_SUITE_MODE=long bash tests/suites/10-crash.sh

test-cluster: build
	@scripts/install-deps.sh test
	DN_BIN=$(CURDIR)/$(BUILD_DIR)/dnevnik DN_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) DN_SUITE_MODE=long bash tests/suites/50-cluster.sh
