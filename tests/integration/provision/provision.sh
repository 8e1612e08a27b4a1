#!/bin/bash
# nrfca provision end to end: nrf91-sim modems (plain, shell, echo, URCs,
# faults) against a private nrfca-server.  Usage: provision.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
# shellcheck source=../lib/station.sh
. "$src/tests/integration/lib/station.sh"
station_test_begin provision

# A policy of our own: the shipped one with the host-key profile enabled.
mkdir -p "$srv"
cp -r "$src/policies/trust" "$dir/trust"
jq '.profiles["host-key"].enabled = true' "$src/policies/default.json" >"$dir/policy.json"
server_setup "$srv" "$dir/policy.json" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1
chain=$srv/ca-chain.pem

# ---- 1. plain AT with echo and URCs; CSV, devinfo, report ----
start_sim plain --echo --urc --imei "$(imei_of 35265610948001)"
if prov 0 "plain" --csv "$dir/onboard.csv" --devinfo "$dir/devinfo.csv" --report "$dir/report.json"; then
	check_modem plain "plain"
	id=$(cn_of "$dir/plain.cert.pem")
	{ printf '%s,,,APP|MODEM,"' "$id"; openssl x509 -in "$dir/plain.cert.pem"; printf '"\n'; } >"$dir/expect.csv"
	cmp -s "$dir/expect.csv" "$dir/onboard.csv" && ok "plain: CSV row byte-exact" ||
		fail "plain: CSV row differs: $(diff "$dir/expect.csv" "$dir/onboard.csv" | head -5)"
	printf '%s,mfw_nrf91x1_2.0.2,%s\n' "$id" "$(imei_of 35265610948001)" | cmp -s - "$dir/devinfo.csv" &&
		ok "plain: devinfo row" || fail "plain: devinfo row: $(cat "$dir/devinfo.csv")"
	grep -q "^provisioned $id serial [0-9a-f]* sec_tag 16842753 in .* s; modem left offline" <<<"$out" &&
		ok "plain: summary line" || fail "plain: summary line: $out"
	[ "$(jq -r '.device_id + " " + .result + " " + (.steps | length | tostring)' "$dir/report.json")" = "$id ok 11" ] &&
		ok "plain: report" || fail "plain: report: $(head -c 300 "$dir/report.json")"
	[ "$(jq -r .cfun "$dir/plain.json")" = 4 ] && ok "plain: modem left offline" || fail "plain: cfun not 4"
	[ -z "$(ls -A "$dir/journal" 2>/dev/null)" ] && ok "plain: journal entry removed" ||
		fail "plain: journal not empty: $(ls "$dir/journal")"
	# existing credentials without --replace: refused, modem untouched
	h=$(state_cred plain 1 sha256)
	prov 9 "existing without --replace" --csv "$dir/onboard.csv" &&
		{ grep -q "already holds credentials" <<<"$err" && ok "existing credentials refused (exit 9)" ||
			fail "existing: message: $err"; }
	[ "$(state_cred plain 1 sha256)" = "$h" ] || fail "existing: certificate changed"
	# --replace: a new key and certificate; the CSV row replaced, not doubled
	if prov 0 "replace" --replace --csv "$dir/onboard.csv" --online; then
		check_modem plain "replace"
		[ "$(grep -c "^$id," "$dir/onboard.csv")" = 1 ] && ok "replace: one CSV row" ||
			fail "replace: CSV rows for $id: $(grep -c "^$id," "$dir/onboard.csv")"
		[ "$(jq -r .cfun "$dir/plain.json")" = 1 ] && ok "--online: AT+CFUN=1" || fail "--online: cfun"
	fi
fi
stop_sim plain

