/*
 * ledger_test_util.c - the helpers of ledger_test.h for both engines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "ledger_test.h"

int g_pg;
char g_dir[512];

static void pg_name(char *buf, size_t n, const char *name)
{
	size_t i;

	snprintf(buf, n, "t_%s", name);
	for (i = 0; buf[i] != '\0'; i++)
		if (!((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9')))
			buf[i] = '_';
}

void db_url(char *buf, size_t n, const char *name)
{
	char db[80];

	if (!g_pg) {
		snprintf(buf, n, "sqlite:%s/%s", g_dir, name);
		return;
	}
	pg_name(db, sizeof(db), name);
	snprintf(buf, n, "%s dbname=%s", getenv("NRFCA_TEST_PG"), db);
}

static PGconn *pg_admin(void)
{
	char ci[600];
	PGconn *c;

	snprintf(ci, sizeof(ci), "%s dbname=postgres", getenv("NRFCA_TEST_PG"));
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot reach the test PostgreSQL (%s): %s", ci, PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

static void pg_admin_exec(const char *verb, const char *db, const char *tail)
{
	char sql[256];
	PGconn *c = pg_admin();
	PGresult *r;

	snprintf(sql, sizeof(sql), "%s %s%s", verb, db, tail);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

void db_remove(const char *name)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal", ".lock" };
	char p[700];
	size_t i;

	if (g_pg) {
		pg_name(p, sizeof(p), name);
		pg_admin_exec("DROP DATABASE IF EXISTS", p, " WITH (FORCE)");
		return;
	}
	for (i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/%s%s", g_dir, name, suffix[i]);
		unlink(p);
	}
}

struct ledger *open_again(const char *name, const struct ledger_config *cfg)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;
	char url[700];

	db_url(url, sizeof(url), name);
	if (ledger_open_cfg(url, cfg, &l, &err) != 0)
		fail_msg("ledger_open %s: %s", url, err.msg);
	return l;
}

void db_create(const char *name)
{
	char db[80];

	db_remove(name);
	if (g_pg) {
		pg_name(db, sizeof(db), name);
		pg_admin_exec("CREATE DATABASE", db, "");
	}
}

struct ledger *open_fresh(const char *name, const struct ledger_config *cfg)
{
	db_create(name);
	return open_again(name, cfg);
}

void pg_kill_connections(const char *name)
{
	char db[80], sql[256];
	PGconn *c = pg_admin();
	PGresult *r;

	pg_name(db, sizeof(db), name);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", db);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* ---- raw access ---- */

struct raw {
	sqlite3 *db;
	PGconn *pg;
	char msg[512];
};

struct raw *raw_open(const char *name)
{
	struct raw *r = calloc(1, sizeof(*r));
	char p[700];

