#!/bin/sh
# The Python package's tests: builds python/ into a fresh virtual
# environment with the README's install command, then runs its pytest
# suite (python/tests) with that environment's interpreter.
#
#   sh tests/python.sh [BUILD]
#
# BUILD (default build) is the C build whose cact CLI some tests compare
# the package with (cact exec --json, cact agent); they skip, saying so,
# when it is missing. Everything goes to build-python/: venv/ (made afresh
# on every run), meson/ (the package's Meson build, reused between runs so
# that a second run compiles only what changed) and junit.xml, pytest's
# report, which .ci/run counts. PYTHON (default Debian's /usr/bin/python3,
# which has python3-mesonpy and python3-pytest) makes the environment.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -eq 0 ] || shift
case $build in /*) ;; *) build=$root/$build ;; esac
out=$root/build-python
python=${PYTHON:-/usr/bin/python3}

mkdir -p "$out"
rm -rf "$out/venv" "$out/junit.xml"
echo "tests/python.sh: building the package into $out/venv"
"$python" -m venv --system-site-packages "$out/venv"
"$out/venv/bin/pip" install --quiet --no-index --no-build-isolation \
	--config-settings=builddir="$out/meson" "$root/python"

if [ -x "$build/cact" ]; then
	CACT_BIN=$build/cact
	export CACT_BIN
fi
# Run from outside the source tree, so that the installed package is the
# one imported, never python/src.
cd "$out"
exec "$out/venv/bin/python" -m pytest -p no:cacheprovider -rs --durations=10 \
	--junitxml="$out/junit.xml" -o junit_family=xunit2 "$root/python/tests" "$@"
