#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The container image (deploy/Containerfile), built from Debian 12 packages
# only by deploy/build-image.sh, then run as a container made by bubblewrap
# on the image's root filesystem (`podman image mount`), as user 10001 with
# every namespace of its own (docs/deploy.md says why not `podman run`):
#   1. with /proc as container runtimes give it (bwrap --proc: a procfs with
#      read-only mounts over parts of it), `cact doctor` must fail and say
#      so: "sandbox start: FAILED: fsmount proc: EPERM";
#   2. with a fully visible /proc, `cact doctor` reports full isolation and
#      `cact exec` runs one execution that prints 42.
# Builds an image (minutes: the packages come from the apt mirror), so it
# runs only when asked: CACT_TEST_IMAGE=1 (make image-test). Exit 77
# (skipped, with the reason) otherwise, when not root, or without podman,
# mmdebstrap or bwrap. No cgroup is made or changed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=${CACT_SOURCE_ROOT:-$here/../..}

if [ -z "${CACT_TEST_IMAGE:-}" ]; then
	echo "image: skipped: builds a container image from the apt mirror (minutes); run with CACT_TEST_IMAGE=1 (make image-test)"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "image: skipped: podman builds and mounts images here as root only"
	exit 77
fi
for p in podman mmdebstrap bwrap; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "image: skipped: $p is not installed (apt-get install podman mmdebstrap bubblewrap)"
		exit 77
	fi
done

tag=localhost/cact:image-test
out=$(mktemp "${TMPDIR:-/tmp}/cact-image-test.XXXXXX")
mounted=
cleanup() {
	rm -f "$out"
	[ -z "$mounted" ] || podman image unmount "$tag" >/dev/null 2>&1
	podman rmi -f "$tag" >/dev/null 2>&1
}
trap cleanup EXIT INT TERM
fail() {
	echo "image: FAIL: $*"
	sed 's/^/    /' "$out"
	exit 1
}

start=$(date +%s)
"$root/deploy/build-image.sh" "$tag" >"$out" 2>&1 || fail "deploy/build-image.sh failed"
echo "image: built $tag in $(($(date +%s) - start)) s"
mnt=$(podman image mount "$tag") || fail "podman image mount $tag failed"
mounted=1

# The image's root, read-only; the user and the environment of its USER
# and a /tmp as deploy/k8s gives it.
run() {
	procfs=$1
	shift
	timeout 300 bwrap --ro-bind "$mnt" / $procfs --dev /dev --tmpfs /tmp \
		--unshare-all --uid 10001 --gid 10001 --die-with-parent \
		--clearenv --setenv PATH /usr/bin:/bin --setenv HOME /nonexistent \
		/usr/bin/cact "$@"
}

# 1. /proc as a container runtime gives it: cact doctor must refuse.
run "--proc /proc" doctor >"$out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "cact doctor passed with a masked /proc; docs/deploy.md says it cannot"
grep -q "sandbox start: FAILED: fsmount proc: EPERM" "$out" ||
	fail "cact doctor did not name the procfs mount it could not make"
echo "image: with a masked /proc, cact doctor exits $rc and says: $(grep 'sandbox start' "$out")"

# 2. A fully visible /proc: full isolation, and one execution.
run "--bind /proc /proc" doctor >"$out" 2>&1 || fail "cact doctor failed with a fully visible /proc"
grep -q "isolation possible: full" "$out" || fail "cact doctor does not report full isolation"
grep -q "test execution: ok" "$out" || fail "cact doctor's test execution failed"
run "--bind /proc /proc" exec -c 'print(6 * 7)' >"$out" 2>&1 || fail "cact exec failed in the image"
[ "$(cat "$out")" = "42" ] || fail "cact exec printed something else than 42"
echo "image: in the image as user 10001: full isolation, cact exec printed 42"
