#!/bin/bash
# What an operator's monitoring sees: /v1/ready and /metrics show the build
# version, the CRL being served (age, next update), the token's session pool,
# error answers by code, rejections and supersedes by station, and a failed
# policy reload (SIGHUP with a broken file): ready no longer says "policy":"ok"
# alone, a metric counts the failure, and every reload attempt is audited
# with the file's SHA-256, success or failure and why.
# usage: observability.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" obs
setup_with_policy supersede || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
version=$(sed -n 's/^project(nrfca VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
metrics() { curl -s "$SERVER_URL/metrics" -o metrics.txt; }
val() { awk -v k="$1" '$1 == k { v = $2 } END { if (v == "") print "absent"; else print v }' metrics.txt; }
audit_rows() { # EVENT -> one JSON detail per line (nrfca-admin audit list)
	"$BUILD/bin/nrfca-admin" audit list --event "$1" --json | jq -c .detail
}
reload() { # wait for the server to log the outcome of SIGHUP number $1
	kill -HUP "$SERVER_PID"
	local i
	for i in $(seq 1 100); do
		[ "$(grep -cE '"event":"policy_(reloaded|reload_failed)"' server.log)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "no reload outcome logged after SIGHUP $1"
}

# ---- ready and metrics on a fresh server
[ "$(req GET /v1/ready "" "")" = 200 ] || fail "ready: $(cat out.json)"
[ "$(jf policy)" = ok ] || fail "ready policy: $(cat out.json)"
case "$(jf version)" in "$version"|"$version (git "*) ;; *) fail "ready version '$(jf version)', want $version" ;; esac
[ "$(jf policy_sha256)" = "$(sha256sum "$POLICY" | cut -d' ' -f1)" ] || fail "ready policy_sha256: $(cat out.json)"
[ -n "$(jf crl.next_update)" ] && [ "$(jf crl.age_seconds)" -ge 0 ] || fail "ready crl: $(cat out.json)"
now=$(date +%s)
metrics
grep -qE "^nrfca_build_info\{version=\"$version( \(git [^\"]*\))?\"\} 1$" metrics.txt || fail "nrfca_build_info: $(grep build_info metrics.txt)"
last=$(val nrfca_crl_last_update_timestamp_seconds) next=$(val nrfca_crl_next_update_timestamp_seconds)
[ "$last" != absent ] && [ "$last" -le "$now" ] && [ "$last" -ge $((now - 120)) ] || fail "CRL last update '$last' (now $now)"
[ "$next" != absent ] && [ "$next" -eq $((last + 24 * 3600)) ] || fail "CRL next update '$next' (last $last, 24 h)"
[ "$(val nrfca_crl_number)" != absent ] || fail "no nrfca_crl_number"
[ "$(val nrfca_token_sessions)" = 4 ] || fail "nrfca_token_sessions $(val nrfca_token_sessions), want the pool size 4"
[ "$(val nrfca_token_sessions_in_use)" = 0 ] || fail "nrfca_token_sessions_in_use $(val nrfca_token_sessions_in_use) at rest"
[ "$(val nrfca_token_session_waits_total)" != absent ] || fail "no nrfca_token_session_waits_total"
[ "$(val nrfca_database_ready)" = 1 ] || fail "nrfca_database_ready $(val nrfca_database_ready)"
[ "$(val nrfca_policy_reload_failures_total)" = 0 ] || fail "reload failures at start: $(val nrfca_policy_reload_failures_total)"
[ "$(val nrfca_policy_reload_failed)" = 0 ] || fail "nrfca_policy_reload_failed at start"

# ---- errors by code, rejections and supersedes by station
printf 'not-a-real-secret-0123456789\n' >bogus.token
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >custom.json
[ "$(req POST /v1/enroll bogus.token custom.json)" = 401 ] || fail "bogus credential: $(cat out.json)"
[ "$(req POST /v1/enroll station.token custom.json)" = 403 ] || fail "custom CN: $(cat out.json)"
dev=$(uuid)
new_csr ec:P-256 "$dev" a.csr; csr_body a.csr a.json
new_csr ec:P-256 "$dev" b.csr; csr_body b.csr b.json
[ "$(req POST /v1/enroll station.token a.json)" = 201 ] || fail "first: $(cat out.json)"
[ "$(req POST /v1/enroll station.token b.json)" = 201 ] || fail "supersede: $(cat out.json)"
metrics
[ "$(val 'nrfca_http_errors_total{route="enroll",error="unauthorized"}')" = 1 ] ||
	fail "errors by code: $(grep nrfca_http_errors_total metrics.txt)"
