#!/bin/bash
# run-bench-ledger-pg.sh BUILD [TOTAL] - bench_ledger on SQLite and on a private
# PostgreSQL cluster (tests/integration/lib/pg.sh, under BUILD, removed
# afterwards), one after the other in one run so the figures compare.
set -u
build=$(cd "${1:?usage: run-bench-ledger-pg.sh BUILD [TOTAL]}" && pwd) total=${2:-8000}
dir=$build/tests/bench/ledger/pg-$$
mkdir -p "$dir"
. "$(dirname "$0")/../../integration/lib/pg.sh"
trap 'pg_stop; rm -rf "$dir"' EXIT
pg_start "$dir" || exit $?
echo "== SQLite"
"$build/bin/bench_ledger" "$dir" "$total"
echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (Unix socket, fsync on)"
"$build/bin/bench_ledger" "$PG_URL" "$total"
