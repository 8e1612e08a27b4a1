#!/bin/bash
# The credential life cycle an operator runs: token add with an expiry (and
# the 401 that names it once passed), token disable / enable, token rotate
# (new secret shown once, same name and role, old secret refused), last use
# in token list (table and --json), every change in the audit log.
# usage: creds.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" creds
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
admin() { "$BUILD/bin/nrfca-admin" "$@"; }
# wait up to 6 s (the server's credential cache lives 2 s) for STATUS on GET /v1/profiles
wait_status() { # TOKENFILE STATUS
	local i
	for i in $(seq 1 60); do
		[ "$(req GET /v1/profiles "$1" "")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
row() { admin token list | awk -v n="$1" '$1 == n'; }

# ---- add with an expiry; usage errors
admin token add --name line-1 --role station --expires 90d --quiet >line1.token || fail "token add --expires 90d"
want=$(date -u -d '+90 days' +%Y-%m-%d)
row line-1 | grep -q "$want" || fail "token list does not show the expiry $want: $(row line-1)"
admin token add --name past --role station --expires 2020-01-01 >out.txt 2>&1; rc=$?
[ $rc = 2 ] && grep -q "in the past" out.txt || fail "an expiry in the past: exit $rc $(cat out.txt)"
admin token add --name bad --role station --expires tomorrow >out.txt 2>&1; rc=$?
[ $rc = 2 ] && grep -q "'tomorrow' is not" out.txt || fail "--expires tomorrow: exit $rc $(cat out.txt)"
admin token enable >out.txt 2>&1; [ $? = 2 ] && grep -q "needs --name" out.txt || fail "token enable without --name: $(cat out.txt)"
admin token rotate --name nobody >out.txt 2>&1; [ $? = 1 ] && grep -q "no credential named 'nobody'" out.txt ||
	fail "token rotate of an unknown name: $(cat out.txt)"

# ---- last use: never, then set by a request
[ "$(row line-1 | awk '{ print $5 }')" = never ] || fail "an unused credential shows a last use: $(row line-1)"
[ "$(req GET /v1/profiles line1.token "")" = 200 ] || fail "line-1 cannot use the API: $(cat out.json)"
admin token list --json >list.json || fail "token list --json"
used=$(jq -r 'select(.name == "line-1") | .last_used' list.json)
now=$(date +%s)
[ -n "$used" ] && [ "$used" != null ] && t=$(date -u -d "$used" +%s) && [ $((now - t)) -lt 120 ] ||
	fail "last_used after a request: '$used' ($(cat list.json))"
[ "$(jq -r 'select(.name == "line-1") | .role + " " + .state' list.json)" = "station active" ] ||
	fail "token list --json: $(cat list.json)"

# ---- an expiry that passes: 401 naming the credential and the time
exp=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
admin token add --name short --role station --expires "$exp" --quiet >short.token || fail "token add --expires $exp"
[ "$(req GET /v1/profiles short.token "")" = 200 ] || fail "short before its expiry: $(cat out.json)"
sleep 3
wait_status short.token 401 || fail "an expired credential is still accepted"
[ "$(jf error)" = unauthorized ] && jf detail | grep -q "'short' expired at $exp" ||
	fail "the 401 of an expired credential does not say so: $(cat out.json)"
[ "$(row short | awk '{ print $3 }')" = expired ] || fail "token list does not show short expired: $(row short)"

# ---- rotate: new secret, same name and role; the old secret is refused
admin token rotate --name short --expires 1d --quiet >short2.token || fail "token rotate"
[ "$(wc -c <short2.token)" -gt 40 ] && ! cmp -s short.token short2.token || fail "rotate did not print a new secret"
wait_status short2.token 200 || fail "the rotated secret is refused: $(cat out.json)"
[ "$(req GET /v1/profiles short.token "")" = 401 ] || fail "the old secret still works after rotate"
[ "$(row short | awk '{ print $2, $3 }')" = "station active" ] || fail "rotate changed the role or state: $(row short)"
admin token rotate --name line-1 >rot.txt || fail "token rotate (no --expires)"
grep -q "shown only this once" rot.txt && grep -q "expires $want" rot.txt || fail "rotate without --quiet: $(cat rot.txt)"

# ---- disable and enable
admin token disable --name short2 >/dev/null 2>&1 && fail "disabling an unknown credential succeeded"
admin token disable --name short >/dev/null || fail "token disable"
wait_status short2.token 401 || fail "a disabled credential is still accepted"
jf detail | grep -q "'short' is disabled" || fail "401 of a disabled credential: $(cat out.json)"
admin token enable --name short >out.txt || fail "token enable: $(cat out.txt)"
wait_status short2.token 200 || fail "an enabled credential is still refused"
admin token enable --name short >out.txt 2>&1 && fail "enabling an enabled credential succeeded"

# ---- all of it audited
admin audit list --json | jq -r 'select(.event | startswith("cred_")) | .event + " " + (.detail | tojson)' >audit.txt
for ev in "cred_add .*line-1" "cred_add .*short" "cred_rotate .*short" "cred_expiry .*short" "cred_disable .*short" "cred_enable .*short" "cred_rotate .*line-1"; do
	grep -q "^$ev" audit.txt || fail "no audit entry '$ev': $(cat audit.txt)"
done
grep -q "nrfca_" audit.txt && fail "a secret is in the audit log"
admin audit verify >/dev/null || fail "audit verify"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
