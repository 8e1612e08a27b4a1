#!/bin/bash
# run_pg.sh TEST_BINARY TMPDIR - the ledger unit tests against a private
# PostgreSQL cluster (tests/integration/lib/pg.sh), removed afterwards.
set -u
bin=$1 tmp=$2
dir=$tmp/pg-$$
mkdir -p "$dir"
. "$(dirname "$0")/../../integration/lib/pg.sh"
trap 'pg_stop; rm -rf "$dir"' EXIT
pg_start "$dir" || exit $?
NRFCA_LEDGER_TMP=$tmp "$bin"
