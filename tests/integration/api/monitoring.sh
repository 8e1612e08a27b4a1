#!/bin/bash
# What ships for Prometheus and Grafana works with what the server exports:
# promtool checks and unit tests the alerting rules, checks the server's
# /metrics text, and every expression of the rules and of the Grafana
# dashboard names only metric families and labels a real scrape has.
# usage: monitoring.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" mon
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed (Debian package prometheus)" >&2; exit 77; }
rules=$SRC/deploy/prometheus/nrfca-alerts.yml
dash=$SRC/deploy/grafana/nrfca-dashboard.json
promtool check rules "$rules" >"$BUILD/tmp/promtool-check.$$" 2>&1 || fail "promtool check rules: $(cat "$BUILD/tmp/promtool-check.$$")"
(cd "$SRC/deploy/prometheus" && promtool test rules nrfca-alerts.test.yml) >"$BUILD/tmp/promtool-test.$$" 2>&1 ||
	fail "promtool test rules: $(cat "$BUILD/tmp/promtool-test.$$")"
rm -f "$BUILD/tmp/promtool-check.$$" "$BUILD/tmp/promtool-test.$$"
jq -e '.panels | length > 0' "$dash" >/dev/null || fail "$dash is not a dashboard JSON"

setup_with_policy supersede || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
# traffic so that every labelled family has samples: an issue, a supersede,
# a refusal, an error answer, the CRL
dev=$(uuid)
new_csr ec:P-256 "$dev" a.csr; csr_body a.csr a.json
new_csr ec:P-256 "$dev" b.csr; csr_body b.csr b.json
[ "$(req POST /v1/enroll station.token a.json)" = 201 ] || fail "enroll: $(cat out.json)"
[ "$(req POST /v1/enroll station.token b.json)" = 201 ] || fail "supersede: $(cat out.json)"
[ "$(req POST /v1/enroll station.token a.json)" = 409 ] || fail "replay of the superseded CSR: $(cat out.json)"
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >custom.json
[ "$(req POST /v1/enroll station.token custom.json)" = 403 ] || fail "custom CN: $(cat out.json)"
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >k17.json
[ "$(req POST /v1/enroll station.token k17.json)" = 201 ] || fail "keygen: $(cat out.json)"
[ "$(req POST /v1/enroll station.token k17.json)" = 200 ] || fail "replay: $(cat out.json)"
curl -sf "$SERVER_URL/v1/crl" -o /dev/null || fail "GET /v1/crl"
curl -sf "$SERVER_URL/metrics" -o metrics.txt || fail "GET /metrics"
promtool check metrics <metrics.txt >lint.txt 2>&1 || fail "promtool check metrics: $(cat lint.txt)"
/usr/bin/python3 "$SRC/tests/integration/api/check_monitoring.py" metrics.txt "$rules" "$dash" >refs.txt ||
	fail "rules and dashboard against the scrape: $(cat refs.txt)"
# the check itself catches a wrong name and a wrong label
sed 's/nrfca_token_ready == 0/nrfca_token_redy == 0/; s/by (station) (increase(nrfca_enroll/by (stationn) (increase(nrfca_enroll/' "$rules" >bad-rules.yml
/usr/bin/python3 "$SRC/tests/integration/api/check_monitoring.py" metrics.txt bad-rules.yml "$dash" >bad.txt &&
	fail "check_monitoring.py accepts rules naming a metric and a label the server does not export"
grep -q "nrfca_token_redy is not exported" bad.txt && grep -q "label 'stationn'" bad.txt ||
	fail "check_monitoring.py does not name the wrong metric and label: $(cat bad.txt)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
