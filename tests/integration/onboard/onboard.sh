#!/bin/bash
# nrfca onboard against the fake nRF Cloud API (tests/fakecloud): 1, 2,500 and
# 0 devices, per-row errors mapped to the right devices, retries on 429/5xx,
# slow bulk operations, --check, a wrong key, the key kept secret, public
# keys, the queue.  Usage: onboard.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
nrfca=$BUILD/bin/nrfca
mk=$BUILD/tests/fakecloud_mkdevices
for b in "$nrfca" "$mk" /usr/bin/python3; do
	[ -x "$b" ] || { echo "SKIP: $b not built or installed"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
dir=$BUILD/tmp/onboard.$$
mkdir -p "$dir"
. "$src/tests/integration/onboard/lib.sh"

fakecloud_start "$dir" || exit 1
key=$(cat "$dir/api.key")

# onb WANT WHAT ARGS...: nrfca onboard against the fake cloud
onb() {
	local want=$1 what=$2 rc
	shift 2
	timeout 120 "$nrfca" onboard --api-key-file "$dir/api.key" --endpoint "$CLOUD_URL" \
		--poll-interval 0.1 "$@" >"$dir/stdout" 2>"$dir/stderr"
	rc=$?
	out=$(cat "$dir/stdout")
	err=$(cat "$dir/stderr")
	if [ "$rc" -ne "$want" ]; then
		fail "$what: exit $rc, expected $want; stderr: $(tail -3 "$dir/stderr")"
		return 1
	fi
	return 0
}
posts() { fakecloud_log | jq "[.[] | select(.method == \"POST\" and .path == \"$1\" and .status == 202)] | length"; }
result_of() { awk -F, -v d="$2" '$1 == d { print $2 }' "$1"; }
der_sha() { openssl x509 -outform der 2>/dev/null | sha256sum | cut -d' ' -f1; }
# pem_of FILE [BEGIN-LABEL]: the first PEM block of a CSV, without the CSV around it
pem_of() {
	local label=${2:-CERTIFICATE}
	sed -n "/BEGIN $label/,/END $label/p" "$1" | sed -e "s/^.*-----BEGIN/-----BEGIN/" \
		-e 's/-----"$/-----/' | sed -n "1,/END $label/p"
}

# ---- 1 device: onboarded, with the certificate of the file ----
"$mk" 1 "$dir/one.csv" --prefix one-
if onb 0 "1 device" --csv "$dir/one.csv" --results "$dir/one.res"; then
	st=$(fakecloud_state)
	want=$(pem_of "$dir/one.csv" | der_sha)
	got=$(jq -r '.devices["one-000001"].certPem' <<<"$st" | der_sha)
	[ "$want" != "$(: | sha256sum | cut -d' ' -f1)" ] && [ "$want" = "$got" ] && ok "1 device: in the cloud with its certificate" ||
		fail "1 device: cloud has $got, file $want"
	[ "$(result_of "$dir/one.res" one-000001)" = OK ] && ok "1 device: result OK" ||
		fail "1 device: results $(cat "$dir/one.res")"
	[ "$(posts /v1/devices)" = 1 ] && ok "1 device: one upload" || fail "1 device: $(posts /v1/devices) uploads"
	jq -e '[.[] | select(.method == "POST")][0].content_type == "text/csv"' <<<"$(fakecloud_log)" >/dev/null &&
		ok "upload is text/csv" || fail "upload content type"
fi

# ---- 0 devices: nothing sent ----
: >"$dir/empty.csv"
before=$(posts /v1/devices)
onb 0 "0 devices" --csv "$dir/empty.csv" && [ "$(posts /v1/devices)" = "$before" ] &&
	grep -q "0 OK" <<<"$out" && ok "0 devices: no upload, exit 0" || fail "0 devices: $out"

# ---- 2,500 devices (with a header row): 3 uploads; per-row errors mapped ----
"$mk" 2500 "$dir/big.body" --prefix big-
{ echo "deviceId,subType,tags,fwTypes,certPem"; cat "$dir/big.body"; } >"$dir/big.csv"
# an error in the 2nd and the 3rd upload, and a device that exists with another certificate
fakecloud_ctl "$(jq -n --arg pem "$(pem_of "$dir/one.csv")" \
	'{row_errors: {"big-001500": "Bad subType for big-001500", "big-002500": "Last row refused"},
	  existing: [{id: "big-000007", certPem: $pem}]}')"
