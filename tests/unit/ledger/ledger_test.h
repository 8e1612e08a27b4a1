/*
 * ledger_test.h - helpers shared by the ledger unit tests.  The same test
 * binary runs against SQLite (default: files under $NRFCA_LEDGER_TMP) and
 * against PostgreSQL (when $NRFCA_TEST_PG holds libpq connection keywords
 * without dbname, e.g. "host=/path/to/socket user=nrfca"; each test gets
 * its own database, dropped afterwards).
 */
#ifndef NRFCA_LEDGER_TEST_H
#define NRFCA_LEDGER_TEST_H

#include <stddef.h>

#include "ledger.h"

extern int g_pg;        /* running against PostgreSQL */
extern char g_dir[512]; /* scratch folder (both engines) */

/* The URL of test database `name`; removing it (files or database). */
void db_url(char *buf, size_t n, const char *name);
void db_remove(const char *name);
/* Remove, then create an empty one (PostgreSQL: CREATE DATABASE). */
void db_create(const char *name);
/* PostgreSQL: end every session on test database `name` (a lost server). */
void pg_kill_connections(const char *name);
/* Remove, then open with cfg (may be NULL); fails the test on error. */
struct ledger *open_fresh(const char *name, const struct ledger_config *cfg);
struct ledger *open_again(const char *name, const struct ledger_config *cfg);

/* Raw access to a test database, beside the ledger (tampering, checks). */
struct raw;
struct raw *raw_open(const char *name);
void raw_close(struct raw *r);
/* 0, or -1 with the engine's message in raw_msg(). */
int raw_exec(struct raw *r, const char *sql);
const char *raw_msg(struct raw *r);
/* First column of the first row as an integer (-1 if no row). */
long long raw_int(struct raw *r, const char *sql);
/* Hold the lock every ledger writer needs, until raw_exec(r, "COMMIT"). */
void raw_block(struct raw *r);
/* Set a 32-byte column: UPDATE table SET col = <bytes> WHERE id = id. */
void raw_set_hash(struct raw *r, const char *table, const char *col, long long id, const unsigned char h[32]);

void sha(const void *data, size_t n, unsigned char out[32]);
/* A record with serial derived from (a, b) and a CSR hash derived from the
 * serial; der is 100 bytes owned by the record; one_active = 0. */
void make_rec(struct cert_record *r, unsigned a, unsigned b, const char *device, const char *profile,
              const char *station, long long issued_at);
void issue(struct ledger *l, struct cert_record *r);
long long count_certs(struct ledger *l);
long long count_active(struct ledger *l, const char *device);
long long verify_ok(struct ledger *l);
/* The documented audit hash, written again here. */
void spec_hash(const unsigned char prev[32], long long id, long long at, const char *actor, const char *event,
               const char *detail, unsigned char out[32]);

/* Test groups (each file lists its own). */
extern const struct CMUnitTest ledger_core_tests[];
extern const size_t ledger_core_n;
extern const struct CMUnitTest ledger_v2_tests[];
extern const size_t ledger_v2_n;
extern const struct CMUnitTest ledger_creds_tests[];
extern const size_t ledger_creds_n;
extern const struct CMUnitTest ledger_crl_tests[];
extern const size_t ledger_crl_n;

#define SQLITE_ONLY()                                                      \
	do {                                                               \
		if (g_pg) {                                                \
			print_message("(SQLite only: skipped on PostgreSQL)\n"); \
			skip();                                            \
		}                                                          \
	} while (0)

#endif
