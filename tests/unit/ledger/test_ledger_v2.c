/*
 * Unit tests of schema 2: one active record per device enforced by the
 * ledger under concurrency (several threads, two handles standing in for two
 * instances), migration of a v1 ledger, record kinds, the revocation mark,
 * rate windows, expected devices, audit listing, backup, the one-writer lock
 * and file modes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger_int.h"
#include "ledger_test.h"

/* ---- one active record per device ---- */

static void one_active(struct cert_record *r)
{
	r->one_active = 1;
}

/* ledger_find_csr_or_holder finds the record `serial` (holder: whether as
 * the device's holder), or nothing when serial is NULL */
static void expect_csr_or_holder(struct ledger *l, const unsigned char *csr, const char *dev,
                                 enum cert_kind kind, const char *serial, int holder)
{
	struct nrfca_err err = { 0 };
	struct cert_record got = { 0 };
	int h = -1;

	assert_int_equal(ledger_find_csr_or_holder(l, csr, dev, kind, &got, &h, &err),
	                 serial != NULL ? 0 : 1);
	if (serial == NULL)
		return;
	assert_string_equal(got.serial, serial);
	assert_int_equal(h, holder);
	cert_record_clear(&got);
}

static void test_one_active_rules(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("one.db", NULL);
	struct cert_record a, b, c, d, got;
	struct raw *db;
	char sql[512];

	(void)state;
	make_rec(&a, 20, 1, "dev-1", "p1", "s1", 100);
	make_rec(&b, 20, 2, "dev-1", "p1", "s1", 200);
	make_rec(&c, 20, 3, "dev-1", "p1", "s1", 300);
	make_rec(&d, 20, 4, "dev-1", "p1", "s1", 400);
	one_active(&a);
	one_active(&b);
	one_active(&c);
	snprintf(a.slot, sizeof(a.slot), "fixture-3");

	assert_int_equal(ledger_find_holder(l, "dev-1", CERT_KIND_CERTIFICATE, &got, &err), 1);
	assert_int_equal(ledger_record_issuance(l, &a, "s1", NULL, &err), 0);
	assert_int_equal(ledger_find_holder(l, "dev-1", CERT_KIND_CERTIFICATE, &got, &err), 0);
	assert_string_equal(got.serial, a.serial);
	assert_int_equal(got.one_active, 1);
	assert_int_equal(got.kind, CERT_KIND_CERTIFICATE);
	assert_string_equal(got.slot, "fixture-3");
	cert_record_clear(&got);

	/* decided on "no certificate" while a holds it: stale, naming a */
	assert_int_equal(ledger_record_issuance(l, &b, "s1", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_STALE);
	assert_non_null(strstr(err.msg, a.serial));
	assert_string_equal(nrfca_errc_name(NRFCA_E_STALE), "stale");
	/* supersede a: a revoked (superseded), b the holder, in one step */
	assert_int_equal(ledger_record_issuance(l, &b, "s1", a.serial, &err), 0);
	assert_int_equal(ledger_get(l, a.serial, &got, &err), 0);
	assert_int_equal(got.status, CERT_REVOKED);
	assert_int_equal(got.revocation_reason, CRL_REASON_SUPERSEDED);
	cert_record_clear(&got);
	/* superseding a again (a stale decision): nothing written */
	assert_int_equal(ledger_record_issuance(l, &c, "s1", a.serial, &err), -1);
	assert_int_equal(err.code, NRFCA_E_STALE);
	assert_non_null(strstr(err.msg, b.serial));
	assert_int_equal(ledger_get(l, c.serial, &got, &err), 1);
	assert_int_equal(count_active(l, "dev-1"), 1);
	/* an enrollment's facts in one read: the CSR's own record first (in any
	 * status, before the holder), else the device's holder, else nothing */
	expect_csr_or_holder(l, a.csr_sha256, "dev-1", CERT_KIND_CERTIFICATE, a.serial, 0);
	expect_csr_or_holder(l, b.csr_sha256, "dev-1", CERT_KIND_CERTIFICATE, b.serial, 0);
	expect_csr_or_holder(l, c.csr_sha256, "dev-1", CERT_KIND_CERTIFICATE, b.serial, 1);
	expect_csr_or_holder(l, c.csr_sha256, "dev-9", CERT_KIND_CERTIFICATE, NULL, 0);
	expect_csr_or_holder(l, c.csr_sha256, "dev-1", CERT_KIND_PUBLIC_KEY, NULL, 0);
	/* a record without the mark may sit beside the holder */
	assert_int_equal(ledger_record_issuance(l, &d, "s1", NULL, &err), 0);
	assert_int_equal(count_active(l, "dev-1"), 2);
	assert_int_equal(ledger_find_holder(l, "dev-1", CERT_KIND_CERTIFICATE, &got, &err), 0);
	assert_string_equal(got.serial, b.serial);
	cert_record_clear(&got);
	/* the newest active certificate is d */
	assert_int_equal(ledger_find_active_by_device(l, "dev-1", &got, &err), 0);
	assert_string_equal(got.serial, d.serial);
	cert_record_clear(&got);

	/* the database itself refuses a second holder, whatever the code does */
	db = raw_open("one.db");
	snprintf(sql, sizeof(sql), "UPDATE certificates SET one_active = 1 WHERE serial = '%s'", d.serial);
	assert_int_equal(raw_exec(db, sql), -1);
	assert_non_null(strstr(raw_msg(db), g_pg ? "certificates_one_active" : "UNIQUE"));
	raw_close(db);
	/* issue + (issue + revoke) + issue */
	assert_int_equal(verify_ok(l), 4);

	cert_record_clear(&a);
	cert_record_clear(&b);
	cert_record_clear(&c);
	cert_record_clear(&d);
	ledger_close(l);
	db_remove("one.db");
}

#define N_RACERS 20

struct racer {
	struct ledger *l;
	unsigned i;
	int supersede;       /* the profile's on_existing */
	int issued, rejected, retries;
	char msg[NRFCA_ERR_MSG_MAX];
};

/* What ca_enroll does: read the holder, decide, record, and on STALE decide
 * again with the new facts. */
static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct nrfca_err err = { 0 };
	struct cert_record rec, holder;
	int tries, rc;

	make_rec(&rec, 30, r->i, "dev-race", "p1", "s1", 0);
	one_active(&rec);
	for (tries = 0; tries < 50; tries++) {
		memset(&holder, 0, sizeof(holder));
		rc = ledger_find_holder(r->l, "dev-race", CERT_KIND_CERTIFICATE, &holder, &err);
		if (rc < 0)
			break;
		if (rc == 0 && !r->supersede) {
			r->rejected = 1;
			cert_record_clear(&holder);
			break;
		}
		rc = ledger_record_issuance(r->l, &rec, "s1", rc == 0 ? holder.serial : NULL, &err);
		cert_record_clear(&holder);
		if (rc == 0) {
			r->issued = 1;
			break;
		}
		if (err.code != NRFCA_E_STALE)
			break;
		r->retries++;
	}
	if (!r->issued && !r->rejected)
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	cert_record_clear(&rec);
	return NULL;
}

