#!/bin/sh
# Runs one agent sample:
#
#   examples/agent/run.sh [--batch] direct|provider|manual [PROMPT]
#
# With OPENAI_BASE_URL set, against that server (OPENAI_MODEL, and the key
# in OPENAI_API_KEY when it is set). Without it, against the scripted test
# server tests/agent/fake_openai.py playing examples/agent/NAME.script.json,
# which checks what the sample sends and answers as a model would; then
# run.sh fails if the server refused a request.
#
# --batch: nothing is asked on the terminal (stdin is /dev/null, so the
# manual sample denies). BUILD: the build folder (default: build).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
batch=0
if [ "${1:-}" = "--batch" ]; then
	batch=1
	shift
fi
name=${1:-}
case "$name" in
direct | provider | manual) shift ;;
*)
	echo "usage: $0 [--batch] direct|provider|manual [PROMPT]" >&2
	exit 2
	;;
esac

build=${BUILD:-$root/build}
case "$build" in
/*) ;;
*) build=$(pwd)/$build ;;
esac
bin=$build/examples/cact-sample-$name
if [ ! -x "$bin" ]; then
	echo "$0: $bin is missing: build it first (make samples, or ninja -C $build)" >&2
	exit 2
fi
CACT_GUEST=${CACT_GUEST:-$build/cact-guest}
export CACT_GUEST

run() {
	if [ "$batch" = 1 ]; then
		"$bin" "$@" </dev/null
	else
		"$bin" "$@"
	fi
}

if [ -n "${OPENAI_BASE_URL:-}" ]; then
	run "$@"
	exit
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cact-sample.XXXXXX")
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || :
		wait "$server" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

key=sample-key
/usr/bin/python3 -I "$root/tests/agent/fake_openai.py" --port-file "$tmp/port" \
	--script "$here/$name.script.json" --log "$tmp/log.jsonl" --api-key "$key" \
	--lifetime 300 </dev/null &
server=$!
tries=0
while [ ! -s "$tmp/port" ]; do
	tries=$((tries + 1))
	if [ "$tries" -gt 1000 ] || ! kill -0 "$server" 2>/dev/null; then
		echo "$0: the scripted test server did not start" >&2
		exit 1
	fi
	sleep 0.01
done

OPENAI_BASE_URL=http://127.0.0.1:$(cat "$tmp/port")/v1
OPENAI_MODEL=${OPENAI_MODEL:-scripted}
OPENAI_API_KEY=$key
export OPENAI_BASE_URL OPENAI_MODEL OPENAI_API_KEY
echo "run.sh: OPENAI_BASE_URL is not set: playing $name.script.json at $OPENAI_BASE_URL" >&2

status=0
run "$@" || status=$?
if ! /usr/bin/python3 -I - "$tmp/log.jsonl" <<'EOF'; then
import json, sys
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
bad = [json.loads(l)["failed"] for l in lines if json.loads(l)["failed"]]
for why in bad:
    print("run.sh: the scripted server refused a request:", why, file=sys.stderr)
if not lines:
    print("run.sh: the sample sent no request", file=sys.stderr)
sys.exit(1 if bad or not lines else 0)
EOF
	status=1
fi
exit "$status"
