# cluster.sh - several nrfca-server instances on one private PostgreSQL ledger
# behind HAProxy (deploy/haproxy/nrfca.cfg), for one test (source after
# softhsm.sh and server.sh).
#
#   cluster_setup DIR [POLICY]  server_setup on PostgreSQL (lib/pg.sh) with
#                               limits.max_connections_per_ip = 0 (every
#                               connection comes from the proxy)
#   cluster_start DIR [N]       N (3) instances, then HAProxy; returns once
#                               HAProxy sees every instance up.  Exports
#                               INST_URL[1..N], INST_PID[1..N], FRONT_URL,
#                               HAPROXY_PID; SERVER_URL = FRONT_URL
#   instance_start DIR I        (re)start instance I on a new kernel-chosen port
#                               (the proxy keeps its old address: use before
#                               haproxy_start, or talk to it directly)
#   instance_stop I [SIGNAL]    SIGTERM (or SIGNAL, e.g. KILL) and wait
#   haproxy_start DIR           HAProxy on a loopback port the kernel chose (a
#                               socket bound here, passed as descriptor 3)
#   haproxy_cmd DIR CMD         a command on HAProxy's admin socket
#   haproxy_up DIR              how many instances HAProxy sees up
#   cluster_stop                HAProxy and every instance
#
# Logs: DIR/server.I.log, DIR/haproxy.log.  Skips (77) without haproxy.
: "${BUILD:?set BUILD to the build tree}"
CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
declare -a INST_URL INST_PID
CLUSTER_N=0
HAPROXY_PID=

cluster_setup() {
	local dir=$1 policy=${2:-}
	command -v haproxy >/dev/null || { echo "SKIP: haproxy is not installed (Debian package haproxy)" >&2; return 77; }
	NRFCA_TEST_DB=postgresql server_setup "$dir" $policy || return $?
	jq '.limits.max_connections_per_ip = 0' "$dir/nrfca.json" >"$dir/nrfca.json.new" &&
		mv "$dir/nrfca.json.new" "$dir/nrfca.json"
}

instance_start() {
	local dir=$1 i=$2 rc
	server_launch "$dir/nrfca.json" "$dir/port.$i" "$dir/server.$i.log"
	rc=$?
	INST_PID[$i]=$LAUNCH_PID
	[ $rc = 0 ] || { echo "(instance $i)" >&2; return 1; }
	INST_URL[$i]=$LAUNCH_URL
}

instance_stop() {
	local SERVER_PID=${INST_PID[$1]:-} SERVER_RC
	server_stop "${2:-TERM}"
	INST_PID[$1]=
}

haproxy_cmd() {
	"$PY" - "$1/haproxy/admin.sock" "$2" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PYEOF
}

# srv_op_state 2 = running (up)
haproxy_up() {
	haproxy_cmd "$1" "show servers state nrfca_instances" 2>/dev/null |
		awk '$1 ~ /^[0-9]+$/ && $6 == 2 { n++ } END { print n + 0 }'
}

haproxy_start() {
	local dir=$1 i k
	mkdir -p "$dir/haproxy"
	chmod 700 "$dir/haproxy"
	rm -f "$dir/front.port"
	for i in $(seq 1 "$CLUSTER_N"); do
		export "NRFCA_INSTANCE$i=${INST_URL[$i]#http://}"
	done
	export NRFCA_FRONT=fd@3 NRFCA_HAPROXY_DIR=$dir/haproxy
	# bind a loopback socket on a port the kernel chooses, hand it to haproxy
	"$PY" - "$dir/front.port" haproxy -db -f "$CLUSTER_SRC/deploy/haproxy/nrfca.cfg" \
		>>"$dir/haproxy.log" 2>&1 <<'PYEOF' &
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(512)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
os.execvp(sys.argv[2], sys.argv[2:])
PYEOF
	HAPROXY_PID=$!
	for k in $(seq 1 200); do
		[ -s "$dir/front.port" ] && [ -S "$dir/haproxy/admin.sock" ] &&
			[ "$(haproxy_up "$dir")" = "$CLUSTER_N" ] && break
		kill -0 "$HAPROXY_PID" 2>/dev/null ||
			{ echo "haproxy exited at start:" >&2; tail -5 "$dir/haproxy.log" >&2; return 1; }
		sleep 0.1
	done
	[ "$(haproxy_up "$dir")" = "$CLUSTER_N" ] ||
		{ echo "haproxy does not see $CLUSTER_N instances up: $(haproxy_up "$dir")" >&2; return 1; }
	FRONT_URL=http://127.0.0.1:$(cat "$dir/front.port")
	SERVER_URL=$FRONT_URL
	export FRONT_URL SERVER_URL
}

cluster_start() {
	local dir=$1 n=${2:-3} i
	CLUSTER_N=$n
	for i in $(seq 1 "$n"); do
		instance_start "$dir" "$i" || return 1
	done
	haproxy_start "$dir"
}

cluster_stop() {
	local i
	if [ -n "${HAPROXY_PID:-}" ]; then
		kill -TERM "$HAPROXY_PID" 2>/dev/null
		wait "$HAPROXY_PID" 2>/dev/null
		HAPROXY_PID=
	fi
	for i in $(seq 1 "$CLUSTER_N"); do
		instance_stop "$i"
	done
}