static int revoked_superseded_cb(const struct cert_record *rec, void *arg)
{
	if (rec->status == CERT_REVOKED && rec->revocation_reason == CRL_REASON_SUPERSEDED)
		(*(int *)arg)++;
	return 0;
}

static void race_one_device(int supersede)
{
	struct ledger_filter f = { .device_id = "dev-race" };
	struct nrfca_err err = { 0 };
	struct ledger *l[2];
	struct racer r[N_RACERS];
	pthread_t th[N_RACERS];
	int i, issued = 0, rejected = 0, superseded = 0;

	l[0] = open_fresh("race1.db", NULL);
	l[1] = open_again("race1.db", NULL); /* a second instance */
	memset(r, 0, sizeof(r));
	for (i = 0; i < N_RACERS; i++) {
		r[i].l = l[i % 2];
		r[i].i = (unsigned)i;
		r[i].supersede = supersede;
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
	}
	for (i = 0; i < N_RACERS; i++) {
		pthread_join(th[i], NULL);
		if (!r[i].issued && !r[i].rejected)
			fail_msg("racer %d neither issued nor rejected: %s", i, r[i].msg);
		issued += r[i].issued;
		rejected += r[i].rejected;
	}
	assert_int_equal(count_active(l[0], "dev-race"), 1);
	if (supersede) {
		assert_int_equal(issued, N_RACERS);
		assert_int_equal(ledger_list(l[0], &f, revoked_superseded_cb, &superseded, &err), 0);
		assert_int_equal(superseded, N_RACERS - 1);
	} else {
		assert_int_equal(issued, 1);
		assert_int_equal(rejected, N_RACERS - 1);
		assert_int_equal(count_certs(l[0]), 1);
	}
	verify_ok(l[0]);
	ledger_close(l[0]);
	ledger_close(l[1]);
	db_remove("race1.db");
}

static void test_race_supersede(void **state)
{
	(void)state;
	race_one_device(1);
}

static void test_race_reject(void **state)
{
	(void)state;
	race_one_device(0);
}

struct csr_racer {
	struct ledger *l;
	struct cert_record rec;
	int rc;
	struct nrfca_err err;
};

static void *csr_main(void *arg)
{
	struct csr_racer *c = arg;

	c->rc = ledger_record_issuance(c->l, &c->rec, "s1", NULL, &c->err);
	return NULL;
}

/* The same CSR through two handles at once: one record, the other caller
 * learns to replay it. */
