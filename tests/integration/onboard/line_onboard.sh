#!/bin/bash
# nrfca line --onboard end to end: several nrf91-sim boards through one line,
# a private nrfca-server (SoftHSM2) and the fake nRF Cloud.  Every device must
# reach nRF Cloud with the certificate its modem holds, each once; the line's
# options are provision's (one parser), so --profile nrf-cloud-jwt registers
# the boards' public keys the same way.  Usage: line_onboard.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
nrfca=$BUILD/bin/nrfca
for b in "$nrfca" "$BUILD/bin/nrf91-sim" "$BUILD/bin/nrfca-server" "$BUILD/bin/nrfca-admin" /usr/bin/python3; do
	[ -x "$b" ] || { echo "SKIP: $b not built or installed"; exit 77; }
done
for t in jq openssl curl; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
dir=$BUILD/tmp/lineonboard.$$
srv=$dir/srv
mkdir -p "$srv"
. "$src/tests/integration/onboard/lib.sh"

# the boards share one identity key, which the jwt profile trusts
start_sim b1 --imei 352656109483019 --identity-key "$dir/identity.key" --identity-pub-out "$dir/identity.pub"
p1=$port
for i in $(seq 1 50); do [ -s "$dir/identity.pub" ] && break; sleep 0.05; done
start_sim b2 --imei 352656109483027 --identity-key "$dir/identity.key"
p2=$port
start_sim b3 --imei 352656109483035 --identity-key "$dir/identity.key"
p3=$port
start_sim j1 --imei 352656109483043 --identity-key "$dir/identity.key"
pj=$port

cp -r "$src/policies/trust" "$dir/trust"
jq --arg id "$dir/identity.pub" '.profiles["nrf-cloud-jwt"].enabled = true
	| .profiles["nrf-cloud-jwt"].attestation.identity_keys = [$id]' \
	"$src/policies/default.json" >"$dir/policy.json"
server_setup "$srv" "$dir/policy.json" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1
fakecloud_start "$dir/cloud" || exit 1
key=$dir/cloud/api.key
queue=$dir/journal/onboard-queue.csv

# line WHAT PORTS... -- ARGS...: nrfca line --once --onboard; exit status in $rc
line() {
	local what=$1
	shift
	timeout 180 "$nrfca" line --once --plain --server "$SERVER_URL" --token-file "$srv/station.token" \
		--journal "$dir/journal" --onboard --api-key-file "$key" --cloud-endpoint "$CLOUD_URL" \
		"$@" >"$dir/stdout" 2>"$dir/stderr"
	rc=$?
	[ $rc = 0 ] && return 0
	fail "$what: exit $rc; $(tail -5 "$dir/stderr")"
	return 1
}
modem_cert_sha() {
	jq -r '.credentials[] | select(.sec_tag == 16842753 and .type == 1) | .content' "$dir/$1.json" |
		tr -d '\r' | openssl x509 -outform der 2>/dev/null | sha256sum | cut -d' ' -f1
}
cloud_cert_sha() {
	fakecloud_state | jq -r --arg d "$1" '.devices[$d].certPem // empty' |
		openssl x509 -outform der 2>/dev/null | sha256sum | cut -d' ' -f1
}
spki_sha() { openssl pkey -pubin -outform der 2>/dev/null | sha256sum | cut -d' ' -f1; }
empty_sha=$(: | sha256sum | cut -d' ' -f1)
uploaded_rows() { # PATH: rows sent in accepted uploads
	fakecloud_log | jq --arg p "$1" '[.[] | select(.method == "POST" and .path == $p and .status == 202) | .rows] | add // 0'
}

# ---- 1. three boards: each device in nRF Cloud with its modem's certificate, once ----
if line "line --onboard, 3 boards" --port "$p1" --port "$p2" --port "$p3"; then
	good=0
	for b in b1 b2 b3; do
		u=$(jq -r .uuid "$dir/$b.json")
		m=$(modem_cert_sha $b)
		[ "$m" != "$empty_sha" ] && [ "$m" = "$(cloud_cert_sha "$u")" ] && good=$((good + 1)) ||
			fail "board $b ($u): cloud certificate differs from the modem's"
		grep -q "nRF Cloud: $u onboarded (bulk operation" "$dir/stderr" ||
			fail "board $b: no onboarded line: $(grep -v "^nrfca: \[" "$dir/stderr" | head -20)"
	done
	[ $good = 3 ] && ok "line --onboard: the 3 devices are in nRF Cloud with their modems' certificates"
	[ "$(uploaded_rows /v1/devices)" = 3 ] && ok "each device uploaded once ($(fakecloud_log |
		jq '[.[] | select(.method == "POST" and .path == "/v1/devices")] | length') upload(s))" ||
		fail "rows uploaded: $(uploaded_rows /v1/devices)"
	[ ! -s "$queue" ] && ok "the queue is empty afterwards" || fail "queue left: $(cut -c1-60 "$queue")"
fi

# ---- 2. nRF Cloud down: the boards pass, the devices wait in the queue ----
fakecloud_stop
start_sim b4 --imei 352656109483050 --identity-key "$dir/identity.key"
if line "line --onboard, cloud down" --port "$port" --cloud-attempts 1; then
	u4=$(jq -r .uuid "$dir/b4.json")
	[ "$(modem_cert_sha b4)" != "$empty_sha" ] && grep -q "^$u4," "$queue" &&
		ok "cloud down: the board passed (exit 0) and its device waits in the queue" ||
		fail "cloud down: queue $(cut -c1-60 "$queue" 2>/dev/null)"
	grep -q "stays queued" "$dir/stderr" && ok "cloud down: the line says the device stays queued" ||
		fail "cloud down: $(grep 'nRF Cloud' "$dir/stderr")"
fi
fakecloud_start "$dir/cloud" || exit 1

# ---- 3. the line takes --profile nrf-cloud-jwt: public keys registered ----
if line "line --profile nrf-cloud-jwt --onboard" --port "$pj" --profile nrf-cloud-jwt; then
	uj=$(jq -r .uuid "$dir/j1.json")
	kj=$(jq -r '.credentials[] | select(.sec_tag == 16842753 and .type == 2) | .public_key_pem' "$dir/j1.json" | spki_sha)
	types=$(jq -c '[.credentials[] | select(.sec_tag == 16842753) | .type] | sort' "$dir/j1.json")
	[ "$types" = "[0,2]" ] && [ "$(fakecloud_state | jq -r --arg d "$uj" '.public_keys[$d] // empty' | spki_sha)" = "$kj" ] &&
		ok "line --profile nrf-cloud-jwt: no certificate written, nRF Cloud holds the modem's public key" ||
		fail "jwt line: modem $types, cloud $(fakecloud_state | jq -c '.public_keys | keys')"
	# the device left queued while the cloud was down went with this drain
	u4=$(jq -r .uuid "$dir/b4.json")
	[ "$(modem_cert_sha b4)" = "$(cloud_cert_sha "$u4")" ] && [ ! -s "$queue" ] &&
		ok "the device queued while the cloud was down was sent by the next line run" ||
		fail "queued device: queue $(cut -c1-60 "$queue" 2>/dev/null)"
fi

finish "line --onboard tests"