	assert_non_null(r);
	if (g_pg) {
		db_url(p, sizeof(p), name);
		r->pg = PQconnectdb(p);
		if (PQstatus(r->pg) != CONNECTION_OK)
			fail_msg("raw connection to %s: %s", p, PQerrorMessage(r->pg));
		PQclear(PQexec(r->pg, "SET client_min_messages = warning"));
		return r;
	}
	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	assert_int_equal(sqlite3_open_v2(p, &r->db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(r->db, 5000);
	return r;
}

void raw_close(struct raw *r)
{
	if (r == NULL)
		return;
	if (r->pg != NULL)
		PQfinish(r->pg);
	if (r->db != NULL)
		sqlite3_close(r->db);
	free(r);
}

const char *raw_msg(struct raw *r)
{
	return r->msg;
}

int raw_exec(struct raw *r, const char *sql)
{
	PGresult *res;
	int ok;

	r->msg[0] = '\0';
	if (r->db != NULL) {
		if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) == SQLITE_OK)
			return 0;
		snprintf(r->msg, sizeof(r->msg), "%s", sqlite3_errmsg(r->db));
		return -1;
	}
	res = PQexec(r->pg, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(r->msg, sizeof(r->msg), "%s", PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

long long raw_int(struct raw *r, const char *sql)
{
	sqlite3_stmt *st = NULL;
	PGresult *res;
	long long v = -1;

	if (r->db != NULL) {
		assert_int_equal(sqlite3_prepare_v2(r->db, sql, -1, &st, NULL), SQLITE_OK);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return v;
	}
	res = PQexec(r->pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	if (PQntuples(res) > 0)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

void raw_block(struct raw *r)
{
	if (r->db != NULL)
		assert_int_equal(raw_exec(r, "BEGIN IMMEDIATE"), 0);
	else
		assert_int_equal(raw_exec(r, "BEGIN; SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"), 0);
}

void raw_set_hash(struct raw *r, const char *table, const char *col, long long id, const unsigned char h[32])
{
	char sql[256], hex[65];
	int i;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	if (r->db != NULL)
		snprintf(sql, sizeof(sql), "UPDATE %s SET %s = x'%s' WHERE id = %lld", table, col, hex, id);
	else
		snprintf(sql, sizeof(sql), "UPDATE %s SET %s = '\\x%s'::bytea WHERE id = %lld", table, col, hex, id);
	if (raw_exec(r, sql) != 0)
		fail_msg("%s: %s", sql, raw_msg(r));
}

/* ---- records ---- */

void sha(const void *data, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(data, n, out, &len, EVP_sha256(), NULL), 1);
}

void make_rec(struct cert_record *r, unsigned a, unsigned b, const char *device, const char *profile,
              const char *station, long long issued_at)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%016x%016x", a, b);
	snprintf(r->device_id, sizeof(r->device_id), "%s", device);
	snprintf(r->uuid, sizeof(r->uuid), "%s", "50503041-3633-4261-803d-1e2b8f70111a");
	snprintf(r->imei, sizeof(r->imei), "%s", "351358811234567");
	snprintf(r->profile, sizeof(r->profile), "%s", profile);
	snprintf(r->station, sizeof(r->station), "%s", station);
	r->sec_tag = 16842753;
	sha(r->serial, strlen(r->serial), r->csr_sha256);
	sha(r->device_id, strlen(r->device_id), r->pubkey_sha256);
	snprintf(r->subject, sizeof(r->subject), "CN=%s", device);
	r->not_before = 1700000000;
	r->not_after = 1700000000 + 86400 * 365;
	r->issued_at = issued_at;
	r->status = CERT_ACTIVE;
	r->revocation_reason = -1;
	snprintf(r->request_id, sizeof(r->request_id), "req-%u-%u", a, b);
	r->der_len = 100;
	r->der = malloc(r->der_len);
	assert_non_null(r->der);
	memset(r->der, (int)(a + b) & 0xff, r->der_len);
}

void issue(struct ledger *l, struct cert_record *r)
{
	struct nrfca_err err = { 0 };

	if (ledger_record_issuance(l, r, "station-1", NULL, &err) != 0)
		fail_msg("issuance: %s", err.msg);
}

long long count_certs(struct ledger *l)
{
	struct nrfca_err err = { 0 };
	long long n = -1, rev = -1;

	assert_int_equal(ledger_count(l, &n, &rev, &err), 0);
	return n;
}

static int count_cb(const struct cert_record *r, void *arg)
{
	(void)r;
	(*(long long *)arg)++;
	return 0;
}

long long count_active(struct ledger *l, const char *device)
{
	struct ledger_filter f = { .device_id = device, .status = "active" };
	struct nrfca_err err = { 0 };
	long long n = 0;

	if (ledger_list(l, &f, count_cb, &n, &err) != 0)
		fail_msg("list: %s", err.msg);
	return n;
}

long long verify_ok(struct ledger *l)
{
	struct nrfca_err err = { 0 };
	long long n = -1, broken = -1;
	char why[200];

	if (ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err) != 0)
		fail_msg("audit verify: %s %s", why, err.msg);
	assert_int_equal(broken, 0);
	return n;
}

void spec_hash(const unsigned char prev[32], long long id, long long at, const char *actor, const char *event,
               const char *detail, unsigned char out[32])
{
	unsigned char buf[4096];
	size_t n = 0, len;
	const char *parts[3] = { actor, event, detail };
	int i, k;

	memcpy(buf, prev, 32);
	n = 32;
	for (k = 7; k >= 0; k--)
		buf[n++] = (unsigned char)((unsigned long long)id >> (8 * k));
	for (k = 7; k >= 0; k--)
		buf[n++] = (unsigned char)((unsigned long long)at >> (8 * k));
	for (i = 0; i < 3; i++) {
		len = strlen(parts[i]);
		assert_true(n + 4 + len < sizeof(buf));
		for (k = 3; k >= 0; k--)
			buf[n++] = (unsigned char)(len >> (8 * k));
		memcpy(buf + n, parts[i], len);
		n += len;
	}
	sha(buf, n, out);
}