static void test_same_csr_two_handles(void **state)
{
	struct nrfca_err err = { 0 };
	struct csr_racer c[2];
	struct cert_record got;
	pthread_t th[2];
	int round, i, ok;

	(void)state;
	memset(c, 0, sizeof(c));
	c[0].l = open_fresh("csr.db", NULL);
	c[1].l = open_again("csr.db", NULL);
	for (round = 0; round < 10; round++) {
		char dev[24];

		snprintf(dev, sizeof(dev), "dev-c%d", round);
		for (i = 0; i < 2; i++) {
			make_rec(&c[i].rec, 40 + (unsigned)i, (unsigned)round, dev, "p1", "s1", 0);
			one_active(&c[i].rec);
			memcpy(c[i].rec.csr_sha256, c[0].rec.csr_sha256, 32); /* one CSR */
		}
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&th[i], NULL, csr_main, &c[i]), 0);
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		ok = (c[0].rc == 0) + (c[1].rc == 0);
		assert_int_equal(ok, 1);
		i = c[0].rc == 0 ? 1 : 0; /* the loser */
		/* conflict (same CSR) or stale (the device got its holder first) */
		assert_true(c[i].err.code == NRFCA_E_CONFLICT || c[i].err.code == NRFCA_E_STALE);
		assert_int_equal(ledger_find_by_csr(c[i].l, c[i].rec.csr_sha256, &got, &err), 0);
		assert_string_equal(got.serial, c[1 - i].rec.serial);
		cert_record_clear(&got);
		assert_int_equal(count_active(c[0].l, dev), 1);
		for (i = 0; i < 2; i++)
			cert_record_clear(&c[i].rec);
	}
	assert_int_equal(count_certs(c[0].l), 10);
	verify_ok(c[1].l);
	ledger_close(c[0].l);
	ledger_close(c[1].l);
	db_remove("csr.db");
}

struct audit_racer {
	struct ledger *l;
	int n, failures;
};

static void *audit_main(void *arg)
{
	struct audit_racer *a = arg;
	struct nrfca_err err = { 0 };
	int i;

	for (i = 0; i < a->n; i++)
		if (ledger_audit(a->l, "racer", "race.append", NULL, &err) != 0)
			a->failures++;
	return NULL;
}

/* Appends from two handles at once (two instances) keep one chain. */
static void test_audit_two_handles(void **state)
{
	struct audit_racer a[4];
	pthread_t th[4];
	struct ledger *l[2];
	int i;

	(void)state;
	l[0] = open_fresh("chain2.db", NULL);
	l[1] = open_again("chain2.db", NULL);
	for (i = 0; i < 4; i++) {
		a[i].l = l[i % 2];
		a[i].n = 100;
		a[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, audit_main, &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	assert_int_equal(verify_ok(l[0]), 400);
	ledger_close(l[0]);
	ledger_close(l[1]);
	db_remove("chain2.db");
}

/* ---- migration of a v1 ledger ---- */

/* Build a v1 ledger by hand: schema 1 only, three active certificates for
 * one device (what the v1 code allowed), audit entries. */
static void make_v1(const char *name)
{
	const struct ledger_engine *eng = g_pg ? &ledger_engine_pg : &ledger_engine_sqlite;
	unsigned char prev[32] = { 0 }, h[32];
	char *ddl, sql[2048];
	struct raw *db;
	int i;

	db_remove(name);
	if (g_pg) {
		struct ledger *l = open_fresh(name, NULL); /* creates the database */
		ledger_close(l);
		db = raw_open(name);
		assert_int_equal(raw_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"), 0);
	} else {
		char p[700];
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s", g_dir, name);
		f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
		db = raw_open(name);
	}
	ddl = ledger_sql_expand(ledger_migrations[0].steps[0].text, eng->dialect);
	assert_non_null(ddl);
	if (raw_exec(db, ddl) != 0)
		fail_msg("v1 schema: %s", raw_msg(db));
	free(ddl);
	assert_int_equal(raw_exec(db, "CREATE TABLE schema_version (version BIGINT PRIMARY KEY,"
	                              " applied_at BIGINT NOT NULL);"
	                              "INSERT INTO schema_version VALUES (1, 1700000000)"),
	                 0);
	for (i = 0; i < 4; i++) {
		/* dev-m: 3 active (issued 100, 200, 300); dev-n: 1 active */
		snprintf(sql, sizeof(sql),
		         "INSERT INTO certificates VALUES ('%02d', '%s', '', '', 'p1', 's1', 1, %s, %s, 'CN=x',"
		         " 0, 1, %d, 'active', NULL, NULL, '', %s)",
		         i + 1, i < 3 ? "dev-m" : "dev-n", g_pg ? "decode(md5(random()::text), 'hex') || decode(md5(random()::text), 'hex')" : "randomblob(32)",
		         g_pg ? "decode(repeat('00', 32), 'hex')" : "zeroblob(32)", (i + 1) * 100, g_pg ? "'\\x3082'::bytea" : "x'3082'");
		if (raw_exec(db, sql) != 0)
			fail_msg("%s: %s", sql, raw_msg(db));
	}
	for (i = 1; i <= 2; i++) {
		char hex[2][65];
		int k;

		spec_hash(prev, i, 1700000000 + i, "op", "issue", "{}", h);
		for (k = 0; k < 32; k++) {
			snprintf(hex[0] + 2 * k, 3, "%02x", prev[k]);
			snprintf(hex[1] + 2 * k, 3, "%02x", h[k]);
		}
		snprintf(sql, sizeof(sql), g_pg ? "INSERT INTO audit_log VALUES (%d, %d, 'op', 'issue', '{}', '\\x%s', '\\x%s')"
		                                : "INSERT INTO audit_log VALUES (%d, %d, 'op', 'issue', '{}', x'%s', x'%s')",
		         i, 1700000000 + i, hex[0], hex[1]);
		assert_int_equal(raw_exec(db, sql), 0);
		memcpy(prev, h, 32);
	}
	raw_close(db);
}

struct audit_find {
	const char *event;
	char detail[2048];
	int n;
};

static int audit_find_cb(const struct ledger_audit_entry *e, void *arg)
{
	struct audit_find *f = arg;

	f->n++;
	snprintf(f->detail, sizeof(f->detail), "%s", e->detail);
	return 0;
}

static void test_migrate_v1(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger_audit_filter af = { .event = "migration.one_active" };
	struct audit_find found = { 0 };
	struct cert_record got;
	struct ledger *l;
	struct raw *db;

	(void)state;
	make_v1("v1.db");
	l = open_again("v1.db", NULL);
	/* nothing revoked; the newest of dev-m holds the place, the older ones
	 * are active without the mark */
	assert_int_equal(count_active(l, "dev-m"), 3);
	assert_int_equal(ledger_find_holder(l, "dev-m", CERT_KIND_CERTIFICATE, &got, &err), 0);
	assert_string_equal(got.serial, "03");
	cert_record_clear(&got);
	assert_int_equal(ledger_find_holder(l, "dev-n", CERT_KIND_CERTIFICATE, &got, &err), 0);
	assert_string_equal(got.serial, "04");
	cert_record_clear(&got);
	assert_int_equal(ledger_get(l, "01", &got, &err), 0);
	assert_int_equal(got.one_active, 0);
	assert_int_equal(got.status, CERT_ACTIVE);
	assert_int_equal(got.kind, CERT_KIND_CERTIFICATE);
	cert_record_clear(&got);
	/* one audit entry names them; the chain continues the v1 entries */
	assert_int_equal(ledger_audit_list(l, &af, audit_find_cb, &found, &err), 0);
	assert_int_equal(found.n, 1);
	assert_non_null(strstr(found.detail, "\"kept\":\"03\""));
	assert_non_null(strstr(found.detail, "\"demoted\":[\"02\",\"01\"]"));
	assert_int_equal(verify_ok(l), 3);
	ledger_close(l);

	db = raw_open("v1.db");
	assert_int_equal(raw_int(db, "SELECT MAX(version) FROM schema_version"), ledger_schema_version());
	assert_int_equal(raw_int(db, "SELECT last_id FROM audit_head"), 3);
	/* schema 4: the list indexes replace certificates_status; schema 5: by profile */
	if (g_pg) {
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'certificates'"
					 " AND indexname IN ('certificates_list', 'certificates_revoked',"
					 " 'certificates_profile')"), 3);
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'certificates_status'"), 0);
	} else {
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
					 " ('certificates_list', 'certificates_revoked', 'certificates_profile')"), 3);
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'certificates_status'"), 0);
	}
	raw_close(db);
	/* opening again changes nothing */
	l = open_again("v1.db", NULL);
	assert_int_equal(verify_ok(l), 3);
	ledger_close(l);
	db_remove("v1.db");
}

