# The two commands of the README: `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:8080
PREFIX     ?= /usr/local

.PHONY: all deps test-deps fuzz-deps build run test test-fast test-asan test-clang install bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

fuzz-deps:
	@scripts/install-deps.sh --fuzz

# Configured on every call, not once behind a CMakeCache.txt target: a
# configure that failed half-way leaves CMakeCache.txt behind, and the next
# make would then skip it and fail on a missing Makefile. Re-configuring an
# unchanged tree takes about a second and rebuilds nothing.
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps
	$(CONFIGURE) -DGH_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p var && chmod 700 var
	$(BUILD)/gatehouse serve --db sqlite:var/gatehouse.db --master-key var/master.key --listen $(LISTEN)

# The whole suite: the release build, then the same suite under ASan and
# UBSan, then built by clang at -O3 (other warnings, other inlining).
test: test-deps
	$(MAKE) test-fast test-asan test-clang

test-fast:
	$(CONFIGURE) -DGH_TESTS=ON
	cmake --build $(BUILD) -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON -DGH_TESTS=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test-clang:
	CC=clang cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=Release -DGH_TESTS=ON
	cmake --build $(CLANG_BUILD) -j $(JOBS)
	ctest --test-dir $(CLANG_BUILD) --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build test-deps
	bench/run.sh

# Coverage-guided fuzzing of the parsers, FUZZ_SECONDS (60) a target.
fuzz: fuzz-deps
	scripts/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD)
