# server.sh - a private nrfca-server for one test (source after softhsm.sh).
#
#   server_setup DIR [POLICY]  token + ceremony + database + credentials in DIR;
#                              writes DIR/station.token, DIR/operator.token,
#                              DIR/auditor.token; exports NRFCA_CONFIG
#   server_launch CONFIG PORTFILE LOG   one nrfca-server in the background:
#                              LAUNCH_PID, LAUNCH_URL
#   server_start DIR           starts nrfca-server on a free loopback port;
#                              exports SERVER_URL, SERVER_PID; log in DIR/server.log
#   server_stop [SIGNAL]       SIGTERM (or SIGNAL), waits for exit (kill -9 after 10 s)
#   curl_json METHOD PATH TOKENFILE [BODYFILE]   prints body, then "HTTP <code>" line
#
#   server_db_teardown         stops the ledger's PostgreSQL cluster, if any
#
# The ledger is SQLite (DIR/nrfca.db) unless NRFCA_TEST_DB=postgresql: then
# server_setup starts a private PostgreSQL cluster in DIR (lib/pg.sh; exit
# code 77 when PostgreSQL is not installed) and the caller's EXIT trap must
# call server_db_teardown before removing DIR.
#
# Needs $BUILD (the build tree).  Everything lives in DIR.
: "${BUILD:?set BUILD to the build tree}"
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

server_db_teardown() {
	pg_stop
}

server_setup() {
	local dir=$1 policy=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/policies/default.json}
	local db="sqlite:$dir/nrfca.db"
	pg_stop   # a cluster of an earlier setup in this DIR
	softhsm_setup "$dir" "srv-$$-$RANDOM"
	case "${NRFCA_TEST_DB:-sqlite}" in
	sqlite) ;;
	postgresql) pg_start "$dir" || return $?; db=$PG_URL ;;
	*) echo "NRFCA_TEST_DB must be sqlite or postgresql, not '$NRFCA_TEST_DB'" >&2; return 2 ;;
	esac
	cat >"$dir/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "token": { "uri": "$NRFCA_TEST_URI", "pool_size": 4 },
  "ca": { "chain": "$dir/ca-chain.pem" },
  "database": "$db",
  "policy": "$policy",
  "limits": { "request_timeout": 10 }
}
CONF
	export NRFCA_CONFIG=$dir/nrfca.json
	"$BUILD/bin/nrfca-admin" init --subject "CN=Test Root,O=nrfca tests" >/dev/null || return 1
	local role
	for role in station operator auditor; do
		"$BUILD/bin/nrfca-admin" token add --name "test-$role" --role $role --quiet >"$dir/$role.token" || return 1
	done
}

# nrfca-server with CONFIG in the background, its port (0: the kernel's) in
# PORTFILE, stderr appended to LOG; NRFCA_PORT of the caller's environment is
# not passed on.  Sets LAUNCH_PID (the server's own pid) and LAUNCH_URL once it
# listens.
server_launch() {
	local conf=$1 pf=$2 log=$3 i
	rm -f "$pf"
	env -u NRFCA_PORT "$BUILD/bin/nrfca-server" --config "$conf" --port-file "$pf" 2>>"$log" &
	LAUNCH_PID=$!
	for i in $(seq 1 200); do
		[ -s "$pf" ] && break
		kill -0 "$LAUNCH_PID" 2>/dev/null || { echo "nrfca-server exited at start:" >&2; tail -5 "$log" >&2; return 1; }
		sleep 0.05
	done
	[ -s "$pf" ] || { echo "nrfca-server did not start" >&2; return 1; }
	LAUNCH_URL=http://127.0.0.1:$(cat "$pf")
}

server_start() {
	local dir=$1 rc
	server_launch "$dir/nrfca.json" "$dir/port" "$dir/server.log"
	rc=$?
	SERVER_PID=$LAUNCH_PID
	[ $rc = 0 ] || return 1
	SERVER_URL=$LAUNCH_URL
	export SERVER_URL SERVER_PID
}

server_stop() { # [SIGNAL]
	[ -n "${SERVER_PID:-}" ] || return 0
	kill "-${1:-TERM}" "$SERVER_PID" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_RC=$?
	SERVER_PID=
}

curl_json() {
	local method=$1 path=$2 tok=${3:-} body=${4:-}
	local args=(-s -X "$method" -w '\nHTTP %{http_code}\n')
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $(cat "$tok")")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
	curl "${args[@]}" "$SERVER_URL$path"
}