# ---- 2. Zephyr shell with echo and URCs, station config, tags ----
start_sim shell --shell --echo --urc --imei "$(imei_of 35265610948002)"
cat >"$dir/station.conf" <<CONF
# station settings
server = $SERVER_URL
token_file = srv/station.token
journal = journal
line_ending = lf
CONF
if timeout 60 "$nrfca" provision --port "$port" --station-config "$dir/station.conf" \
	--csv "$dir/shell.csv" --tags "line1|eu" --sub-type "tracker" --fw-types APP --quiet \
	>"$dir/stdout" 2>"$dir/stderr"; then
	check_modem shell "shell"
	id=$(cn_of "$dir/shell.cert.pem")
	{ printf '%s,tracker,line1|eu,APP,"' "$id"; openssl x509 -in "$dir/shell.cert.pem"; printf '"\n'; } | cmp -s - "$dir/shell.csv" &&
		ok "shell: CSV row with tags byte-exact" || fail "shell: CSV row"
	[ "$(wc -l <"$dir/stdout")" = 1 ] && [ ! -s "$dir/stderr" ] && ok "--quiet: only the summary" ||
		fail "--quiet printed: $(cat "$dir/stderr")"
	# through the shell the firmware stores CR LF whatever line_ending says
	state_cred shell 1 content | grep $'\r' >/dev/null && ok "shell: the certificate is stored as CR LF text" ||
		fail "shell: stored certificate is not CR LF"
else
	fail "shell provisioning: $(cat "$dir/stderr")"
fi
echo "colour = blue" >>"$dir/station.conf"
timeout 20 "$nrfca" provision --port "$port" --station-config "$dir/station.conf" >/dev/null 2>"$dir/stderr"
rc=$?
[ $rc = 2 ] && grep -q "unknown key 'colour'" "$dir/stderr" && ok "station config: unknown key refused" ||
	fail "station config unknown key: exit $rc $(cat "$dir/stderr")"
stop_sim shell

# ---- 3. old firmware ----
for fw in mfw_nrf9160_1.2.3:1.3.0 mfw_nrf91x1_1.9.0:2.0.0; do
	start_sim oldfw --fw "${fw%%:*}"
	prov 4 "old firmware ${fw%%:*}" &&
		{ grep -q "${fw%%:*}" <<<"$err" && grep -q "${fw##*:}" <<<"$err" &&
			ok "old firmware ${fw%%:*} refused naming ${fw##*:}" || fail "old fw message: $err"; }
	stop_sim oldfw
	rm -f "$dir/oldfw.json"
done

# ---- 4. faults ----
# port closed after %KEYGEN: the CA issued, the write failed; the rerun
# re-sends the journalled CSR and gets the same certificate back
start_sim close --faults close-after=10 --imei "$(imei_of 35265610948003)" --uuid "$(uuid_of 3)"
prov 3 "close-after=10" && { grep -qi "closed\|did not answer" <<<"$err" && ok "port closed mid-flow: exit 3" ||
	fail "close message: $err"; }
grep -q "rerun to resume" <<<"$err" || fail "close: the modem state is not explained: $err"
stop_sim close
k1=$(state_cred close 2 public_key_pem)
[ "$(count_type close 1)" = 0 ] || fail "close: a certificate was written"
start_sim close --imei "$(imei_of 35265610948003)" --uuid "$(uuid_of 3)"
if prov 0 "close: rerun"; then
	check_modem close "close-after rerun"
	grep -q resumed <<<"$out" && ok "close: resumed from the journal" || fail "close: not resumed: $out"
	[ "$(state_cred close 2 public_key_pem)" = "$k1" ] && [ "$(count_type close 2)" = 1 ] &&
		ok "close: same key, no second key" || fail "close: the key changed"
	[ "$(cert_count "$(uuid_of 3)")" = 1 ] && ok "close: one certificate at the CA" ||
		fail "close: $(cert_count "$(uuid_of 3)") certificates at the CA"
fi
stop_sim close

# port closed before %KEYGEN: plain rerun
start_sim close2 --faults close-after=5 --imei "$(imei_of 35265610948004)" --uuid "$(uuid_of 4)"
prov 3 "close-after=5" && ok "port closed early: exit 3"
stop_sim close2
start_sim close2 --imei "$(imei_of 35265610948004)" --uuid "$(uuid_of 4)"
prov 0 "close-after=5 rerun" && check_modem close2 "close-after=5 rerun"
stop_sim close2

