#!/bin/bash
# One command-line style for nrfca-admin, nrfca-server, nrfca and nrf91-sim:
# --version everywhere, --help for every command and subcommand from an empty
# folder with no configuration, global options before or after the command,
# and usage errors (exit 2) that name the option and what was expected.
# usage: cli.sh BUILD VERSION
. "$(dirname "$0")/../server/common.sh" "$1" cli
version=$2
bin=$BUILD/bin
empty=$DIR.empty
rm -rf "$empty" && mkdir -p "$empty"
trap 'server_stop; softhsm_teardown "$DIR"; rm -rf "$empty" "$DIR.policy.json"' EXIT
cd "$empty"
unset NRFCA_CONFIG

# --- 1. --version on every program --------------------------------------------------
for p in nrfca-admin nrfca-server nrfca nrf91-sim; do
	out=$("$bin/$p" --version 2>&1); rc=$?
	[ $rc -eq 0 ] || fail "$p --version: exit $rc: $out"
	grep -Eqx "$p $version( \(git [^)]+\))?" <<<"$out" || fail "$p --version prints '$out' (want '$p $version ...')"
done
echo "ok: --version: $("$bin/nrfca-admin" --version)"

# --- 2. --help of everything, without a configuration --------------------------------
# expect_help WHAT CMD...: exit 0, usage on stdout naming WHAT, nothing on stderr
expect_help() {
	local what=$1 out err rc
	shift
	out=$("$@" 2>"$empty/err"); rc=$?
	err=$(cat "$empty/err")
	[ $rc -eq 0 ] || { fail "'${*#"$bin/"}': exit $rc: $err"; return; }
	[ -z "$err" ] || fail "'${*#"$bin/"}' writes to stderr: $err"
	grep -q "^usage: .*$what" <<<"$out" || fail "'${*#"$bin/"}' does not print a usage line naming '$what': $(head -2 <<<"$out")"
}
# the commands as the programs' own --help lists them (new commands are covered too)
admin_cmds=$("$bin/nrfca-admin" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print substr($0, 3, 14) }' | sed 's/ *$//')
[ "$(wc -l <<<"$admin_cmds")" -ge 10 ] || fail "nrfca-admin --help lists too few commands: $admin_cmds"
n=0
while read -r c; do
	# shellcheck disable=SC2086
	expect_help "$c" "$bin/nrfca-admin" $c --help
	# shellcheck disable=SC2086
	expect_help "$c" "$bin/nrfca-admin" $c -h
	n=$((n + 1))
done <<<"$admin_cmds"
for g in token audit policy; do expect_help "$g <subcommand>" "$bin/nrfca-admin" $g --help; done
expect_help "nrfca-admin" "$bin/nrfca-admin" --help
expect_help "init" "$bin/nrfca-admin" --config /nonexistent/nrfca.json init --help
client_cmds=$("$bin/nrfca" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }')
for c in $client_cmds; do expect_help "nrfca $c" "$bin/nrfca" "$c" --help; done
expect_help "nrfca-server" "$bin/nrfca-server" --help
expect_help "nrf91-sim" "$bin/nrf91-sim" --help
echo "ok: --help for $n nrfca-admin commands and $(wc -w <<<"$client_cmds") nrfca commands, no configuration"

