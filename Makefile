# The README's commands. `make test` is what CI runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DQKV_WERROR=ON
endif
FUZZ_SECONDS ?= 60

.PHONY: all deps build test test-fast test-asan fuzz-build fuzz fuzz-smoke demo bench clean

all: build

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD)

# Unit, golden and CLI tests; then the same suite under ASan + UBSan; then a short fuzz run.
test: test-fast test-asan fuzz-smoke

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j2

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_SANITIZE=ON -DQKV_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2

fuzz-build: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_FUZZ=ON -DQKV_TESTS=OFF -DQKV_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD)

# A bounded fuzz run (FUZZ_SECONDS per target) of every reader, starting from the seed corpus.
fuzz-smoke: fuzz-build
	./fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz: FUZZ_SECONDS = 600
fuzz: fuzz-smoke

demo: build
	./scripts/demo.sh $(BUILD)

bench: build
	./scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
