#!/bin/sh
# The install, checked from outside the tree: configures a build of
# SOURCE_ROOT for a prefix under a temporary folder, installs into that
# prefix (no DESTDIR, so the paths compiled in are the real ones), then
# from another folder with an empty environment and no LD_LIBRARY_PATH:
# `cact doctor`, one `cact exec`, and a small program built against the
# installed cact.pc that runs one execution through libcact. It also stages
# the same build with --destdir and checks that the staged tree is the same
# and still points at the final prefix.
#
#   sh tests/install.sh SOURCE_ROOT BUILD_ROOT
#
# BUILD_ROOT is the calling build's (unused: that build is configured for
# its own prefix). Takes about a minute of CPU, most of it the build.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: sh tests/install.sh SOURCE_ROOT BUILD_ROOT" >&2
	exit 2
fi
src=$(cd "$1" && pwd)

# The test environment points at the build tree's copies: the installed
# ones must be what runs.
unset CACT_GUEST CACT_BIN LD_LIBRARY_PATH

for tool in meson ninja pkg-config cc readelf; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install: $tool is missing (scripts/install-deps)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cact-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
prefix=$tmp/prefix
elsewhere=$tmp/elsewhere
mkdir "$elsewhere"
# What a login shell would have, and nothing of this process's environment.
clean="env -i PATH=/usr/bin:/bin"

start=$(date +%s)
step() {
	echo "install: [$(($(date +%s) - start)) s] $*"
}
fail() {
	echo "install: FAIL: $*" >&2
	exit 1
}

step "configure and build for --prefix=$prefix"
timeout 60 meson setup "$tmp/build" "$src" --prefix="$prefix" -Dtests=false \
	>"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; fail "meson setup"; }
timeout 900 ninja -C "$tmp/build" -j 2 >"$tmp/build.log" 2>&1 ||
	{ tail -n 40 "$tmp/build.log" >&2; fail "ninja"; }
step "meson install"
timeout 60 meson install -C "$tmp/build" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "meson install"; }

# libdir is lib/<triplet> on Debian: ask the installed tree.
pc=$(find "$prefix" -name cact.pc | head -n 1)
[ -n "$pc" ] || fail "no cact.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/cact libexec/cact/cact-guest include/cact/cact.h share/man/man1/cact.1; do
	[ -f "$prefix/$f" ] || fail "$prefix/$f is not installed"
done
for f in libcact.so libcact.so.0 pkgconfig/cact.pc; do
	[ -e "$libdir/$f" ] || fail "$libdir/$f is not installed"
done
soname=$(readelf -d "$libdir/libcact.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libcact.so.0 ] || fail "libcact's soname is '$soname', not libcact.so.0"
runpath=$(readelf -d "$prefix/bin/cact" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p')
[ "$runpath" = "$libdir" ] || fail "the installed cact's RUNPATH is '$runpath', not $libdir"

# From a folder with no cact in it, so that neither the working directory
# nor "next to the executable" can find a build tree's copy.
cd "$elsewhere"
step "cact doctor, from $elsewhere, env -i"
$clean timeout 120 "$prefix/bin/cact" doctor >"$tmp/doctor.log" 2>&1 ||
	{ cat "$tmp/doctor.log" >&2; fail "cact doctor"; }
step "cact exec -c 'print(1)', found on PATH, env -i"
out=$($clean PATH="$prefix/bin:/usr/bin:/bin" timeout 60 cact exec -c 'print(1)') ||
	fail "cact exec exited $?"
[ "$out" = 1 ] || fail "cact exec printed '$out', not 1"

step "a program built with pkg-config --cflags --libs cact"
cat >hello.c <<'EOF'
#include <stdio.h>
#include <string.h>

#include <cact/cact.h>

/* One execution through the installed library; prints the code's stdout. */
int main(void)
{
	static const char code[] = "print(6 * 7)";
	struct cact_runtime_options opts;
	struct cact_runtime *rt = NULL;
	struct cact_request *req = NULL;
	struct cact_result *res = NULL;
	struct cact_error err = { 0 };
	const char *out;
	size_t len = 0;
	int rc = 1;

	cact_runtime_options_init(&opts);
	opts.one_shot = 1;
	if (cact_runtime_new(&opts, &rt, &err) || cact_request_new(&req) ||
	    cact_request_set_code(req, code, strlen(code), &err) ||
	    cact_runtime_run(rt, req, &res, &err)) {
		fprintf(stderr, "hello: %s\n", err.message);
		goto out;
	}
	out = cact_result_stdout(res, &len, NULL);
	fwrite(out, 1, len, stdout);
	rc = cact_result_status(res) == CACT_STATUS_OK ? 0 : 1;
out:
	cact_result_free(res);
	cact_request_free(req);
	cact_runtime_free(rt);
	return rc;
}
EOF
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs cact) ||
	fail "pkg-config cact"
# The prefix is not on the loader's path: the program carries its RUNPATH,
# as cact does.
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -o hello hello.c $flags -Wl,-rpath,"$libdir" ||
	fail "cc hello.c $flags"
out=$($clean timeout 60 ./hello) || fail "hello exited $?"
[ "$out" = 42 ] || fail "hello printed '$out', not 42"

# DESTDIR stages the same tree, still built for the final prefix.
step "meson install --destdir"
timeout 60 meson install -C "$tmp/build" --destdir "$tmp/stage" >"$tmp/stage.log" 2>&1 ||
	{ cat "$tmp/stage.log" >&2; fail "meson install --destdir"; }
(cd "$prefix" && find . | sort) >"$tmp/prefix.list"
(cd "$tmp/stage$prefix" && find . | sort) >"$tmp/stage.list"
cmp -s "$tmp/prefix.list" "$tmp/stage.list" ||
	fail "the staged tree differs: $(diff "$tmp/prefix.list" "$tmp/stage.list" | head -n 5)"
grep -q "$prefix/libexec/cact" "$tmp/stage$libdir/libcact.so.0" ||
	fail "the staged libcact does not look for cact-guest in $prefix/libexec/cact"

step "ok"