/* ---- kinds, revocation mark ---- */

static int crl_count_cb(const char *serial, long long at, int reason, void *arg)
{
	(void)serial;
	(void)at;
	(void)reason;
	(*(int *)arg)++;
	return 0;
}

static int count_cb_public(const struct cert_record *rec, void *arg)
{
	assert_int_equal(rec->kind, CERT_KIND_PUBLIC_KEY);
	(*(int *)arg)++;
	return 0;
}

static void test_kinds_and_mark(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("kinds.db", NULL), *l2;
	struct ledger_filter f = { .kind = "public_key" };
	struct cert_record cert, pk, cert2, got;
	long long m0 = -1, m1 = -1, m2 = -1;
	int in_crl = 0, n = 0;

	(void)state;
	l2 = open_again("kinds.db", NULL);
	make_rec(&cert, 50, 1, "dev-k", "p1", "s1", 0);
	make_rec(&pk, 50, 2, "dev-k", "p1", "s1", 0);
	make_rec(&cert2, 50, 3, "dev-k", "p1", "s1", 0);
	one_active(&cert);
	one_active(&pk);
	one_active(&cert2);
	pk.kind = CERT_KIND_PUBLIC_KEY;
	assert_int_equal(ledger_revocation_mark(l, &m0, &err), 0);
	/* a certificate and a public key are held independently */
	assert_int_equal(ledger_record_issuance(l, &cert, "s1", NULL, &err), 0);
	assert_int_equal(ledger_record_issuance(l, &pk, "s1", NULL, &err), 0);
	assert_int_equal(ledger_find_holder(l, "dev-k", CERT_KIND_PUBLIC_KEY, &got, &err), 0);
	assert_string_equal(got.serial, pk.serial);
	assert_int_equal(got.kind, CERT_KIND_PUBLIC_KEY);
	cert_record_clear(&got);
	assert_int_equal(ledger_list(l, &f, count_cb_public, &n, &err), 0);
	assert_int_equal(n, 1);
	/* revocations of certificates move the mark, seen by the other handle
	 * too; public keys never reach the CRL, so revoking one leaves it */
	assert_int_equal(ledger_revoke(l, pk.serial, CRL_REASON_KEY_COMPROMISE, "op", NULL, &err), 0);
	assert_int_equal(ledger_revocation_mark(l2, &m1, &err), 0);
	assert_int_equal(m1, m0);
	assert_int_equal(ledger_record_issuance(l2, &cert2, "s1", cert.serial, &err), 0);
	assert_int_equal(ledger_revocation_mark(l, &m2, &err), 0);
	assert_int_equal(m2, m1 + 1);
	assert_int_equal(ledger_revoked_each(l, crl_count_cb, &in_crl, &err), 0);
	assert_int_equal(in_crl, 1); /* cert (superseded), not the public key */
	f.kind = "bogus";
	assert_int_equal(ledger_list(l, &f, count_cb_public, &n, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_string_equal(cert_kind_name(CERT_KIND_PUBLIC_KEY), "public_key");
	assert_int_equal(cert_kind_from_name("certificate"), CERT_KIND_CERTIFICATE);
	cert_record_clear(&cert);
	cert_record_clear(&pk);
	cert_record_clear(&cert2);
	ledger_close(l2);
	ledger_close(l);
	db_remove("kinds.db");
}

/* ---- rate windows ---- */

static void test_rate(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("rate.db", NULL), *l2 = open_again("rate.db", NULL);
	int retry = -1, i, rc;
	time_t t0 = time(NULL);

	(void)state;
	/* 3 per minute across both handles (two instances) */
	for (i = 0; i < 3; i++) {
		rc = ledger_rate_take(i % 2 ? l2 : l, "profile:p1/station:s1", 3, &retry, &err);
		if (rc != 0 && time(NULL) / 60 != t0 / 60)
			skip(); /* a minute boundary passed: the window restarted */
		assert_int_equal(rc, 0);
	}
	rc = ledger_rate_take(l2, "profile:p1/station:s1", 3, &retry, &err);
	if (time(NULL) / 60 != t0 / 60)
		skip();
	assert_int_equal(rc, 1);
	assert_true(retry >= 1 && retry <= 60);
	/* another bucket is counted apart */
	assert_int_equal(ledger_rate_take(l, "profile:p1/station:s2", 3, &retry, &err), 0);
	/* several buckets: counted in all or, when one is full, in none */
	{
		const struct ledger_rate b[2] = { { "profile:p2/station:s1", 2, 60 }, { "profile:p2", 3, 60 } };
		const struct ledger_rate b2[2] = { { "profile:p2/station:s2", 2, 60 }, { "profile:p2", 3, 60 } };
		const struct ledger_rate hour = { "supersede:p2/station:s1", 1, 3600 }, bad = { "x", 1, 59 };
		size_t by = 9;

		assert_int_equal(ledger_rate_take_n(l, b, 2, &retry, &by, &err), 0);
		assert_int_equal(ledger_rate_take_n(l2, b, 2, &retry, &by, &err), 0);
		rc = ledger_rate_take_n(l, b, 2, &retry, &by, &err); /* the station's is full */
		if (time(NULL) / 60 != t0 / 60)
			skip();
		assert_int_equal(rc, 1);
		assert_int_equal(by, 0);
		/* the refused take did not count in the profile's bucket: one left */
		assert_int_equal(ledger_rate_take_n(l2, b2, 2, &retry, &by, &err), 0);
		rc = ledger_rate_take_n(l, b2, 2, &retry, &by, &err); /* now the profile's is full */
		if (time(NULL) / 60 != t0 / 60)
			skip();
		assert_int_equal(rc, 1);
		assert_int_equal(by, 1);
		/* an hour's window */
		assert_int_equal(ledger_rate_take_n(l, &hour, 1, &retry, &by, &err), 0);
		rc = ledger_rate_take_n(l2, &hour, 1, &retry, &by, &err);
		if (time(NULL) / 3600 != t0 / 3600)
			skip();
		assert_int_equal(rc, 1);
		assert_true(retry >= 1 && retry <= 3600);
		assert_int_equal(ledger_rate_take_n(l, b, 0, &retry, &by, &err), -1);
		assert_int_equal(err.code, NRFCA_E_INPUT);
		assert_int_equal(ledger_rate_take_n(l, &bad, 1, &retry, &by, &err), -1);
		assert_int_equal(err.code, NRFCA_E_INPUT);
	}
	assert_int_equal(ledger_rate_take(l, "", 3, &retry, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_rate_take(l, "x", 0, &retry, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	/* windows older than the previous minute are pruned */
	{
		struct raw *db = raw_open("rate.db");
		assert_int_equal(raw_exec(db, "INSERT INTO rate_windows VALUES ('old', 60, 5)"), 0);
		/* an hour's window that began 30 minutes ago stays */
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO rate_windows VALUES ('hour', %lld, 1)",
		         (long long)time(NULL) - 1800);
		assert_int_equal(raw_exec(db, sql), 0);
		raw_close(db);
	}
	ledger_close(l2);
	l2 = open_again("rate.db", NULL); /* a new process prunes on its first take */
	assert_int_equal(ledger_rate_take(l2, "other", 10, &retry, &err), 0);
	{
		struct raw *db = raw_open("rate.db");
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM rate_windows WHERE bucket = 'old'"), 0);
		assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM rate_windows WHERE bucket = 'hour'"), 1);
		raw_close(db);
	}
	ledger_close(l2);
	ledger_close(l);
	db_remove("rate.db");
}

/* ---- expected devices ---- */

static void test_expected_devices(void **state)
{
	static const char *const order[] = { "dev-e1", "dev-e2", "dev-e3" };
	static const char *const more[] = { "dev-e3", "dev-e4" };
	static const char *const groups[] = { "line-1", "factory-a" };
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("expect.db", NULL);
	struct ledger_audit_filter af = { .event = "devices_import" };
	struct audit_find found = { 0 };
	unsigned char h[32];
	long long added = -1;
	int yes = -1;

	(void)state;
	sha("st", 2, h);
	assert_int_equal(ledger_cred_add(l, "station-a", ROLE_STATION, h, "admin", &err), 0);
	assert_int_equal(ledger_cred_set_groups(l, "station-a", groups, 2, "admin", &err), 0);
	assert_int_equal(ledger_expected_import(l, LEDGER_SCOPE_STATION, "station-a", "PO-1", order, 3, "admin",
	                                        &added, &err),
	                 0);
	assert_int_equal(added, 3);
	assert_int_equal(ledger_expected_import(l, LEDGER_SCOPE_GROUP, "line-1", "PO-2", more, 2, "admin", &added,
	                                        &err),
	                 0);
	assert_int_equal(added, 2);
	assert_int_equal(ledger_expected_import(l, LEDGER_SCOPE_STATION, "station-a", "PO-1", order, 3, "admin",
	                                        &added, &err),
	                 0);
	assert_int_equal(added, 0); /* already expected there */

	assert_int_equal(ledger_expected_check(l, "dev-e1", "station-a", &yes, &err), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(ledger_expected_check(l, "dev-e4", "station-a", &yes, &err), 0);
	assert_int_equal(yes, 1); /* through group line-1 */
	assert_int_equal(ledger_expected_check(l, "dev-e9", "station-a", &yes, &err), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(ledger_expected_check(l, "dev-e1", "station-b", &yes, &err), 0);
	assert_int_equal(yes, 0);
	/* out of the group: the group's devices no longer apply */
	assert_int_equal(ledger_cred_set_groups(l, "station-a", groups + 1, 1, "admin", &err), 0);
	assert_int_equal(ledger_expected_check(l, "dev-e4", "station-a", &yes, &err), 0);
	assert_int_equal(yes, 0);

	assert_int_equal(ledger_expected_import(l, LEDGER_SCOPE_GROUP, "bad name", "PO", more, 2, "a", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_expected_import(l, LEDGER_SCOPE_GROUP, "g", "PO", more, 0, "a", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	/* one audit entry per import, with the count and the batch */
	assert_int_equal(ledger_audit_list(l, &af, audit_find_cb, &found, &err), 0);
	assert_int_equal(found.n, 3);
	assert_non_null(strstr(found.detail, "\"batch\":\"PO-1\""));
	assert_non_null(strstr(found.detail, "\"count\":3"));
	ledger_close(l);
	db_remove("expect.db");
}

/* ---- audit listing ---- */

static int ids_cb(const struct ledger_audit_entry *e, void *arg)
{
	long long *ids = arg;

	ids[++ids[0]] = e->id;
	return 0;
}

static void test_audit_list(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("alist.db", NULL);
	struct ledger_audit_filter f;
	long long ids[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(ledger_audit(l, i % 2 ? "alice" : "bob", i < 5 ? "ev.a" : "ev.b", NULL, &err), 0);
	memset(&f, 0, sizeof(f));
	ids[0] = 0;
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), 0);
	assert_int_equal(ids[0], 10);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[10], 10);
	f.actor = "alice";
	f.event = "ev.b";
	ids[0] = 0;
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), 0);
	assert_int_equal(ids[0], 3); /* 6, 8, 10 */
	assert_int_equal(ids[1], 6);
	memset(&f, 0, sizeof(f));
	f.after_id = 7;
	f.limit = 2;
	ids[0] = 0;
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), 0);
	assert_int_equal(ids[0], 2);
	assert_int_equal(ids[1], 8);
	memset(&f, 0, sizeof(f));
	f.since = time(NULL) - 3600;
	f.until = time(NULL) + 3600;
	ids[0] = 0;
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), 0);
	assert_int_equal(ids[0], 10);
	f.until = 1000;
	ids[0] = 0;
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), 0);
	assert_int_equal(ids[0], 0);
	f.event = "Bad Event";
	assert_int_equal(ledger_audit_list(l, &f, ids_cb, ids, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	ledger_close(l);
	db_remove("alist.db");
}

/* ---- backup, lock, files ---- */

struct writer_load {
	struct ledger *l;
	volatile int stop;
	int n, failures;
};

static void *load_main(void *arg)
{
	struct writer_load *w = arg;
	struct nrfca_err err = { 0 };
	struct cert_record r;
	char dev[32];

	while (!w->stop) {
		snprintf(dev, sizeof(dev), "dev-load-%d", w->n);
		make_rec(&r, 60, (unsigned)w->n, dev, "p1", "s1", 0);
		if (ledger_record_issuance(w->l, &r, "s1", NULL, &err) != 0)
			w->failures++;
		cert_record_clear(&r);
		w->n++;
	}
	return NULL;
}

static void test_backup(void **state)
{
	struct nrfca_err err = { 0 };
	struct writer_load w = { 0 };
	struct ledger *l, *b;
	unsigned long long before = 0, after = 0;
	long long entries = -1, n;
	char dest[700], url[720];
	struct stat st;
	pthread_t th;

	(void)state;
	l = open_fresh("bk.db", NULL);
	if (g_pg) {
		assert_int_equal(ledger_backup(l, "/nonexistent/x.db", NULL, &err), -1);
		assert_int_equal(err.code, NRFCA_E_CONFIG);
		assert_non_null(strstr(err.msg, "pg_dump"));
		ledger_close(l);
		db_remove("bk.db");
		return;
	}
	snprintf(dest, sizeof(dest), "%s/bk-copy.db", g_dir);
	unlink(dest);
	w.l = l;
	assert_int_equal(pthread_create(&th, NULL, load_main, &w), 0);
	while (w.n < 50)
		usleep(1000);
	assert_int_equal(ledger_next_crl_number(l, &before, &err), 0);
	/* while the writer keeps issuing */
	if (ledger_backup(l, dest, &entries, &err) != 0)
		fail_msg("backup: %s", err.msg);
	w.stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(w.failures, 0);
	assert_true(entries >= 50);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a second backup to the same file is refused */
	assert_int_equal(ledger_backup(l, dest, NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	ledger_close(l);

	/* the copy is a whole ledger: chain intact, and its CRL numbers keep
	 * growing past those the original handed out */
	snprintf(url, sizeof(url), "sqlite:%s", dest);
	assert_int_equal(ledger_open(url, &b, &err), 0);
	n = verify_ok(b);
	assert_int_equal(n, entries);
	assert_int_equal(ledger_next_crl_number(b, &after, &err), 0);
	assert_true(after > before);
	ledger_close(b);
	unlink(dest);
	snprintf(dest, sizeof(dest), "%s/bk-copy.db-wal", g_dir);
	unlink(dest);
	snprintf(dest, sizeof(dest), "%s/bk-copy.db-shm", g_dir);
	unlink(dest);
	db_remove("bk.db");
}

static int lock_check(const char *url)
{
	struct ledger_config cfg = { .exclusive = 1, .program = "nrfca-server" };
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;

	if (ledger_open_cfg(url, &cfg, &l, &err) == 0) {
		ledger_close(l);
		return 1;
	}
	fprintf(stderr, "second server: %s\n", err.msg);
	return strstr(err.msg, "is already in use by nrfca-server (pid ") != NULL &&
	               strstr(err.msg, "one server per SQLite ledger, use PostgreSQL for several instances") != NULL
	           ? 0
	           : 2;
}

static void test_one_writer_lock(void **state)
{
	struct ledger_config cfg = { .exclusive = 1 };
	struct ledger *l, *admin;
	char url[700], p[720];
	struct stat st;
	pid_t pid;
	int status = -1;

	(void)state;
	SQLITE_ONLY();
	l = open_fresh("lock.db", &cfg);
	db_url(url, sizeof(url), "lock.db");
	/* another process (a second server) is refused */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(lock_check(url));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* nrfca-admin does not take the lock */
	admin = open_again("lock.db", NULL);
	assert_int_equal(ledger_audit(admin, "admin", "ev", NULL, NULL), 0);
	ledger_close(admin);
	snprintf(p, sizeof(p), "%s/lock.db.lock", g_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ledger_close(l);
	/* released on close */
	l = open_again("lock.db", &cfg);
	ledger_close(l);
	db_remove("lock.db");
}

static void test_file_modes(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm", ".lock" };
	struct ledger_config cfg = { .exclusive = 1 };
	struct nrfca_err err = { 0 };
	struct ledger *l;
	char p[720];
	struct stat st;
	mode_t old;
	int i;

	(void)state;
	SQLITE_ONLY();
	old = umask(022);
	l = open_fresh("modes.db", &cfg);
	assert_int_equal(ledger_audit(l, "t", "ev", NULL, &err), 0);
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/modes.db%s", g_dir, sfx[i]);
		assert_int_equal(stat(p, &st), 0);
		if ((st.st_mode & 0777) != 0600)
			fail_msg("%s has mode %04o, expected 0600", p, (unsigned)(st.st_mode & 0777));
	}
	ledger_close(l);
	/* an existing database that others may read is tightened */
	snprintf(p, sizeof(p), "%s/modes.db", g_dir);
	assert_int_equal(chmod(p, 0644), 0);
	l = open_again("modes.db", NULL);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ledger_close(l);
	umask(old);
	db_remove("modes.db");
}

static void test_info(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("info.db", NULL);
	struct ledger_info info;

	(void)state;
	assert_int_equal(ledger_info(l, &info, &err), 0);
	assert_string_equal(info.engine, g_pg ? "postgresql" : "sqlite");
	assert_int_equal(info.schema_version, ledger_schema_version());
	assert_non_null(strstr(info.connection, g_pg ? "dbname=t_info_db" : "info.db"));
	assert_null(strstr(info.connection, "password"));
	ledger_close(l);
	db_remove("info.db");
}

/* ---- PostgreSQL: connection strings, passwords, lost connections ---- */

#define PG_ONLY()                                                          \
	do {                                                               \
		if (!g_pg) {                                               \
			print_message("(PostgreSQL only: skipped on SQLite)\n"); \
			skip();                                            \
		}                                                          \
	} while (0)

static void test_pg_passwords(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger_config cfg = { 0 };
	struct ledger_info info;
	struct ledger *l = NULL;
	char url[700], pw[720];
	FILE *f;

	(void)state;
	PG_ONLY();
	assert_int_equal(ledger_open("postgresql://nrfca:s3cret@/x?host=/nonexistent", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_non_null(strstr(err.msg, "holds a password"));
	assert_null(strstr(err.msg, "s3cret"));
	assert_int_equal(ledger_open("host=/nonexistent dbname=x password=s3cret", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_null(strstr(err.msg, "s3cret"));
	assert_int_equal(ledger_open("postgresql://nrfca@/x?host=/nonexistent&password=s3cret", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);

	/* a password file must be private */
	snprintf(pw, sizeof(pw), "%s/pg.password", g_dir);
	f = fopen(pw, "w");
	assert_non_null(f);
	fputs("not-needed-with-trust\n", f);
	fclose(f);
	assert_int_equal(chmod(pw, 0644), 0);
	db_create("pw.db");
	db_url(url, sizeof(url), "pw.db");
	cfg.password_file = pw;
	assert_int_equal(ledger_open_cfg(url, &cfg, &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_non_null(strstr(err.msg, "accessible by group or others"));
	assert_int_equal(chmod(pw, 0600), 0);
	assert_int_equal(ledger_open_cfg(url, &cfg, &l, &err), 0);
	assert_int_equal(ledger_info(l, &info, &err), 0);
	assert_non_null(strstr(info.connection, "password from the password file"));
	assert_null(strstr(info.connection, "not-needed"));
	ledger_close(l);
	unlink(pw);
	/* unreachable: a clear error, no hang */
	assert_int_equal(ledger_open("host=/nonexistent dbname=x", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_DB);
	assert_non_null(strstr(err.msg, "cannot connect to the PostgreSQL ledger"));
	db_remove("pw.db");
}

/* The server goes away under the ledger (restart, failover): calls fail
 * with NRFCA_E_DB while it is gone, and work again without reopening. */
static void test_pg_reconnect(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l;
	struct cert_record r;
	int i, ok = 0, failed = 0;

	(void)state;
	PG_ONLY();
	l = open_fresh("lost.db", NULL);
	make_rec(&r, 70, 1, "dev-lost", "p1", "s1", 0);
	issue(l, &r);
	cert_record_clear(&r);
	assert_int_equal(ledger_ping(l, &err), 0);
	pg_kill_connections("lost.db");
	for (i = 0; i < 100 && !ok; i++) {
		make_rec(&r, 70, (unsigned)(2 + i), "dev-lost", "p1", "s1", 0);
		if (ledger_record_issuance(l, &r, "s1", NULL, &err) == 0 && ledger_ping(l, &err) == 0) {
			ok = 1;
		} else {
			assert_int_equal(err.code, NRFCA_E_DB);
			failed++;
			usleep(100 * 1000);
		}
		cert_record_clear(&r);
	}
	assert_true(ok);
	print_message("%d call(s) failed while the connections were lost\n", failed);
	verify_ok(l);
	ledger_close(l);
	db_remove("lost.db");
}

const struct CMUnitTest ledger_v2_tests[] = {
	cmocka_unit_test(test_pg_passwords),
	cmocka_unit_test(test_pg_reconnect),
	cmocka_unit_test(test_one_active_rules),
	cmocka_unit_test(test_race_supersede),
	cmocka_unit_test(test_race_reject),
	cmocka_unit_test(test_same_csr_two_handles),
	cmocka_unit_test(test_audit_two_handles),
	cmocka_unit_test(test_migrate_v1),
	cmocka_unit_test(test_kinds_and_mark),
	cmocka_unit_test(test_rate),
	cmocka_unit_test(test_expected_devices),
	cmocka_unit_test(test_audit_list),
	cmocka_unit_test(test_backup),
	cmocka_unit_test(test_one_writer_lock),
	cmocka_unit_test(test_file_modes),
	cmocka_unit_test(test_info),
};
const size_t ledger_v2_n = sizeof(ledger_v2_tests) / sizeof(ledger_v2_tests[0]);
