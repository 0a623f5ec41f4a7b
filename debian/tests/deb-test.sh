#!/bin/sh
# make deb-test (not an autopkgtest): checks the packages make deb left in
# DIR. lintian must report no error or warning; each package must hold its
# files; then, as root and when no cact package is installed already, the
# packages are installed with dpkg -i, the autopkgtests of debian/tests run
# against them (smoke: cact doctor and one execution; build: a program
# built with pkg-config cact), and dpkg -P removes them again, pass or fail.
#
#   sh debian/tests/deb-test.sh DIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: sh debian/tests/deb-test.sh DIR" >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
pkgs="libcact0 cact libcact-dev"

fail() {
	echo "deb-test: FAIL: $*" >&2
	exit 1
}

# The first file DIR holds for a glob, or nothing.
first() {
	for f in "$dir"/$1; do
		[ -e "$f" ] && echo "$f"
		return 0
	done
}
changes=$(first 'cact_*.changes')
[ -n "$changes" ] || fail "no cact_*.changes in $dir (run make deb)"

tmp=$(mktemp -d)
installed=0
cleanup() {
	if [ "$installed" -eq 1 ]; then
		echo "deb-test: dpkg -P $pkgs"
		# shellcheck disable=SC2086
		dpkg -P $pkgs >/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "deb-test: lintian $changes"
rc=0
lintian --fail-on error,warning "$changes" >"$tmp/lintian.log" 2>&1 || rc=$?
# Root is what CI runs as; lintian only advises against it.
grep -v "^running with root privileges" "$tmp/lintian.log" || true
[ "$rc" -eq 0 ] || fail "lintian exited $rc"

# What each package must hold, one path a line (a leading ./ as in dpkg-deb -c).
expect() {
	case $1 in
	cact) printf '%s\n' ./usr/bin/cact ./usr/libexec/cact/cact-guest \
		./usr/share/man/man1/cact.1.gz ;;
	libcact0) printf '%s\n' ./usr/lib/*/libcact.so.0 ./usr/lib/*/libcact.so.0.* ;;
	libcact-dev) printf '%s\n' ./usr/include/cact/cact.h ./usr/lib/*/libcact.so \
		./usr/lib/*/pkgconfig/cact.pc ;;
	esac
}
for p in $pkgs; do
	deb=$(first "${p}_*.deb")
	[ -n "$deb" ] || fail "no $p package in $dir"
	dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/$p.contents"
	# The patterns hold a * for the multiarch folder or the version: no
	# pathname expansion of them here.
	set -f
	for want in $(expect "$p"); do
		found=0
		while read -r f; do
			# shellcheck disable=SC2254
			case $f in $want) found=1 ;; esac
		done <"$tmp/$p.contents"
		[ "$found" -eq 1 ] || fail "$p lacks $want"
	done
	set +f
	echo "deb-test: $p holds its files"
done
if grep -q 'lib.*libcact' "$tmp/cact.contents"; then
	fail "cact holds a copy of the library"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deb-test: install check skipped: dpkg -i needs root"
	exit 0
fi
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		echo "deb-test: install check skipped: $p is installed on this machine already"
		exit 0
	fi
done

echo "deb-test: dpkg -i"
installed=1
# shellcheck disable=SC2046
dpkg -i $(for p in $pkgs; do first "${p}_*.deb"; done) >/dev/null ||
	fail "dpkg -i"
for t in smoke build; do
	echo "deb-test: debian/tests/$t"
	mkdir "$tmp/$t"
	AUTOPKGTEST_TMP=$tmp/$t sh "$here/$t" || fail "debian/tests/$t"
done
echo "deb-test: ok"
