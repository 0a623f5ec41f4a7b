#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Builds the cact container image from Debian 12 packages only, with no
# container registry: mmdebstrap makes a minimal bookworm root from the apt
# mirror, `podman import` turns it into the base image, and `podman build`
# runs deploy/Containerfile on it. The base is made once and reused.
#
#   deploy/build-image.sh [TAG]        TAG defaults to localhost/cact:latest
#
# Environment:
#   CACT_DEBIAN_MIRROR  the apt mirror (default http://deb.debian.org/debian;
#                       its -security sibling is used for security updates)
#   CACT_BASE_IMAGE     the base's tag (default localhost/cact-debian:bookworm)
#   CACT_REBUILD_BASE   set: make the base again even when it exists
#
# Needs root, podman and mmdebstrap (apt-get install podman mmdebstrap). The
# build runs with chroot isolation and the host's network: no cgroup and no
# network namespace are made for it.
set -eu

tag=${1:-localhost/cact:latest}
base=${CACT_BASE_IMAGE:-localhost/cact-debian:bookworm}
mirror=${CACT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(cd "$(dirname "$0")/.." && pwd)

for p in podman mmdebstrap; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "build-image: $p is not installed (apt-get install podman mmdebstrap)" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/cact-image.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

if [ -n "${CACT_REBUILD_BASE:-}" ] || ! podman image exists "$base"; then
	echo "build-image: making $base from $mirror (mmdebstrap)"
	mmdebstrap --quiet --variant=minbase bookworm "$dir/base.tar" \
		"deb $mirror bookworm main" \
		"deb $mirror bookworm-updates main" \
		"deb ${mirror%/debian}/debian-security bookworm-security main"
	podman import --quiet --change 'CMD ["/bin/bash"]' "$dir/base.tar" "$base" >/dev/null
	rm -f "$dir/base.tar"
fi

# The context: the files git knows (tracked, or new and not ignored), so
# that no build folder or local state goes into the image.
mkdir "$dir/ctx"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$dir/ctx"

echo "build-image: building $tag on $base"
podman build --quiet --isolation=chroot --network=host \
	--build-arg BASE="$base" -f "$dir/ctx/deploy/Containerfile" -t "$tag" "$dir/ctx" >/dev/null
echo "build-image: built $tag"
