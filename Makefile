# Convenience front end over Meson. `make demo` and `make test` are the two
# set-up commands of the README: each installs what is missing, builds, and
# runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON_FLAGS ?=

.PHONY: all deps build demo test samples test-asan fuzz bench clean format

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@sh examples/sales/run-demo.sh $(BUILD)

test: build
	meson test -C $(BUILD) --print-errorlogs

# The agent samples (examples/agent), each against the scripted test server.
samples: build
	@for s in direct provider manual; do \
		echo "== examples/agent/run.sh $$s"; \
		env -u OPENAI_BASE_URL BUILD=$(BUILD) sh examples/agent/run.sh --batch $$s || exit 1; \
		echo; \
	done

# Address and undefined-behaviour sanitizers over the host library, the CLI
# and the tests (the guest gets UBSan only: see docs/testing.md).
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug $(MESON_FLAGS)

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs

# libFuzzer harnesses (clang), run briefly over every decoder of untrusted bytes.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Dbuildtype=debug $(MESON_FLAGS)

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-30}

bench: build
	$(BUILD)/cact bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) out