before=$(posts /v1/devices)
if onb 11 "2,500 devices with row errors" --csv "$dir/big.csv" --results "$dir/big.res"; then
	[ $(($(posts /v1/devices) - before)) = 3 ] && ok "2,500 devices: 3 uploads" ||
		fail "2,500 devices: $(($(posts /v1/devices) - before)) uploads"
	rows=$(fakecloud_log | jq -c '[.[] | select(.method == "POST" and .status == 202) | .rows] | .[-3:]')
	[ "$rows" = "[1000,1000,500]" ] && ok "2,500 devices: 1000+1000+500 rows" || fail "rows per upload $rows"
	[ "$(result_of "$dir/big.res" big-001500)" = ERROR ] &&
		grep -q '^big-001500,ERROR,1501,.*"Bad subType for big-001500"' "$dir/big.res" &&
		[ "$(result_of "$dir/big.res" big-002500)" = ERROR ] &&
		grep -q '^big-002500,ERROR,2501,.*"Last row refused"' "$dir/big.res" &&
		[ "$(result_of "$dir/big.res" big-000007)" = ERROR ] &&
		grep -q '^big-000007,ERROR,8,.*already exists in account with different attributes' "$dir/big.res" &&
		ok "per-row errors land on the right devices and rows (header and split offsets)" ||
		fail "per-row errors: $(grep -v ',OK,' "$dir/big.res" | head -5)"
	[ "$(grep -c ',OK,' "$dir/big.res")" = 2497 ] && [ "$(($(wc -l <"$dir/big.res") - 1))" = 2500 ] &&
		ok "2,500 devices: the other 2,497 OK" || fail "OK rows: $(grep -c ',OK,' "$dir/big.res")"
	[ "$(fakecloud_state | jq '[.devices | keys[] | select(startswith("big-"))] | length')" = 2498 ] &&
		ok "2,500 devices: the cloud holds the 2,497 + the one that existed" || fail "cloud devices"
	grep -q "big-001500: ERROR: Bad subType" <<<"$err" && ok "problems shown on stderr" || fail "stderr: $err"
	jq -e '[.[] | select(.summary)] | length > 0 and all(.auth == "none")' <<<"$(fakecloud_log)" >/dev/null &&
		ok "error summary fetched without the API key" || fail "error summary fetched with a key"
fi
fakecloud_ctl '{"row_errors": {}}'

# ---- --check: existing devices are reported, not sent ----
"$mk" 3 "$dir/new3.csv" --prefix chk-
{ cat "$dir/one.csv" "$dir/new3.csv"; } >"$dir/mixed.csv"
before=$(posts /v1/devices)
if onb 0 "--check" --csv "$dir/mixed.csv" --check --results "$dir/chk.res"; then
	[ "$(result_of "$dir/chk.res" one-000001)" = EXISTS ] &&
		[ "$(grep -c ',OK,' "$dir/chk.res")" = 3 ] && ok "--check: existing device EXISTS, new ones OK" ||
		fail "--check results: $(cat "$dir/chk.res")"
	last=$(fakecloud_log | jq '[.[] | select(.method == "POST" and .status == 202)][-1].rows')
	[ "$last" = 3 ] && ok "--check: only the 3 new devices sent" || fail "--check sent $last rows"
	grep -q "1 already onboarded" <<<"$out" && ok "--check: summary says already onboarded" || fail "$out"
fi

# ---- retries: 429 with Retry-After, then 5xx ----
"$mk" 2 "$dir/retry.csv" --prefix retry-
fakecloud_ctl '{"rate_limit": 1, "retry_after": 2, "fail_5xx": 1}'
t0=$(date +%s.%N)
if onb 0 "retries" --csv "$dir/retry.csv"; then
	el=$(echo "$(date +%s.%N) - $t0" | bc)
	n429=$(fakecloud_log | jq '[.[] | select(.status == 429)] | length')
	n5xx=$(fakecloud_log | jq '[.[] | select(.status >= 500)] | length')
	[ "$n429" -ge 1 ] && [ "$n5xx" -ge 1 ] && [ "$(grep -c "retrying in 2.0 s" <<<"$err")" = 2 ] &&
		grep -q "HTTP 429" <<<"$err" && grep -q "HTTP 503" <<<"$err" &&
		ok "retries: 429 and 503 retried after their Retry-After, then onboarded" ||
		fail "retries: 429=$n429 5xx=$n5xx err=$err"
	[ "$(echo "$el >= 4" | bc)" = 1 ] && ok "retries: waited at least the two Retry-After" || fail "waited only $el s"
