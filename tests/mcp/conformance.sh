#!/bin/sh
# SPDX-License-Identifier: MIT
#
# One server scenario of the MCP conformance suite (@modelcontextprotocol/
# conformance, installed by scripts/install-deps in tests/peers) against
# `cact mcp --http 127.0.0.1:0`: starts the server on a free port with a small
# configuration, runs the scenario, stops the server with SIGTERM and checks
# that it stopped cleanly. Exit status: the suite's (0 when every check passed).
#
#   tests/mcp/conformance.sh SCENARIO
set -u

scenario=${1:?usage: conformance.sh SCENARIO}
here=$(cd "$(dirname "$0")" && pwd)
root=${CACT_SOURCE_ROOT:-$here/../..}
cact=${CACT_BIN:-$root/build/cact}
suite=$root/tests/peers/node_modules/@modelcontextprotocol/conformance/dist/index.js

if ! command -v node >/dev/null 2>&1; then
	echo "conformance: node is not installed (scripts/install-deps)" >&2
	exit 1
fi
if [ ! -f "$suite" ]; then
	echo "conformance: the suite is not installed at $suite (scripts/install-deps)" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/cact-conformance.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

cat >"$dir/cact.json" <<'EOF'
{
  "tools": [
    {
      "name": "lookup",
      "description": "Look a key up.",
      "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
      "command": ["python3", "-c", "import json,sys; a=json.load(sys.stdin); print(json.dumps({'key': a['key']}))"]
    }
  ]
}
EOF

"$cact" mcp --http 127.0.0.1:0 --config "$dir/cact.json" --expose-tools 2>"$dir/stderr" &
pid=$!
url=
i=0
while [ $i -lt 200 ]; do
	url=$(sed -n 's/^cact mcp: serving \(http:[^ ]*\)$/\1/p' "$dir/stderr")
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$url" ]; then
	echo "conformance: cact mcp did not start:" >&2
	cat "$dir/stderr" >&2
	exit 1
fi

(cd "$dir" && node "$suite" server --url "$url" --scenario "$scenario")
status=$?

kill -TERM "$pid"
wait "$pid"
server=$?
pid=
if [ $server -ne 0 ]; then
	echo "conformance: cact mcp exited with $server after SIGTERM:" >&2
	cat "$dir/stderr" >&2
	[ $status -eq 0 ] && status=1
fi
exit $status
