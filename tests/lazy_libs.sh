#!/bin/sh
# libcurl and libmicrohttpd load at their first use (lib/util/lazy.h): the
# library does not name them, and a command that makes no HTTP request and
# serves none never maps them.
set -eu
lib=$1
cact=$2
needed=$(readelf -d "$lib" | grep NEEDED || true)
case $needed in
*libcurl* | *libmicrohttpd*)
	echo "$lib links them at load:"
	echo "$needed"
	exit 1
	;;
esac
for cmd in "--version" "exec -c print(1)"; do
	# shellcheck disable=SC2086 # the command's words
	loaded=$(LD_DEBUG=files "$cact" $cmd 2>&1 >/dev/null | grep -E 'file=(libcurl|libmicrohttpd)' || true)
	if [ -n "$loaded" ]; then
		echo "cact $cmd loaded:"
		echo "$loaded"
		exit 1
	fi
done
# And the first request does load libcurl (a refused one: no network needed).
if ! LD_DEBUG=files "$cact" exec --allow-domain example.invalid \
	-c "http_get('https://example.invalid/')" 2>&1 >/dev/null | grep -q 'file=libcurl'; then
	echo "a request did not load libcurl"
	exit 1
fi
echo "libcurl and libmicrohttpd: loaded only when used"
