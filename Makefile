# A thin wrapper over CMake; every target installs what it needs first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CONFIG     ?= config/payhook.example.toml
CMAKE_ARGS ?=
FUZZ_BUILD   ?= build-fuzz
DEB_BUILD    ?= build-deb
FUZZ_SECONDS ?= 30

.PHONY: all deps build run test format-check test-unit test-integration test-reliability test-ha test-asan bench bench-delivery bench-replicas bench-million fuzz deb test-deb test-systemd \
        format clean

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

# Everything but the full reliability and failover scenarios (their short versions run here, label
# integration), after checking that every C++ file is formatted.
test: build format-check
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure --timeout 300 -LE '^(reliability|ha)$$'

test-unit: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L unit

test-integration: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure -L integration

# The ledger scenarios at full length (20 kill -9 rounds, Redis down 30 s, the app down
# 60 s, two instances with one killed), one at a time, about 6 minutes; each prints its ledger line, and the
# table of the run is left in $(BUILD)/reliability-ledger.md (docs/reliability.md explains it).
LEDGER_OUT = $(abspath $(BUILD))/reliability-ledger.md
test-reliability: build
	@rm -f $(LEDGER_OUT)
	PAYHOOK_LEDGER_OUT=$(LEDGER_OUT) ctest --test-dir $(BUILD) -L reliability --output-on-failure --timeout 900; \
	  rc=$$?; echo; cat $(LEDGER_OUT) 2>/dev/null; exit $$rc

# Redis Sentinel and Redis Cluster: the topologies, then the failover ledgers at full length (SENTINEL
# FAILOVER, kill -9 of the master, CLUSTER FAILOVER, a slot migration, kill -9 of a cluster master; two payhookd;
# min_replicas 1 asserted,
# min_replicas 0 measured), about 3 minutes. The ledger table is left in $(BUILD)/ha-ledger.md.
HA_OUT = $(abspath $(BUILD))/ha-ledger.md
test-ha: build
	@rm -f $(HA_OUT)
	PAYHOOK_LEDGER_OUT=$(HA_OUT) ctest --test-dir $(BUILD) -L '^ha$$' --output-on-failure --timeout 600; \
	  rc=$$?; echo; cat $(HA_OUT) 2>/dev/null; exit $$rc

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPAYHOOK_SANITIZE=ON $(CMAKE_ARGS) >/dev/null

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) -j$(JOBS) --output-on-failure --timeout 600 -LE '^(reliability|ha)$$'

# One table from one run: nginx, adnanh/webhook and payhookd (Standard Webhooks, YooMoney).
bench: build
	bench/run.sh $(BUILD)

# What one delivery costs payhookd, Redis and the app, with the drain alone.
bench-delivery: build
	bench/delivery.sh $(BUILD)

# What min_replicas = 1 (a local replica, WAIT before each answer) costs at ingest, next to one Redis.
bench-replicas: build
	bench/replicas.sh $(BUILD)

# Start-up and ingest with a million events waiting in Redis.
bench-million: build
	bench/million.sh $(BUILD)

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

# The Debian package: its own Release build installed under /usr (no tests), then CPack's DEB generator.
# The .deb lands in $(DEB_BUILD)/; lintian checks it when installed (scripts/install-deps.sh --deb).
# Debian's hardening flags (fortify, stack protector, relro, bindnow) as dpkg-buildflags gives them.
DEB_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
$(DEB_BUILD)/CMakeCache.txt:
	CFLAGS="$$($(DEB_FLAGS) CPPFLAGS) $$($(DEB_FLAGS) CFLAGS)" \
	CXXFLAGS="$$($(DEB_FLAGS) CPPFLAGS) $$($(DEB_FLAGS) CXXFLAGS)" LDFLAGS="$$($(DEB_FLAGS) LDFLAGS)" \
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	  -DPAYHOOK_BUILD_TESTS=OFF $(CMAKE_ARGS) >/dev/null

deb:
	@scripts/install-deps.sh --deb
	@$(MAKE) --no-print-directory $(DEB_BUILD)/CMakeCache.txt
	cmake --build $(DEB_BUILD) -j$(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB
	@scripts/lint-deb.sh $(DEB_BUILD)

# Installs the .deb into a fresh Debian 12 root (debootstrap) and runs it there; see the script.
test-deb: deb
	scripts/test-deb.sh $(DEB_BUILD)

# The .deb under a real systemd: a Debian 12 root (mmdebstrap, cached in $(DEB_BUILD)/systemd/) booted
# with systemd-nspawn, the package installed with apt, then start, socket activation, reload, kill -9,
# watchdog, stop, journal, security and purge checks, one line each; see the script.
test-systemd: deb
	@scripts/install-deps.sh --systemd
	scripts/test-systemd.sh $(DEB_BUILD)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

format-check: deps
	@scripts/check-format.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEB_BUILD)