# --- 3. usage errors name the option and what was expected --------------------------
# expect_usage PATTERN CMD...: exit 2, one line on stderr matching PATTERN
expect_usage() {
	local pattern=$1 err rc
	shift
	"$@" >/dev/null 2>"$empty/err"; rc=$?
	err=$(cat "$empty/err")
	[ $rc -eq 2 ] || fail "'${*#"$bin/"}': exit $rc (want 2): $err"
	[ "$(wc -l <"$empty/err")" -eq 1 ] || fail "'${*#"$bin/"}': want one line on stderr, got: $err"
	grep -Eq -- "$pattern" <<<"$err" || fail "'${*#"$bin/"}': '$err' does not match /$pattern/"
}
A=$bin/nrfca-admin
expect_usage "--role 'admin' is not a role; the roles are station, operator, auditor" "$A" token add --name x --role admin
expect_usage "needs --role ROLE \(station, operator, auditor\)" "$A" token add --name x
expect_usage "needs --name NAME" "$A" token add --role station
expect_usage "needs the SERIAL" "$A" revoke --reason superseded
expect_usage "--reason 'nope' is not an RFC 5280 reason; use one of .*keyCompromise.*superseded" "$A" revoke --reason nope 01
expect_usage "--reason 'nope' is not an RFC 5280 reason" "$A" revoke 01 --reason nope
expect_usage "unexpected argument '02'" "$A" revoke 01 02
expect_usage "SERIAL 'xyz': the serial must be 1 to 32 hex digits \\(either case; colons" "$A" revoke xyz
expect_usage "--limit '0' must be a whole number from 1 to 1000" "$A" list --limit 0
expect_usage "--status 'gone' is not a status" "$A" list --status gone
expect_usage "unknown or ambiguous option '--nope'.*nrfca-admin list --help" "$A" list --nope
expect_usage "option '--device' needs a value" "$A" list --device
expect_usage "option '--der' takes no value" "$A" crl --der=yes
expect_usage "--curve 'P-521' is not supported; use P-256 or P-384" "$A" init --curve P-521
expect_usage "--days '0' must be a whole number from 1 to 36500" "$A" init --days 0
expect_usage "--subject" "$A" init --subject "nonsense"
expect_usage "needs the chain file" "$A" import-chain
expect_usage "unknown command 'bogus'" "$A" bogus
expect_usage "unknown subcommand 'frob' \(add, list, disable" "$A" token frob
expect_usage "option '--config' needs a value" "$A" check --config
expect_usage "unknown or ambiguous option '--frob'" "$A" --frob check
expect_usage "needs --config FILE" "$bin/nrfca-server"
expect_usage "unknown or ambiguous option '--nope'" "$bin/nrfca-server" --config x --nope
expect_usage "unexpected argument 'extra'" "$bin/nrfca-server" --config x extra
expect_usage "nrfca provision: unknown or ambiguous option '--nope'" "$bin/nrfca" provision --nope
expect_usage "nrfca creds: option '--port' needs a value" "$bin/nrfca" creds list --port
expect_usage "nrfca parse: unknown or ambiguous option '--nope'" "$bin/nrfca" parse --nope x
expect_usage "unknown command 'frob'" "$bin/nrfca" frob
expect_usage "nrf91-sim: option '--cfun' needs a value" "$bin/nrf91-sim" --cfun
echo "ok: usage errors name the option"
# no configuration: the default is named with the way to give one
out=$("$A" check 2>&1); rc=$?
[ $rc -eq 1 ] || fail "check without a configuration: exit $rc"
grep -q "nrfca.json.*give --config FILE" <<<"$out" || fail "check without a configuration says: $out"

# --- 4. global options before or after the command, against a real CA ----------------
setup_with_policy || { fail "server setup"; finish; }
unset NRFCA_CONFIG
cfg=$DIR/nrfca.json
"$A" check --config "$cfg" >/dev/null || fail "'check --config F' fails"
"$A" --config "$cfg" check >/dev/null || fail "'--config F check' fails"
"$A" check --config="$cfg" >/dev/null || fail "'check --config=F' fails"
"$A" token --config "$cfg" add --name late-global --role auditor --quiet >/dev/null || fail "'token --config F add' fails"
"$A" token list --config "$cfg" | grep -q '^late-global ' || fail "'token list --config F' does not list the new credential"
server_start "$DIR" || { fail "server start"; finish; }
new_csr ec:P-256 "$(uuid)" "$empty/dev.csr"
csr_body "$empty/dev.csr" "$empty/body.json"
code=$(req POST /v1/enroll "$DIR/station.token" "$empty/body.json")
[ "$code" = 201 ] || fail "enroll: HTTP $code $(cat "$DIR/out.json")"
serial=$(jf serial)
out=$("$A" revoke --reason superseded "$serial" --config "$cfg" 2>&1) || fail "'revoke --reason superseded SERIAL --config F': $out"
"$A" list --status revoked --config "$cfg" | grep -q "^$serial .*revoked" || fail "the certificate is not listed as revoked"
out=$("$A" revoke "$serial" --config "$cfg" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "revoking twice: exit $rc (want 1: failed, not usage)"
echo "ok: global options before and after the command; revoke --reason R SERIAL"
finish
