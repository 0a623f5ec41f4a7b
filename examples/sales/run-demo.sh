#!/bin/sh
# The README's demo: runs examples/sales/report.py in the sandbox with the
# sales data mounted read-only at /input, and saves what it writes to
# /output into out/demo.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
mkdir -p out
echo "== cact exec --workspace examples/sales/data --output-dir out/demo examples/sales/report.py"
"$build/cact" exec --workspace examples/sales/data --output-dir out/demo --force \
	examples/sales/report.py
echo
echo "== out/demo/report.md"
cat out/demo/report.md
