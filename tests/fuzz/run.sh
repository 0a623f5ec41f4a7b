#!/bin/sh
# Runs every libFuzzer harness of a -Dfuzz=true build for a few seconds each,
# starting from the committed corpus (new inputs go to a scratch folder).
set -eu
build=$1
seconds=${2:-30}
root=$(cd "$(dirname "$0")" && pwd)
status=0
for target in wire schema url sse chat jsonrpc jsoncheck; do
	bin="$build/tests/fuzz/fuzz_$target"
	scratch=$(mktemp -d)
	echo "fuzz_$target: $seconds s"
	if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		"$scratch" "$root/corpus/$target" >"$scratch.log" 2>&1; then
		tail -40 "$scratch.log"
		status=1
	else
		grep -E "^(#[0-9]+.*DONE|Done)" "$scratch.log" | tail -1 || true
	fi
	rm -rf "$scratch" "$scratch.log"
done
exit $status
