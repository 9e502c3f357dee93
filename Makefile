# A thin wrapper over CMake; every target installs what it needs first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CONFIG     ?= config/payhook.example.toml
CMAKE_ARGS ?=
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all deps build run test test-unit test-integration test-reliability test-asan bench fuzz format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Starts a private Redis (unless the config's Redis answers) and payhookd in the foreground.
run: build
	@scripts/run-local.sh $(BUILD) $(CONFIG)

# Everything but the full reliability scenarios (their short versions run here, label integration).
test: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure --timeout 300 -LE reliability

test-unit: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L unit

test-integration: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L integration

# Issue 6: the ledger scenarios with the issue's durations (20 kill -9 rounds, Redis down 30 s, the app down
# 60 s, two instances with one killed), one at a time, about 6 minutes; each prints its ledger line, and the
# table of the run is left in $(BUILD)/reliability-ledger.md (docs/reliability.md explains it).
LEDGER_OUT = $(abspath $(BUILD))/reliability-ledger.md
test-reliability: build
	@rm -f $(LEDGER_OUT)
	PAYHOOK_LEDGER_OUT=$(LEDGER_OUT) ctest --test-dir $(BUILD) -L reliability --output-on-failure --timeout 900; \
	  rc=$$?; echo; cat $(LEDGER_OUT) 2>/dev/null; exit $$rc

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPAYHOOK_SANITIZE=ON $(CMAKE_ARGS) >/dev/null

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) -j$(JOBS) --output-on-failure --timeout 600 -LE reliability

bench: build
	bench/run.sh $(BUILD)

# libFuzzer needs clang, so the fuzzers get their own build directory (no GoogleTest there). Each target
# runs FUZZ_SECONDS over a scratch copy of its corpus; see tests/fuzz/run.sh. Replay the committed
# corpora alone with: ctest --test-dir $(FUZZ_BUILD) -L fuzz
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPAYHOOK_BUILD_FUZZERS=ON -DPAYHOOK_BUILD_TESTS=OFF $(CMAKE_ARGS) >/dev/null

fuzz:
	@scripts/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
