# fakecloud.sh - a private fake nRF Cloud API for one test (source this file).
#
#   fakecloud_start DIR [ARGS...]  API key in DIR/api.key (0600), starts
#                                  tests/fakecloud/fakecloud.py on a free loopback
#                                  port; exports CLOUD_URL, CLOUD_PID; log in DIR/cloud.log
#   fakecloud_stop                 SIGTERM and wait
#   fakecloud_ctl JSON             POST /_fake/control (switches: rate_limit, fail_5xx,
#                                  slow, row_errors, existing)
#   fakecloud_state                GET /_fake/state (devices, public_keys, bulk_ops)
#   fakecloud_log                  GET /_fake/log (one entry per request)
FAKECLOUD_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../fakecloud" && pwd)/fakecloud.py

fakecloud_start() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	if [ ! -s "$dir/api.key" ]; then
		(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/api.key")
	fi
	rm -f "$dir/cloud.port"
	/usr/bin/python3 "$FAKECLOUD_PY" --api-key-file "$dir/api.key" --port-file "$dir/cloud.port" \
		"$@" 2>>"$dir/cloud.log" &
	CLOUD_PID=$!
	for i in $(seq 1 200); do
		[ -s "$dir/cloud.port" ] && break
		kill -0 "$CLOUD_PID" 2>/dev/null || { echo "fakecloud exited at start:" >&2; tail -5 "$dir/cloud.log" >&2; return 1; }
		sleep 0.05
	done
	[ -s "$dir/cloud.port" ] || { echo "fakecloud did not start" >&2; return 1; }
	CLOUD_URL=http://127.0.0.1:$(cat "$dir/cloud.port")
	export CLOUD_URL CLOUD_PID
}

fakecloud_stop() {
	[ -n "${CLOUD_PID:-}" ] || return 0
	kill -TERM "$CLOUD_PID" 2>/dev/null
	wait "$CLOUD_PID" 2>/dev/null
	CLOUD_PID=
}

fakecloud_ctl() { curl -sf -X POST --data-binary "$1" "$CLOUD_URL/_fake/control" >/dev/null; }
fakecloud_state() { curl -sf "$CLOUD_URL/_fake/state"; }
fakecloud_log() { curl -sf "$CLOUD_URL/_fake/log"; }
