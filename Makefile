# Convenience front end over Meson. `make demo` and `make test` are the two
# set-up commands of the README: each installs what is missing, builds, and
# runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON_FLAGS ?=
# make install: GNU conventions. The build for it is configured for PREFIX
# (the paths compiled in must be the final ones); DESTDIR only stages.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_BUILD ?= build-install
# make deb: dpkg-buildpackage runs on a copy of the tree in DEB_BUILD and
# leaves the packages there, next to the copy.
DEB_BUILD ?= build-deb

.PHONY: all deps build demo test test-python image-test samples test-asan fuzz bench bench-python \
	clean format install uninstall deb deb-test

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

# The Python package (python/): installed into a fresh virtual environment
# in build-python/ with the README's command, then its pytest suite, with
# the cact CLI of $(BUILD) to compare against (tests/python.sh).
test-python: build
	sh tests/python.sh $(BUILD)

# The container image built from Debian packages (deploy/build-image.sh: the
# base from the apt mirror, minutes) and run (docs/deploy.md). Root, podman,
# mmdebstrap and bubblewrap; not part of `make test`.
image-test: build
	CACT_TEST_IMAGE=1 meson test -C $(BUILD) deploy.image --print-errorlogs -v

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

# The Python package's benchmark (bench/python_tools.py), in the
# environment make test-python made.
bench-python:
	@[ -x build-python/venv/bin/python ] || { echo "run make test-python first"; exit 1; }
	build-python/venv/bin/python bench/python_tools.py

# cact, cact-guest, libcact, the headers, cact.pc and the man page into
# PREFIX (README.md, "Install"). The installed cact finds libcact through
# its RUNPATH (none for /usr) and cact-guest in PREFIX/libexec/cact. Run as
# root without DESTDIR, ldconfig then refreshes the loader's cache for
# other programs linked against libcact.
install:
	@scripts/install-deps --build
	@if [ ! -f $(INSTALL_BUILD)/build.ninja ]; then \
		echo "meson setup $(INSTALL_BUILD) --prefix=$(PREFIX) -Dtests=false $(MESON_FLAGS)"; \
		meson setup $(INSTALL_BUILD) --prefix=$(PREFIX) -Dtests=false $(MESON_FLAGS); \
	else \
		meson configure $(INSTALL_BUILD) -Dprefix=$(PREFIX) >/dev/null; \
	fi
	ninja -C $(INSTALL_BUILD)
	meson install -C $(INSTALL_BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(abspath $(DESTDIR))")
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then \
		ldconfig; \
	fi

# Removes what the last make install (without DESTDIR) installed.
uninstall:
	ninja -C $(INSTALL_BUILD) uninstall

# The Debian packages cact, libcact0 and libcact-dev (debian/), built from
# the files of this tree git knows or does not ignore, copied to
# $(DEB_BUILD)/cact; the .deb files land in $(DEB_BUILD).
deb: deps
	rm -rf $(DEB_BUILD)
	mkdir -p $(DEB_BUILD)/cact
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ ! -e "$$f" ] || printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -C $(DEB_BUILD)/cact -xf -
	cd $(DEB_BUILD)/cact && dpkg-buildpackage -us -uc -b
	@ls $(DEB_BUILD)/*.deb

# The packages checked: lintian, their contents, and (as root, when no cact
# package is installed) dpkg -i, the autopkgtests of debian/tests, dpkg -P.
deb-test: deb
	sh debian/tests/deb-test.sh $(DEB_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(INSTALL_BUILD) $(DEB_BUILD) build-python out