[ "$(val 'nrfca_enroll_rejections_total{reason="cn_uuid",station="test-station"}')" = 1 ] ||
	fail "rejections by station: $(grep nrfca_enroll_rejections_total metrics.txt)"
[ "$(val 'nrfca_certificates_superseded_total{profile="host-key",station="test-station"}')" = 1 ] ||
	fail "supersedes by station: $(grep superseded metrics.txt)"
[ "$(val nrfca_token_signatures_total)" -ge 2 ] || fail "signatures $(val nrfca_token_signatures_total)"

# ---- a broken policy file on SIGHUP
good_sha=$(sha256sum "$POLICY" | cut -d' ' -f1)
cp "$POLICY" good.json
jq '.profiles["host-key"].on_existing = "overwrite"' good.json >"$POLICY"
bad_sha=$(sha256sum "$POLICY" | cut -d' ' -f1)
reload 1
[ "$(req GET /v1/ready "" "")" = 200 ] || fail "ready after a failed reload: $(cat out.json) (the old policy still serves)"
[ "$(jf policy)" = reload_failed ] || fail "ready after a failed reload says policy '$(jf policy)': $(cat out.json)"
jf policy_reload.error | grep -q 'overwrite' || fail "ready does not say why the reload failed: $(cat out.json)"
[ "$(jf policy_reload.failed_sha256)" = "$bad_sha" ] || fail "ready failed_sha256: $(cat out.json)"
[ "$(jf policy_sha256)" = "$good_sha" ] || fail "ready names another policy in force: $(cat out.json)"
metrics
[ "$(val nrfca_policy_reload_failures_total)" = 1 ] || fail "reload failures $(val nrfca_policy_reload_failures_total), want 1"
[ "$(val nrfca_policy_reload_failed)" = 1 ] || fail "nrfca_policy_reload_failed $(val nrfca_policy_reload_failed), want 1"
# still issuing under the old policy
new_csr ec:P-256 "$(uuid)" c.csr; csr_body c.csr c.json
[ "$(req POST /v1/enroll station.token c.json)" = 201 ] || fail "enroll under the kept policy: $(cat out.json)"

# ---- fixed: reload succeeds, ready is ok again, the failure stays counted
cp good.json "$POLICY"
reload 2
[ "$(req GET /v1/ready "" "")" = 200 ] && [ "$(jf policy)" = ok ] && [ -z "$(jf policy_reload)" ] ||
	fail "ready after the fix: $(cat out.json)"
metrics
[ "$(val nrfca_policy_reload_failures_total)" = 1 ] && [ "$(val nrfca_policy_reload_failed)" = 0 ] ||
	fail "after the fix: failures $(val nrfca_policy_reload_failures_total), failed $(val nrfca_policy_reload_failed)"

# ---- both attempts audited: file hash, result, reason, who sent SIGHUP
audit_rows policy_reload >reloads.txt
[ "$(wc -l <reloads.txt)" = 2 ] || fail "policy_reload audit entries: $(cat reloads.txt)"
r1=$(sed -n 1p reloads.txt) r2=$(sed -n 2p reloads.txt)
[ "$(jq -r .result <<<"$r1")" = failed ] && [ "$(jq -r .sha256 <<<"$r1")" = "$bad_sha" ] &&
	jq -r .error <<<"$r1" | grep -q overwrite && [ "$(jq -r .in_force_sha256 <<<"$r1")" = "$good_sha" ] ||
	fail "failed reload audit entry: $r1"
[ "$(jq -r .result <<<"$r2")" = ok ] && [ "$(jq -r .sha256 <<<"$r2")" = "$good_sha" ] ||
	fail "successful reload audit entry: $r2"
[ "$(jq -r .signal_pid <<<"$r1")" = $$ ] && [ "$(jq -r .signal_uid <<<"$r1")" = "$(id -u)" ] ||
	fail "the audit entry does not name who sent SIGHUP (pid $$): $r1"
start=$(audit_rows start | tail -1)
[ "$(jq -r .policy_sha256 <<<"$start")" = "$good_sha" ] && jq -r .version <<<"$start" | grep -q "^$version" ||
	fail "start audit entry: $start"
"$BUILD/bin/nrfca-admin" audit verify >/dev/null || fail "audit verify"

server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