fi
fakecloud_ctl '{"retry_after": 1, "fail_5xx": 50}'
"$mk" 2 "$dir/down.csv" --prefix down-
if onb 12 "5xx after all attempts" --csv "$dir/down.csv" --attempts 2 --results "$dir/down.res"; then
	[ "$(result_of "$dir/down.res" down-000001)" = NOT_SENT ] && grep -q "not reachable after 2 attempts" <<<"$err" &&
		ok "cloud down: exit 12, devices NOT_SENT" || fail "cloud down: $(cat "$dir/down.res") $err"
fi
fakecloud_ctl '{"fail_5xx": 0}'

# ---- slow bulk operations ----
"$mk" 2 "$dir/slow.csv" --prefix slow-
fakecloud_ctl '{"slow": 4}'
onb 0 "slow IN_PROGRESS" --csv "$dir/slow.csv" && grep -q "2 OK" <<<"$out" &&
	ok "slow: polled through IN_PROGRESS until SUCCEEDED" || fail "slow: $out"
fakecloud_ctl '{"slow": 100000}'
"$mk" 1 "$dir/slower.csv" --prefix slower-
if onb 12 "bulk operation never finishes" --csv "$dir/slower.csv" --wait 1 --results "$dir/slower.res"; then
	[ "$(result_of "$dir/slower.res" slower-000001)" = UNCONFIRMED ] &&
		grep -q "still IN_PROGRESS" "$dir/slower.res" && ok "slow: gives up after --wait, UNCONFIRMED" ||
		fail "slower: $(cat "$dir/slower.res")"
fi

# ---- the key stays secret: not in arguments, environment, output, results ----
fakecloud_ctl '{"slow": 8}'
"$mk" 1 "$dir/secret.csv" --prefix secret-
"$nrfca" onboard --api-key-file "$dir/api.key" --endpoint "$CLOUD_URL" --poll-interval 0.2 \
	--csv "$dir/secret.csv" --results "$dir/secret.res" >"$dir/s.out" 2>"$dir/s.err" &
pid=$!
sleep 0.5
seen=0
tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null | grep "$key" >/dev/null && seen=1
tr '\0' '\n' </proc/$pid/environ 2>/dev/null | grep "$key" >/dev/null && seen=1
wait $pid
rc=$?
[ $rc = 0 ] && [ $seen = 0 ] && ! grep -q "$key" "$dir/s.out" "$dir/s.err" "$dir/secret.res" &&
	ok "API key not in process arguments, environment, output or results" || fail "key seen (rc $rc, seen $seen)"
fakecloud_ctl '{"slow": 0}'

# ---- a wrong key; an unsafe key file; no key on the command line ----
(umask 077 && echo "0123456789abcdef-wrong" >"$dir/wrong.key")
"$mk" 2 "$dir/wk.csv" --prefix wk-
if timeout 60 "$nrfca" onboard --api-key-file "$dir/wrong.key" --endpoint "$CLOUD_URL" \
	--csv "$dir/wk.csv" --results "$dir/wk.res" >"$dir/stdout" 2>"$dir/stderr"; then
	fail "wrong key: exit 0"
else
	rc=$?
	[ $rc = 11 ] && grep -q "refused the API key (HTTP 401" "$dir/stderr" &&
		[ "$(result_of "$dir/wk.res" wk-000001)" = NOT_SENT ] && ! grep -q "0123456789abcdef-wrong" "$dir/stderr" "$dir/stdout" "$dir/wk.res" &&
		ok "wrong key: exit 11, says the API key was refused, devices NOT_SENT" ||
		fail "wrong key: rc $rc $(cat "$dir/stderr")"
fi
cp "$dir/api.key" "$dir/open.key" && chmod 644 "$dir/open.key"
onb 2 "key file 0644" --csv "$dir/wk.csv" --api-key-file "$dir/open.key" && grep -q "chmod 600" <<<"$err" &&
	ok "a key file readable by others is refused (exit 2, says chmod 600)" || fail "open key file: $err"