start_sim slow --faults delay=300 --imei "$(imei_of 35265610948005)"
prov 0 "delay=300" && check_modem slow "slow answers"
stop_sim slow
start_sim chunk --faults chunk=7 --urc --imei "$(imei_of 35265610948006)"
prov 0 "chunk=7" && check_modem chunk "chunked answers"
stop_sim chunk

start_sim trunc --faults truncate-keygen --imei "$(imei_of 35265610948007)" --uuid "$(uuid_of 7)"
prov 8 "truncate-keygen" && { grep -q "KEYGEN output does not check out" <<<"$err" &&
	ok "truncated %KEYGEN: exit 8" || fail "truncate message: $err"; }
[ "$(cert_count "$(uuid_of 7)")" = 0 ] || fail "truncate: a certificate was issued"
stop_sim trunc
start_sim trunc --imei "$(imei_of 35265610948007)" --uuid "$(uuid_of 7)"
prov 9 "truncate: rerun without --replace" && ok "truncate: rerun needs --replace (a key is there)"
prov 0 "truncate: rerun --replace" --replace && check_modem trunc "truncated %KEYGEN rerun with --replace"
[ "$(count_type trunc 2)" = 1 ] && [ "$(cert_count "$(uuid_of 7)")" = 1 ] && ok "truncate: one key, one certificate" ||
	fail "truncate: keys $(count_type trunc 2) certificates $(cert_count "$(uuid_of 7)")"
stop_sim trunc

start_sim e527 --faults cme527-on=crlf --imei "$(imei_of 35265610948008)" --uuid "$(uuid_of 8)"
prov 5 "cme527-on=crlf" && { grep -q "line-ending lf" <<<"$err" && ok "527: exit 5 suggesting lf" ||
	fail "527 message: $err"; }
k1=$(state_cred e527 2 public_key_pem)
if prov 0 "527: rerun with lf" --line-ending lf; then
	check_modem e527 "527 rerun with --line-ending lf"
	[ "$(state_cred e527 2 public_key_pem)" = "$k1" ] && [ "$(cert_count "$(uuid_of 8)")" = 1 ] &&
		ok "527: same key, one certificate" || fail "527: key changed or $(cert_count "$(uuid_of 8)") certificates"
fi
stop_sim e527

start_sim maxcmd --faults max-cmd=300 --imei "$(imei_of 35265610948009)"
prov 5 "max-cmd=300" && { grep -q "longer than the modem" <<<"$err" && ok "command-length limit: exit 5" ||
	fail "max-cmd message: $err"; }
stop_sim maxcmd

# ---- 5. an id form the profile refuses: nrf-imei CN with the default (attested UUID)
# profile is refused before the modem is touched (no key made) ----
start_sim refuse --imei "$(imei_of 35265610948010)"
prov 6 "policy refusal" --id nrf-imei && {
	grep -q "rule cn_uuid" <<<"$err" && ok "id form refused with its rule before the modem is touched" ||
		fail "refusal without rule: $err"; }
[ "$(count_type refuse 2)" = 0 ] && [ -z "$(sim_sent refuse .)" ] &&
	ok "refusal: no key made, no command sent" || fail "refusal: modem state"
grep -q "untouched" <<<"$err" || fail "refusal: modem state not said: $err"
# the imei profile accepts the same device
prov 0 "imei profile" --id nrf-imei --profile imei && check_modem refuse "--id nrf-imei --profile imei"
[ "$(cn_of "$dir/refuse.cert.pem")" = "nrf-$(imei_of 35265610948010)" ] || fail "nrf-imei CN"
stop_sim refuse

