#!/bin/bash
# nrfca provision --onboard end to end: nrf91-sim modems, a private nrfca-server
# (SoftHSM2) and the fake nRF Cloud; the device must appear in the cloud with the
# certificate its modem holds; a cloud failure never undoes the provisioning and
# the queue sends the device later, together with the next one.
# Usage: provision_onboard.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
nrfca=$BUILD/bin/nrfca
sim=$BUILD/bin/nrf91-sim
for b in "$nrfca" "$sim" "$BUILD/bin/nrfca-server" "$BUILD/bin/nrfca-admin" /usr/bin/python3; do
	[ -x "$b" ] || { echo "SKIP: $b not built or installed"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
dir=$BUILD/tmp/provonboard.$$
srv=$dir/srv
mkdir -p "$dir"
. "$src/tests/integration/lib/softhsm.sh"
. "$src/tests/integration/lib/server.sh"
. "$src/tests/integration/lib/sim.sh"
. "$src/tests/integration/lib/fakecloud.sh"
declare -A simpid=()
cleanup() {
	local p
	for p in "${simpid[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${simpid[@]}"; do wait "$p" 2>/dev/null; done
	server_stop
	fakecloud_stop
	rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $* [${SECONDS}s]"; }

mkdir -p "$srv"
server_setup "$srv" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1
fakecloud_start "$dir/cloud" || exit 1
key=$dir/cloud/api.key
queue=$dir/journal/onboard-queue.csv

start_sim() {
	local name=$1
	shift
	sim_start "$sim" "$dir/$name.json" "$dir/$name" "$@" || exit 1
	simpid[$name]=$SIM_PID
}
uuid_of() { printf '%08x-0000-4000-8000-%012x' "$1" "$1"; }

# prov WANT WHAT ARGS...: nrfca provision --onboard on $port
prov() {
	local want=$1 what=$2 rc
	shift 2
	timeout 120 "$nrfca" provision --port "$port" --server "$SERVER_URL" \
		--token-file "$srv/station.token" --journal "$dir/journal" --onboard \
		--api-key-file "$key" --cloud-endpoint "$CLOUD_URL" "$@" >"$dir/stdout" 2>"$dir/stderr"
	rc=$?
	out=$(cat "$dir/stdout")
	err=$(cat "$dir/stderr")
	[ "$rc" -eq "$want" ] && return 0
	fail "$what: exit $rc, expected $want; stdout: $out; stderr: $(tail -3 "$dir/stderr")"
	return 1
}
# modem_cert_sha NAME: SHA-256 of the DER of the client certificate the modem holds
modem_cert_sha() {
	jq -r '.credentials[] | select(.sec_tag == 16842753 and .type == 1) | .content' "$dir/$1.json" |
		tr -d '\r' | openssl x509 -outform der 2>/dev/null | sha256sum | cut -d' ' -f1
}
cloud_cert_sha() {
	fakecloud_state | jq -r --arg d "$1" '.devices[$d].certPem // empty' |
		openssl x509 -outform der 2>/dev/null | sha256sum | cut -d' ' -f1
}
empty_sha=$(: | sha256sum | cut -d' ' -f1)

# ---- 1. provisioned and onboarded: the cloud holds the modem's certificate ----
u1=$(uuid_of 101)
start_sim m1 --uuid "$u1" --imei 352656109481013
if prov 0 "provision --onboard"; then
	m=$(modem_cert_sha m1)
	c=$(cloud_cert_sha "$u1")
	[ "$m" != "$empty_sha" ] && [ "$m" = "$c" ] &&
		ok "device $u1 is in nRF Cloud with the certificate its modem holds" ||
		fail "cloud certificate $c != modem certificate $m"
	grep -q "nRF Cloud: $u1 onboarded (bulk operation" <<<"$out" && ok "the summary says onboarded" ||
		fail "summary: $out"
	[ ! -s "$queue" ] && ok "the queue is empty afterwards" || fail "queue left: $(head -1 "$queue")"
	[ "$(stat -c %a "$queue")" = 600 ] && ok "queue file mode 0600" || fail "queue mode $(stat -c %a "$queue")"
fi

# ---- 2. a wrong key stops the station before the modem is touched ----
(umask 077 && echo "not-the-key-123" >"$dir/wrong.key")
u2=$(uuid_of 102)
start_sim m2 --uuid "$u2" --imei 352656109481021
before=$(jq -c '.credentials' "$dir/m2.json" 2>/dev/null)
if timeout 60 "$nrfca" provision --port "$port" --server "$SERVER_URL" --token-file "$srv/station.token" \
	--journal "$dir/journal" --onboard --api-key-file "$dir/wrong.key" --cloud-endpoint "$CLOUD_URL" \
	>"$dir/stdout" 2>"$dir/stderr"; then
	fail "wrong key: exit 0"
else
	rc=$?
	[ $rc = 11 ] && grep -q "refused the API key" "$dir/stderr" && grep -q "modem was not touched" "$dir/stderr" &&
		ok "wrong key: exit 11 before the modem is touched" || fail "wrong key: rc $rc $(cat "$dir/stderr")"
	[ "$(jq '[.credentials[] | select(.sec_tag == 16842753)] | length' "$dir/m2.json")" = 0 ] &&
		ok "wrong key: nothing written to the modem" || fail "wrong key: the modem has credentials"
fi
chmod 644 "$dir/wrong.key"
timeout 60 "$nrfca" provision --port "$port" --server "$SERVER_URL" --token-file "$srv/station.token" \
	--journal "$dir/journal" --onboard --api-key-file "$dir/wrong.key" --cloud-endpoint "$CLOUD_URL" \
	>"$dir/stdout" 2>"$dir/stderr"
[ $? = 2 ] && grep -q "chmod 600" "$dir/stderr" && ok "a key file readable by others: exit 2 before the modem" ||
	fail "open key file: $(cat "$dir/stderr")"

# ---- 3. nRF Cloud down: provisioned anyway, queued; sent later with the next device ----
fakecloud_ctl '{"fail_5xx": 1000}'
if prov 0 "provision while nRF Cloud is down" --cloud-attempts 1; then
	[ "$(modem_cert_sha m2)" != "$empty_sha" ] && ok "cloud down: the device is provisioned (exit 0)" ||
		fail "cloud down: no certificate on the modem"
	grep -q "^$u2," "$queue" && grep -q "nRF Cloud: $u2 not onboarded yet" <<<"$out" &&
		grep -q "nrfca onboard --queue" <<<"$out" && ok "cloud down: the device waits in the queue, the way out is shown" ||
		fail "cloud down: queue $(head -c 100 "$queue" 2>/dev/null); out: $out"
	[ -z "$(cloud_cert_sha "$u2" | grep -v "$empty_sha")" ] || fail "cloud down: device already in the cloud?"
fi
fakecloud_ctl '{"fail_5xx": 0}'
u3=$(uuid_of 103)
start_sim m3 --uuid "$u3" --imei 352656109481039
if prov 0 "the next device, cloud back"; then
	last=$(fakecloud_log | jq '[.[] | select(.method == "POST" and .status == 202)][-1].rows')
	[ "$last" = 2 ] && ok "batching: the queued device and the new one went in one upload" ||
		fail "batching: last upload had $last rows"
	[ "$(modem_cert_sha m2)" = "$(cloud_cert_sha "$u2")" ] && [ "$(modem_cert_sha m3)" = "$(cloud_cert_sha "$u3")" ] &&
		ok "both devices are in nRF Cloud with their modems' certificates" || fail "certificates after the drain"
	[ ! -s "$queue" ] && ok "queue drained" || fail "queue: $(cat "$queue" | head -2)"
fi

# ---- 4. the queue drained by nrfca onboard --queue ----
fakecloud_ctl '{"fail_5xx": 1000}'
u4=$(uuid_of 104)
start_sim m4 --uuid "$u4" --imei 352656109481047
prov 0 "provision while nRF Cloud is down (2)" --cloud-attempts 1 && grep -q "^$u4," "$queue" || fail "not queued"
fakecloud_ctl '{"fail_5xx": 0}'
if timeout 60 "$nrfca" onboard --queue "$queue" --api-key-file "$key" --endpoint "$CLOUD_URL" \
	--poll-interval 0.1 >"$dir/stdout" 2>"$dir/stderr"; then
	[ "$(modem_cert_sha m4)" = "$(cloud_cert_sha "$u4")" ] && [ ! -s "$queue" ] &&
		ok "nrfca onboard --queue sent the waiting device" || fail "queue drain: $(cat "$dir/stdout")"
else
	fail "nrfca onboard --queue: exit $? $(cat "$dir/stderr")"
fi

echo "provision --onboard tests: $fails failure(s)"
[ $fails -eq 0 ]
