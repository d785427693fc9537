# The README's commands. `make test` is what CI runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DQKV_WERROR=ON
endif
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build test test-fast test-blas-threads test-demo test-asan fuzz-build fuzz fuzz-smoke demo demo-convert bench clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD)

# Unit, golden and CLI tests; the training tests again under both OpenBLAS thread
# settings; a short demo on the text every Debian machine has; then the same suite
# under ASan + UBSan; then a short fuzz run.
test: test-fast test-blas-threads test-demo test-asan fuzz-smoke

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j2

# Training results must not depend on OpenBLAS's thread setting (nor on its core
# type, which the environment may set: it is left alone).
TRAIN_TESTS := Train*:GradCheck*
test-blas-threads: build
	OPENBLAS_NUM_THREADS=1 $(BUILD)/tests/qkv_tests --gtest_filter='$(TRAIN_TESTS)' --gtest_brief=1
	OPENBLAS_NUM_THREADS=2 $(BUILD)/tests/qkv_tests --gtest_filter='$(TRAIN_TESTS)' --gtest_brief=1

test-demo: build
	$(BUILD)/qkv demo --out $(BUILD)/demo-smoke --minutes 0.2

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

# The demo trains on ../shared/corpus/tinyshakespeare.txt when it is there, else on
# /usr/share/common-licenses (every Debian machine has it). It needs only the CLI.
SHARED ?= $(or $(QKV_SHARED),$(abspath ../shared))
DEMO_TEXT := $(wildcard $(SHARED)/corpus/tinyshakespeare.txt)
DEMO_MINUTES ?= 3
demo: configure
	cmake --build $(BUILD) --target qkv
	$(BUILD)/qkv demo --out $(BUILD)/demo --minutes $(DEMO_MINUTES) $(if $(DEMO_TEXT),--data $(DEMO_TEXT))

# Convert, audit, quantize and measure a real third-party model from ../shared.
demo-convert: build
	./scripts/demo.sh $(BUILD)

bench: build
	./scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
