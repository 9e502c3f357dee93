# A thin wrapper over CMake; every target installs what it needs first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CONFIG     ?= config/payhook.example.toml
CMAKE_ARGS ?=

.PHONY: all deps build run test test-unit test-integration test-asan bench fuzz format clean

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

test: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure --timeout 300

test-unit: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L unit

test-integration: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L integration

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPAYHOOK_SANITIZE=ON $(CMAKE_ARGS) >/dev/null

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) -j$(JOBS) --output-on-failure --timeout 600

bench: build
	bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
