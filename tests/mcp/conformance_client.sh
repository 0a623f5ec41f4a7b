#!/bin/sh
# The MCP conformance suite's client scenarios, run against cact's client.
#
#   conformance_client.sh run SCENARIO    runs the suite's scenario (a Meson test);
#                                  exits 77 (skipped) when the peers are not
#                                  installed (scripts/install-deps)
#   conformance_client.sh client URL      the client command the suite runs: cact exec
#                                  with the scenario's server as --mcp-url
set -eu
root=${CACT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cli=$root/tests/peers/node_modules/@modelcontextprotocol/conformance/dist/index.js

case ${1:-} in
run)
	scenario=$2
	if ! command -v node >/dev/null 2>&1; then
		echo "skipped: node is not installed (scripts/install-deps)"
		exit 77
	fi
	if [ ! -f "$cli" ]; then
		echo "skipped: $cli is missing (scripts/install-deps installs tests/peers)"
		exit 77
	fi
	: "${CACT_BIN:?CACT_BIN is not set}"
	export CACT_BIN CACT_SOURCE_ROOT="$root"
	# tools_call's scenario server needs the shim with the SDK of tests/peers:
	# see conformance_client_shim.mjs.
	shim=
	if [ "$scenario" = tools_call ]; then
		shim="--import=$root/tests/mcp/conformance_client_shim.mjs"
	fi
	# The suite appends the server's URL to the command and runs it in a shell.
	exec node $shim "$cli" client --command "sh $root/tests/mcp/conformance_client.sh client" \
		--scenario "$scenario" --timeout 60000
	;;
client)
	url=$2
	case ${MCP_CONFORMANCE_SCENARIO:-} in
	initialize)
		# Connecting initializes and lists the tools; the code needs none.
		exec "$CACT_BIN" exec --mcp-url "test=$url" -c 'print("connected")'
		;;
	tools_call)
		exec "$CACT_BIN" exec --mcp-url "test=$url" \
			-c 'r = call_tool("test.add_numbers", a=2, b=3); print(r); assert "5" in str(r), r'
		;;
	sse-retry)
		# The answer comes on a resumed stream (GET with Last-Event-ID, after retry).
		exec "$CACT_BIN" exec --mcp-url "test=$url" \
			-c 'print(call_tool("test.test_reconnection"))'
		;;
	*)
		echo "conformance_client.sh: no client for scenario '${MCP_CONFORMANCE_SCENARIO:-}'" >&2
		exit 2
		;;
	esac
	;;
*)
	echo "usage: conformance_client.sh run SCENARIO | client URL" >&2
	exit 2
	;;
esac