onb 2 "key on the command line" --csv "$dir/wk.csv" "$key" && grep -q "api-key-file" <<<"$err" &&
	! grep -q "${key:0:8}" <<<"$err" && ok "a stray argument (a pasted key) is refused, not echoed" ||
	fail "stray argument: $err"
timeout 20 "$nrfca" onboard --api-key-file "$dir/api.key" --endpoint http://192.0.2.1 --csv "$dir/wk.csv" \
	>"$dir/stdout" 2>"$dir/stderr"
[ $? = 2 ] && grep -q "in the clear" "$dir/stderr" && ok "http:// to a remote host is refused" ||
	fail "http remote: $(cat "$dir/stderr")"

# ---- a bad row refuses the file; nothing is sent ----
cp "$dir/new3.csv" "$dir/bad.csv"
sed -i '0,/^MI/s/^MI/XX/' "$dir/bad.csv"
before=$(fakecloud_log | jq 'length')
onb 10 "bad certificate row" --csv "$dir/bad.csv" && grep -q "row 1 (device chk-000001): the certificate does not decode" <<<"$err" &&
	[ "$(fakecloud_log | jq 'length')" = "$before" ] && ok "a bad row: file refused, row named, nothing sent" ||
	fail "bad row: $err"
cat "$dir/new3.csv" "$dir/new3.csv" >"$dir/twice.csv"
onb 10 "device twice" --csv "$dir/twice.csv" && grep -q "chk-000001 is in rows 1 and 4" <<<"$err" &&
	ok "a device twice: refused with both rows" || fail "twice: $err"

# ---- public keys (RegisterPublicKeys) ----
"$mk" 3 "$dir/keys.csv" --prefix jwt- --public-keys
if onb 0 "public keys" --csv "$dir/keys.csv" --public-keys --results "$dir/keys.res"; then
	[ "$(posts /v1/devices/public-keys)" = 1 ] &&
		[ "$(fakecloud_state | jq '[.public_keys | keys[] | select(startswith("jwt-"))] | length')" = 3 ] &&
		ok "public keys: one RegisterPublicKeys upload, 3 keys registered" || fail "public keys: $(fakecloud_state | jq -c .public_keys | head -c 300)"
	k1=$(pem_of "$dir/keys.csv" "PUBLIC KEY" | openssl pkey -pubin -outform der 2>/dev/null | sha256sum)
	k2=$(fakecloud_state | jq -r '.public_keys["jwt-000001"]' | openssl pkey -pubin -outform der 2>/dev/null | sha256sum)
	[ -n "$k1" ] && [ "$k1" = "$k2" ] && ok "public keys: the cloud holds the key of the file" || fail "public key differs"
fi
onb 10 "public-key file without --public-keys" --csv "$dir/keys.csv" && grep -q "use --public-keys" <<<"$err" &&
	ok "a public-key file without --public-keys is refused with a hint" || fail "hint: $err"

# ---- the queue: drained, settled rows removed, refused rows moved ----
"$mk" 3 "$dir/q.csv" --prefix q-
(umask 077 && cp "$dir/q.csv" "$dir/queue.csv")
fakecloud_ctl '{"row_errors": {"q-000002": "refused for the queue test"}}'
if onb 11 "queue drain" --queue "$dir/queue.csv" --results "$dir/q.res"; then
	[ ! -s "$dir/queue.csv" ] && grep -q "^q-000002," "$dir/queue.csv.refused" &&
		[ "$(result_of "$dir/q.res" q-000001)" = OK ] && [ "$(result_of "$dir/q.res" q-000002)" = ERROR ] &&
		ok "queue: drained, refused row moved to .refused" ||
		fail "queue: $(cat "$dir/queue.csv" | head -2) / $(cat "$dir/q.res")"
fi
fakecloud_ctl '{"row_errors": {}, "fail_5xx": 50}'
"$mk" 2 "$dir/queue.csv" --prefix q2-
onb 12 "queue while the cloud is down" --queue "$dir/queue.csv" --attempts 1 &&
	[ "$(grep -c BEGIN "$dir/queue.csv")" = 2 ] && ok "queue: rows stay while the cloud is down" ||
	fail "queue down: $err"
fakecloud_ctl '{"fail_5xx": 0}'
onb 0 "queue drained later" --queue "$dir/queue.csv" && [ ! -s "$dir/queue.csv" ] &&
	ok "queue: drained once the cloud is back" || fail "queue later: $err"

finish "onboard tests"
