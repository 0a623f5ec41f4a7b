#!/bin/sh
# Fails when the shared library exports a symbol outside the cact_ namespace.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^cact_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^cact_' || true)
if [ -n "$bad" ]; then
	echo "symbols outside cact_ exported by $lib:"
	echo "$bad"
	exit 1
fi
if [ "$count" -lt 20 ]; then
	echo "only $count cact_ symbols exported by $lib: the public API is missing"
	exit 1
fi
echo "$count cact_ symbols, nothing else"