# ---- 6. CA down, then up on the same port ----
start_sim down --imei "$(imei_of 35265610948011)" --uuid "$(uuid_of 11)"
url=$SERVER_URL
server_stop
( sleep 3; sed -i "s/\"port\": 0/\"port\": ${url##*:}/" "$srv/nrfca.json"; server_start "$srv" >/dev/null 2>&1; echo "$SERVER_PID" >"$dir/server.pid" ) &
starter=$!
SERVER_URL=$url prov 0 "CA down then up" && check_modem down "CA down then up"
wait $starter
SERVER_PID=$(cat "$dir/server.pid" 2>/dev/null)
[ -n "$SERVER_PID" ] || fail "CA down: the server did not come back"
grep -q "retrying in" <<<"$err" && ok "CA down: retried with backoff" || fail "CA down: no retry shown"
[ "$(cert_count "$(uuid_of 11)")" = 1 ] && ok "CA down: one certificate" || fail "CA down: certificates $(cert_count "$(uuid_of 11)")"
stop_sim down

# ---- 7. host-key ----
start_sim host --imei "$(imei_of 35265610948012)" --uuid "$(uuid_of 12)"
if prov 0 "host-key" --host-key; then
	check_modem host "host-key"
	grep -q "WARNING: --host-key" <<<"$err" && ok "host-key: loud warning" || fail "host-key warning missing"
	state_cred host 2 content | grep "BEGIN PRIVATE KEY" >/dev/null && ok "host-key: type 2 written as PKCS#8" ||
		fail "host-key: type 2 not PKCS#8"
	grep -rq "PRIVATE KEY" "$dir/journal" "$dir/stdout" 2>/dev/null && fail "host-key: key found on disk/stdout"
fi
stop_sim host

# ---- 7b. onboarding file full (1000 rows): refused before the CA issues ----
start_sim full --imei "$(imei_of 35265610948013)" --uuid "$(uuid_of 13)"
for i in $(seq 1 1000); do printf 'dev%d,,,APP|MODEM,"x\ny"\n' "$i"; done >"$dir/full.csv"
prov 10 "1000-row CSV" --csv "$dir/full.csv" && { grep -q "1000 rows" <<<"$err" &&
	ok "onboarding file with 1000 rows refused (exit 10)" || fail "full CSV message: $err"; }
[ "$(cert_count "$(uuid_of 13)")" = 0 ] || fail "full CSV: a certificate was issued"
prov 0 "full CSV: rerun with a new file" --csv "$dir/full2.csv" &&
	{ grep -q resumed <<<"$out" && ok "full CSV: rerun resumes with the same CSR" || fail "full CSV rerun not resumed"; }
stop_sim full

# ---- 8. twenty in a row, then four at once ----
n_ok=0
for i in $(seq 1 20); do
	start_sim seq$i --imei "$(imei_of $((35265610950000 + i)))" --uuid "$(uuid_of $((100 + i)))"
	prov 0 "sequence $i" && n_ok=$((n_ok + 1))
	stop_sim seq$i
done
[ $n_ok = 20 ] && ok "twenty modems one after another" || fail "sequence: $n_ok of 20"
declare -A ports=()
for i in 1 2 3 4; do
	start_sim par$i --urc --imei "$(imei_of $((35265610960000 + i)))" --uuid "$(uuid_of $((200 + i)))"
	ports[$i]=$port
done
ppids=()
for i in 1 2 3 4; do
	timeout 60 "$nrfca" provision --port "${ports[$i]}" --server "$SERVER_URL" \
		--token-file "$srv/station.token" --journal "$dir/journal" --csv "$dir/par$i.csv" \
		>"$dir/par$i.stdout" 2>"$dir/par$i.stderr" &
	ppids+=($!)
done
n_ok=0
for i in 1 2 3 4; do
	if wait "${ppids[$((i - 1))]}"; then n_ok=$((n_ok + 1)); check_modem par$i "parallel $i" >/dev/null; fi
done
[ $n_ok = 4 ] && ok "four modems at once" || fail "parallel: $n_ok of 4 ($(cat "$dir"/par*.stderr | tail -3))"
for i in 1 2 3 4; do stop_sim par$i; done

station_test_end provisioning
