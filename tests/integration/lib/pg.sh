# pg.sh - a private PostgreSQL cluster for one test (source it).
#
#   pg_start DIR   initdb + pg_ctl start: data in DIR/pgdata, the Unix socket in
#                  DIR/pgsock (or a short folder under /tmp when that path is too
#                  long for a socket), listen_addresses='' (no TCP), fsync on.
#                  Superuser "nrfca" with trust on the socket; database "nrfca".
#                  Exports PG_SOCKDIR, PG_URL (libpq keywords for database nrfca),
#                  NRFCA_TEST_PG (the same without dbname), PG_BIN.
#   pg_stop        pg_ctl stop (fast), then removes the cluster's folders.
#   pg_psql SQL    runs SQL in database nrfca, prints rows unaligned.
#
# initdb refuses to run as root: as root the cluster is run by an unprivileged
# system user (postgres if it exists, else nobody) through runuser, in folders
# that user owns; a developer who is not root runs it as herself.  Returns 77
# (CTest's skip code) from pg_start when PostgreSQL's server programs are not
# installed (Debian package postgresql).

pg_find_bin() {
	local d
	PG_BIN=
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && PG_BIN=$d   # the glob sorts: the newest version wins
	done
	[ -n "$PG_BIN" ] || { command -v initdb >/dev/null && PG_BIN=$(dirname "$(command -v initdb)"); }
	[ -n "$PG_BIN" ]
}

# run a PostgreSQL server program as the cluster's owner
pg_as_owner() {
	if [ -n "${PG_OWNER:-}" ]; then
		runuser -u "$PG_OWNER" -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir=$1 log
	pg_find_bin || { echo "SKIP: PostgreSQL server programs (initdb, pg_ctl) are not installed" >&2; return 77; }
	PG_OWNER=
	if [ "$(id -u)" = 0 ]; then
		if id postgres >/dev/null 2>&1; then PG_OWNER=postgres; else PG_OWNER=nobody; fi
	fi
	PG_SOCK_TMP=
	PG_DATA=$dir/pgdata
	PG_SOCKDIR=$dir/pgsock
	rm -rf "$PG_DATA" "$PG_SOCKDIR"
	mkdir -p "$PG_DATA" "$PG_SOCKDIR"
	chmod 700 "$PG_DATA"
	if [ -n "$PG_OWNER" ]; then
		chown "$PG_OWNER" "$PG_DATA" "$PG_SOCKDIR"
		chmod o+x "$dir"   # the test's own folder: let the owner through
		if ! runuser -u "$PG_OWNER" -- test -w "$PG_DATA"; then
			# a folder above is closed to other users: do not open it, use /tmp
			rm -rf "$PG_DATA" "$PG_SOCKDIR"
			PG_SOCK_TMP=$(mktemp -d /tmp/nrfca-pg.XXXXXX)
			PG_DATA=$PG_SOCK_TMP/data
			PG_SOCKDIR=$PG_SOCK_TMP/sock
			mkdir -p "$PG_DATA" "$PG_SOCKDIR"
			chmod 700 "$PG_DATA"
			chmod 755 "$PG_SOCK_TMP"
			chown "$PG_OWNER" "$PG_DATA" "$PG_SOCKDIR"
		fi
	fi
	# a Unix socket path holds at most 107 bytes
	if [ $(( ${#PG_SOCKDIR} + 20 )) -gt 100 ]; then
		rmdir "$PG_SOCKDIR"
		PG_SOCKDIR=$(mktemp -d /tmp/nrfca-pgsock.XXXXXX)
		[ -z "$PG_OWNER" ] || chown "$PG_OWNER" "$PG_SOCKDIR"
		PG_SOCK_DIR_TMP=$PG_SOCKDIR
	fi
	log=$PG_DATA.log
	: >"$log"
	[ -z "$PG_OWNER" ] || chown "$PG_OWNER" "$log"
	pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U nrfca -A trust -E UTF8 --no-locale >>"$log" 2>&1 ||
		{ echo "initdb failed:" >&2; tail -5 "$log" >&2; return 1; }
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$log" -w -t 60 \
		-o "-c listen_addresses='' -k $PG_SOCKDIR -c fsync=on -c max_connections=100 -c shared_buffers=32MB" \
		start >/dev/null ||
		{ echo "PostgreSQL did not start:" >&2; tail -5 "$log" >&2; return 1; }
	export PG_SOCKDIR PG_BIN
	export NRFCA_TEST_PG="host=$PG_SOCKDIR user=nrfca"
	export PG_URL="host=$PG_SOCKDIR dbname=nrfca user=nrfca"
	"$PG_BIN/psql" -X -q -h "$PG_SOCKDIR" -U nrfca -d postgres -c "CREATE DATABASE nrfca" >/dev/null ||
		{ echo "cannot create database nrfca" >&2; return 1; }
}

pg_psql() {
	"$PG_BIN/psql" -X -q -A -t -h "$PG_SOCKDIR" -U nrfca -d nrfca -c "$1"
}

pg_stop() {
	[ -n "${PG_DATA:-}" ] || return 0
	if [ -f "$PG_DATA/postmaster.pid" ]; then
		pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DATA"
	[ -z "${PG_SOCK_TMP:-}" ] || rm -rf "$PG_SOCK_TMP"
	[ -z "${PG_SOCK_DIR_TMP:-}" ] || rm -rf "$PG_SOCK_DIR_TMP"
	[ -d "${PG_SOCKDIR:-}" ] && rmdir "$PG_SOCKDIR" 2>/dev/null
	PG_DATA= PG_SOCK_TMP= PG_SOCK_DIR_TMP=
}
