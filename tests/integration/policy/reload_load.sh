#!/bin/bash
# Policy reload under load drops no request: 4 clients enroll continuously
# (fresh plain CSRs through a host-key profile the test enables; every fifth
# request carries a CN the pattern refuses) while the policy file is swapped
# between two valid versions and nrfca-server gets SIGHUP 10 times.  Every
# request must get 201 (or 403 cn_pattern for the refused CN, or 200 for a
# dry run), never a 5xx or a connection error; all 10 reloads must land.
#
#   reload_load.sh BUILD SRC
set -uo pipefail
BUILD=$1
SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
. "$here/../lib/server.sh"
for b in nrfca-server nrfca-admin; do
	[ -x "$BUILD/bin/$b" ] || { echo "SKIP: $b not built"; exit 77; }
done
for t in jq openssl curl; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
CLIENTS=4
RELOADS=10
dir=$BUILD/tmp/policy-reload.$$
clients=()
cleanup() {
	local p
	touch "$dir/stop" 2>/dev/null
	for p in "${clients[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${clients[@]}"; do wait "$p" 2>/dev/null; done
	server_stop
	softhsm_teardown "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

server_setup "$dir" "$SRC/policies/default.json" >/dev/null || { echo "server setup failed"; exit 1; }
cd "$dir" || exit 1
mkdir -p trust && cp "$SRC/policies/trust/"*.pem trust/
# two valid policies that differ in the host-key profile's default validity
mkpol() { # DAYS OUT
	jq --argjson d "$1" '.profiles["host-key"] += {enabled: true,
		rate_limit: {per_station_per_minute: 0, per_profile_per_minute: 0},
		validity: {default_days: $d, max_days: 3650}}' \
		"$SRC/policies/default.json" >"$2" || exit 1
	"$BUILD/bin/nrfca-admin" policy check "$2" >/dev/null || { echo "policy $2 refused" >&2; exit 1; }
}
mkpol 365 polA.json
mkpol 400 polB.json
cp polA.json policy.json
jq --arg p "$dir/policy.json" '.policy = $p' nrfca.json >nrfca.json.new && mv nrfca.json.new nrfca.json
server_start "$dir" || exit 1

metric() {
	curl -s --max-time 5 "$SERVER_URL/metrics" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}

# client N: until $dir/stop exists, enroll; one line per request:
#   <expected> <HTTP code> <validity_days of a dry run or ->
client() {
	local n=$1 i=0 exp q cn code days
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "c$n.key" 2>/dev/null || return 1
	while [ ! -e stop ]; do
		i=$((i + 1))
		q=
		if [ $((i % 5)) = 0 ]; then
			cn="bad cn $n $i"; exp=403
		elif [ $((i % 7)) = 0 ]; then
			cn=$(printf 'nrf-%d%014d' "$n" "$i"); exp=200; q='?dry_run=1'
		else
			cn=$(printf 'nrf-%d%014d' "$n" "$i"); exp=201
		fi
		openssl req -new -key "c$n.key" -subj "/CN=$cn" -out "c$n.csr" 2>/dev/null || return 1
		jq -n --rawfile c "c$n.csr" '{csr: $c, profile: "host-key"}' >"c$n.json"
		code=$(curl -s --max-time 15 -o "c$n.out" -w '%{http_code}' -X POST \
			-H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' \
			--data-binary "@c$n.json" "$SERVER_URL/v1/enroll$q")
		days=-
		if [ "$code" = 403 ]; then
			[ "$(jq -r .rule "c$n.out" 2>/dev/null)" = cn_pattern ] || code="403-$(jq -r .rule "c$n.out" 2>/dev/null)"
		elif [ "$code" = 200 ]; then
			days=$(jq -r .validity_days "c$n.out" 2>/dev/null)
		fi
		echo "$exp $code $days"
	done >"client$n.log"
}

gen0=$(metric nrfca_policy_generation)
for n in $(seq 1 $CLIENTS); do
	client "$n" &
	clients+=($!)
done
sleep 0.5
for r in $(seq 1 $RELOADS); do
	if [ $((r % 2)) = 1 ]; then src=polB.json; else src=polA.json; fi
	cp "$src" policy.json.tmp && mv policy.json.tmp policy.json
	kill -HUP "$SERVER_PID"
	for i in $(seq 1 100); do
		[ "$(metric nrfca_policy_generation)" -ge $((gen0 + r)) ] && break
		sleep 0.05
	done
	[ "$(metric nrfca_policy_generation)" -ge $((gen0 + r)) ] || fail "reload $r did not land"
	# the policy just loaded answers: a dry run reports its default validity
	if [ "$src" = polB.json ]; then want_days=400; else want_days=365; fi
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout probe.key \
		-subj "/CN=$(printf 'nrf-9%014d' "$r")" -out probe.csr 2>/dev/null
	got_days=$(jq -n --rawfile c probe.csr '{csr: $c, profile: "host-key"}' |
		curl -s --max-time 15 -X POST -H "Authorization: Bearer $(cat station.token)" \
			-H 'Content-Type: application/json' --data-binary @- "$SERVER_URL/v1/enroll?dry_run=1" |
		jq -r .validity_days 2>/dev/null)
	[ "$got_days" = "$want_days" ] || fail "after reload $r ($src) a dry run reports validity '$got_days', expected $want_days"
	sleep 0.25
done
sleep 0.5
touch stop
for p in "${clients[@]}"; do wait "$p" || fail "client $p failed"; done
clients=()

total=0
for n in $(seq 1 $CLIENTS); do
	[ -s "client$n.log" ] || fail "client $n made no request"
	total=$((total + $(wc -l <"client$n.log")))
done
bad=$(cat client*.log | awk '$1 != $2' | sort | uniq -c)
[ -z "$bad" ] || fail "answers other than expected (count, expected, got): $bad"
for want in 201 200 403; do
	c=$(cat client*.log | awk -v w=$want '$1 == w' | wc -l)
	[ "$c" -gt 0 ] || fail "no request of kind $want was made"
done
# the clients' dry runs only ever saw one of the two policies' validities
days=$(cat client*.log | awk '$1 == 200 && $2 == 200 && $3 != 365 && $3 != 400 { print $3 }' | sort -u | tr '\n' ' ')
[ -z "$days" ] || fail "dry runs saw default validities '$days', expected only 365 or 400"
gen=$(metric nrfca_policy_generation)
[ "$gen" = $((gen0 + RELOADS)) ] || fail "policy generation $gen0 -> $gen after $RELOADS reloads"
grep -q policy_reload_failed server.log && fail "a reload failed: $(grep policy_reload_failed server.log | head -1)"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
server_stop
[ "${SERVER_RC:-1}" = 0 ] || fail "server exit status ${SERVER_RC:-?} after SIGTERM"
grep -q 'AddressSanitizer\|runtime error' server.log && fail "sanitizer report in server.log"
echo "reload_load: $total requests from $CLIENTS clients across $RELOADS reloads"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "reload_load: all checks passed"
