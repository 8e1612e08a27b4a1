/*
 * Unit tests of the ledger (ca-server/ledger.h): opening, migrations,
 * certificates, group commit, the audit chain, failures.  The same binary
 * runs on SQLite and on PostgreSQL (see ledger_test.h); main() is here.
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger_test.h"

/* ---- open / migrate ---- */

static void test_open_migrate_reopen(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("open.db", NULL);
	struct raw *r;
	char url[700];

	(void)state;
	assert_int_equal(ledger_ping(l, &err), 0);
	ledger_close(l);

	r = raw_open("open.db");
	assert_int_equal(raw_int(r, "SELECT MAX(version) FROM schema_version"), ledger_schema_version());
	assert_int_equal(raw_int(r, "SELECT COUNT(*) FROM schema_version"), ledger_schema_version());
	assert_int_equal(raw_int(r, "SELECT COUNT(*) FROM audit_head"), 1);
	if (!g_pg) {
		assert_int_equal(raw_exec(r, "PRAGMA journal_mode"), 0);
		assert_int_equal(raw_int(r, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	}
	raw_close(r);

	/* reopen: no migration re-applied, data kept */
	db_url(url, sizeof(url), "open.db");
	assert_int_equal(ledger_open(url, &l, &err), 0);
	assert_int_equal(ledger_audit(l, "op", "test.event", "{\"a\":1}", &err), 0);
	ledger_close(l);
	assert_int_equal(ledger_open(url, &l, &err), 0);
	assert_int_equal(verify_ok(l), 1);
	ledger_close(l);
	db_remove("open.db");

	assert_int_equal(ledger_open("mysql:x", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_non_null(strstr(err.msg, "expected sqlite:PATH, postgresql://"));
	assert_int_equal(ledger_open("sqlite:", &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	ledger_close(NULL);
}

struct open_job {
	const char *url;
	struct ledger *l;
	int rc;
	struct nrfca_err err;
};

static void *open_thread(void *arg)
{
	struct open_job *j = arg;

	j->rc = ledger_open(j->url, &j->l, &j->err);
	return NULL;
}

/* Two opens of a new database at once: both migrate-or-skip cleanly. */
static void test_concurrent_open(void **state)
{
	struct open_job jobs[4];
	pthread_t th[4];
	char url[600];
	int i;

	(void)state;
	db_create("race.db");
	db_url(url, sizeof(url), "race.db");
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 4; i++) {
		jobs[i].url = url;
		assert_int_equal(pthread_create(&th[i], NULL, open_thread, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		if (jobs[i].rc != 0)
			fail_msg("open %d: %s", i, jobs[i].err.msg);
		assert_int_equal(ledger_audit(jobs[i].l, "t", "open", NULL, &jobs[i].err), 0);
	}
	/* four handles on one database: the audit chain stays intact */
	assert_int_equal(verify_ok(jobs[0].l), 4);
	for (i = 0; i < 4; i++)
		ledger_close(jobs[i].l);
	db_remove("race.db");
}

static void test_newer_schema_refused(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("newer.db", NULL);
	struct raw *r;
	char url[700];

	(void)state;
	ledger_close(l);
	r = raw_open("newer.db");
	assert_int_equal(raw_exec(r, "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)"), 0);
	raw_close(r);
	db_url(url, sizeof(url), "newer.db");
	l = NULL;
	assert_int_equal(ledger_open(url, &l, &err), -1);
	assert_null(l);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_non_null(strstr(err.msg, "schema version 999, newer than"));
	db_remove("newer.db");
}

static void test_corrupt_file(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;
	char p[700], url[700];
	FILE *f;
	int i;

	(void)state;
	SQLITE_ONLY();
	db_remove("corrupt.db");
	snprintf(p, sizeof(p), "%s/corrupt.db", g_dir);
	f = fopen(p, "wb");
	assert_non_null(f);
	for (i = 0; i < 4096; i++)
		fputc((i * 7 + 3) & 0xff, f);
	fclose(f);
	db_url(url, sizeof(url), "corrupt.db");
	assert_int_equal(ledger_open(url, &l, &err), -1);
	assert_int_equal(err.code, NRFCA_E_DB);
	assert_non_null(strstr(err.msg, "corrupt or not a database"));
	db_remove("corrupt.db");
}

/* ---- certificates ---- */

static void test_insert_and_find(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("find.db", NULL);
	struct cert_record a, b, got;
	unsigned char other[32] = { 1 };
	int exists = -1;

	(void)state;
	make_rec(&a, 1, 1, "dev-a", "p1", "station-1", 1000);
	make_rec(&b, 1, 2, "dev-a", "p1", "station-1", 2000);
	issue(l, &a);

	assert_int_equal(ledger_find_by_csr(l, a.csr_sha256, &got, &err), 0);
	assert_string_equal(got.serial, a.serial);
	assert_string_equal(got.device_id, "dev-a");
	assert_string_equal(got.uuid, a.uuid);
	assert_string_equal(got.imei, a.imei);
	assert_string_equal(got.profile, "p1");
	assert_string_equal(got.station, "station-1");
	assert_string_equal(got.subject, "CN=dev-a");
	assert_string_equal(got.request_id, a.request_id);
	assert_int_equal(got.sec_tag, 16842753);
	assert_memory_equal(got.pubkey_sha256, a.pubkey_sha256, 32);
	assert_int_equal(got.not_before, a.not_before);
	assert_int_equal(got.not_after, a.not_after);
	assert_int_equal(got.issued_at, 1000);
	assert_int_equal(got.status, CERT_ACTIVE);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.revocation_reason, -1);
	assert_int_equal(got.der_len, a.der_len);
	assert_memory_equal(got.der, a.der, a.der_len);
	cert_record_clear(&got);

	assert_int_equal(ledger_find_by_csr(l, other, &got, &err), 1);
	assert_int_equal(ledger_get(l, a.serial, &got, &err), 0);
	assert_memory_equal(got.csr_sha256, a.csr_sha256, 32);
	cert_record_clear(&got);
	assert_int_equal(ledger_get(l, "abc", &got, &err), 1);
	assert_int_equal(ledger_get(l, "ABC", &got, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_serial_exists(l, a.serial, &exists, &err), 0);
	assert_int_equal(exists, 1);
	assert_int_equal(ledger_serial_exists(l, b.serial, &exists, &err), 0);
	assert_int_equal(exists, 0);

	/* newest active certificate of the device */
	issue(l, &b);
	assert_int_equal(ledger_find_active_by_device(l, "dev-a", &got, &err), 0);
	assert_string_equal(got.serial, b.serial);
	cert_record_clear(&got);
	assert_int_equal(ledger_find_active_by_device(l, "dev-none", &got, &err), 1);

	/* same CSR again: conflict, nothing recorded */
	cert_record_clear(&b);
	make_rec(&b, 1, 3, "dev-a", "p1", "station-1", 3000);
	memcpy(b.csr_sha256, a.csr_sha256, 32);
	assert_int_equal(ledger_record_issuance(l, &b, "station-1", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_int_equal(count_certs(l), 2);

	/* malformed records */
	b.serial[0] = 'X';
	assert_int_equal(ledger_record_issuance(l, &b, "station-1", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	b.serial[0] = '0';
	b.status = CERT_REVOKED;
	assert_int_equal(ledger_record_issuance(l, &b, "station-1", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(verify_ok(l), 2);

	cert_record_clear(&a);
	cert_record_clear(&b);
	ledger_close(l);
	db_remove("find.db");
}

struct collect {
	int n;
	char serials[64][LEDGER_SERIAL_MAX + 1];
	int stop_after;
};

static int collect_cb(const struct cert_record *r, void *arg)
{
	struct collect *c = arg;

	assert_true(c->n < 64);
	snprintf(c->serials[c->n], sizeof(c->serials[0]), "%s", r->serial);
	c->n++;
	return c->stop_after != 0 && c->n >= c->stop_after;
}

static int list_n(struct ledger *l, const struct ledger_filter *f, struct collect *c)
{
	struct nrfca_err err = { 0 };

	memset(c, 0, sizeof(*c));
	if (ledger_list(l, f, collect_cb, c, &err) != 0)
		fail_msg("list: %s", err.msg);
	return c->n;
}

static void test_list_filters_paging(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("list.db", NULL);
	struct ledger_filter f;
	struct collect c;
	struct cert_record r;
	char after[LEDGER_SERIAL_MAX + 1];
	int i, total;

	(void)state;
	/* 12 certificates: devices d0..d3, profiles pa/pb, stations s1/s2, issued 100..1200 */
	for (i = 0; i < 12; i++) {
		char dev[16];
		snprintf(dev, sizeof(dev), "d%d", i % 4);
		make_rec(&r, 7, (unsigned)(12 - i), dev, i % 2 ? "pb" : "pa", i < 6 ? "s1" : "s2", 100LL * (i + 1));
		issue(l, &r);
		cert_record_clear(&r);
	}
	/* revoke the ones issued at 300 and 700 */
	assert_int_equal(ledger_revoke(l, "0000000000000007000000000000000a", 1, "op", NULL, &err), 0);
	assert_int_equal(ledger_revoke(l, "00000000000000070000000000000006", 1, "op", NULL, &err), 0);

	memset(&f, 0, sizeof(f));
	assert_int_equal(list_n(l, &f, &c), 12);
	for (i = 1; i < 12; i++)
		assert_true(strcmp(c.serials[i - 1], c.serials[i]) < 0);
	f.device_id = "d1";
	assert_int_equal(list_n(l, &f, &c), 3);
	f.device_id = NULL;
	f.status = "revoked";
	assert_int_equal(list_n(l, &f, &c), 2);
	assert_string_equal(c.serials[0], "00000000000000070000000000000006");
	f.status = "active";
	assert_int_equal(list_n(l, &f, &c), 10);
	f.status = "bogus";
	assert_int_equal(ledger_list(l, &f, collect_cb, &c, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	f.status = NULL;
	f.profile = "pb";
	assert_int_equal(list_n(l, &f, &c), 6);
	f.profile = NULL;
	f.station = "s2";
	assert_int_equal(list_n(l, &f, &c), 6);
	f.station = NULL;
	f.issued_after = 900;
	assert_int_equal(list_n(l, &f, &c), 3);
	/* all filters at once: d2 (i = 2, 6, 10), pa, s2, active, issued after 650 -> i = 6 (700) revoked, 10 */
	f.device_id = "d2";
	f.profile = "pa";
	f.station = "s2";
	f.status = "active";
	f.issued_after = 650;
	assert_int_equal(list_n(l, &f, &c), 1);
	assert_string_equal(c.serials[0], "00000000000000070000000000000002");

	/* paging by 5 through everything */
	memset(&f, 0, sizeof(f));
	f.limit = 5;
	total = 0;
	after[0] = '\0';
	for (;;) {
		f.after_serial = after[0] ? after : NULL;
		i = list_n(l, &f, &c);
		assert_true(i <= 5);
		if (i == 0)
			break;
		if (total > 0)
			assert_true(strcmp(c.serials[0], after) > 0);
		total += i;
		snprintf(after, sizeof(after), "%s", c.serials[i - 1]);
	}
	assert_int_equal(total, 12);

	/* the callback stops the walk */
	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	c.stop_after = 4;
	assert_int_equal(ledger_list(l, &f, collect_cb, &c, &err), 0);
	assert_int_equal(c.n, 4);
	/* no filter at all */
	assert_int_equal(list_n(l, NULL, &c), 12);

	ledger_close(l);
	db_remove("list.db");
}

/* Every combination of the list filters, paged by 3, gives exactly the
 * records that match, in serial order, whichever index the ledger walks
 * (certificates_list, certificates_revoked, certificates_profile). */
#define COMBO_N 40
static const char *const combo_profiles[] = { NULL, "pa", "pb", "none" };
static const char *const combo_status[] = { NULL, "active", "revoked" };
static const char *const combo_station[] = { NULL, "s2" };
static const long long combo_after[] = { 0, 2500 };
static const char *const combo_kind[] = { NULL, "certificate", "public_key" };

struct combo_rec {
	char serial[LEDGER_SERIAL_MAX + 1];
	const char *profile, *station, *kind;
	int revoked;
	long long issued_at;
};

static int combo_cmp(const void *a, const void *b)
{
	return strcmp(((const struct combo_rec *)a)->serial, ((const struct combo_rec *)b)->serial);
}

static int combo_match(const struct combo_rec *r, const struct ledger_filter *f)
{
	return (f->profile == NULL || strcmp(f->profile, r->profile) == 0) &&
	       (f->status == NULL || strcmp(f->status, r->revoked ? "revoked" : "active") == 0) &&
	       (f->station == NULL || strcmp(f->station, r->station) == 0) &&
	       (f->kind == NULL || strcmp(f->kind, r->kind) == 0) && r->issued_at > f->issued_after;
}

static void test_list_filter_combinations(void **state)
{
	static struct combo_rec recs[COMBO_N];
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("combo.db", NULL);
	struct ledger_filter f;
	struct collect c;
	struct cert_record r;
	char after[LEDGER_SERIAL_MAX + 1];
	size_t p, s, t, a, k;
	int i, want, got, combos = 0;

	(void)state;
	for (i = 0; i < COMBO_N; i++) {
		char dev[16];

		snprintf(dev, sizeof(dev), "c%d", i);
		/* serial order is not issuing order */
		make_rec(&r, 9, (unsigned)((i * 17) % COMBO_N + 1), dev, i % 3 == 0 ? "pa" : "pb",
		         i % 4 == 1 ? "s2" : "s1", 100LL * (i + 1));
		if (i % 5 == 2)
			r.kind = CERT_KIND_PUBLIC_KEY;
		issue(l, &r);
		snprintf(recs[i].serial, sizeof(recs[i].serial), "%s", r.serial);
		recs[i].profile = i % 3 == 0 ? "pa" : "pb";
		recs[i].station = i % 4 == 1 ? "s2" : "s1";
		recs[i].kind = cert_kind_name(r.kind);
		recs[i].issued_at = r.issued_at;
		if (i % 6 == 1) {
			assert_int_equal(ledger_revoke(l, r.serial, 1, "op", NULL, &err), 0);
			recs[i].revoked = 1;
		}
		cert_record_clear(&r);
	}
	qsort(recs, COMBO_N, sizeof(recs[0]), combo_cmp);
	for (p = 0; p < sizeof(combo_profiles) / sizeof(combo_profiles[0]); p++)
	for (s = 0; s < sizeof(combo_status) / sizeof(combo_status[0]); s++)
	for (t = 0; t < sizeof(combo_station) / sizeof(combo_station[0]); t++)
	for (a = 0; a < sizeof(combo_after) / sizeof(combo_after[0]); a++)
	for (k = 0; k < sizeof(combo_kind) / sizeof(combo_kind[0]); k++) {
		memset(&f, 0, sizeof(f));
		f.profile = combo_profiles[p];
		f.status = combo_status[s];
		f.station = combo_station[t];
		f.issued_after = combo_after[a];
		f.kind = combo_kind[k];
		f.limit = 3;
		want = 0;
		got = 0;
		after[0] = '\0';
		for (i = 0; i < COMBO_N; i++)
			if (combo_match(&recs[i], &f))
				want++;
		i = 0;  /* the next expected record in recs */
		for (;;) {
			int n, j;

			f.after_serial = after[0] ? after : NULL;
			n = list_n(l, &f, &c);
			assert_true(n <= 3);
			for (j = 0; j < n; j++) {
				while (i < COMBO_N && !combo_match(&recs[i], &f))
					i++;
				assert_true(i < COMBO_N);
				assert_string_equal(c.serials[j], recs[i].serial);
				i++;
			}
			got += n;
			if (n < 3)
				break;
			snprintf(after, sizeof(after), "%s", c.serials[n - 1]);
		}
		assert_int_equal(got, want);
		combos++;
	}
	assert_int_equal(combos, 4 * 3 * 2 * 2 * 3);
	ledger_close(l);
	db_remove("combo.db");
}

struct revoked_seen {
	int n;
	char serial[LEDGER_SERIAL_MAX + 1];
	int reason;
	long long at;
};

static int revoked_cb(const char *serial, long long at, int reason, void *arg)
{
	struct revoked_seen *s = arg;

	s->n++;
	snprintf(s->serial, sizeof(s->serial), "%s", serial);
	s->reason = reason;
	s->at = at;
	return 0;
}

static void test_revoke(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("revoke.db", NULL);
	struct cert_record a, got;
	struct revoked_seen seen = { 0 };
	long long at = 0, n = 0, rev = 0;
	unsigned long long crl = 0, crl2 = 0, t0;

	(void)state;
	make_rec(&a, 2, 1, "dev-r", "p1", "s1", 0);
	issue(l, &a);
	assert_int_equal(ledger_revoke(l, "ffff", 1, "op", &at, &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);
	assert_int_equal(ledger_revoke(l, a.serial, 7, "op", &at, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_revoke(l, a.serial, CRL_REASON_REMOVE_FROM_CRL, "op", &at, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_revoke(l, a.serial, CRL_REASON_KEY_COMPROMISE, "op", &at, &err), 0);
	assert_true(at > 1700000000);
	assert_int_equal(ledger_revoke(l, a.serial, CRL_REASON_KEY_COMPROMISE, "op", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_non_null(strstr(err.msg, "already revoked"));

	assert_int_equal(ledger_get(l, a.serial, &got, &err), 0);
	assert_int_equal(got.status, CERT_REVOKED);
	assert_int_equal(got.revoked_at, at);
	assert_int_equal(got.revocation_reason, CRL_REASON_KEY_COMPROMISE);
	cert_record_clear(&got);
	assert_int_equal(ledger_find_active_by_device(l, "dev-r", &got, &err), 1);

	assert_int_equal(ledger_revoked_each(l, revoked_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.serial, a.serial);
	assert_int_equal(seen.reason, 1);
	assert_int_equal(seen.at, at);
	assert_int_equal(ledger_count(l, &n, &rev, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rev, 1);

	/* CRL numbers: at least the time in milliseconds, strictly increasing,
	 * also across a reopen and when the stored number was set back (an
	 * older backup restored) */
	t0 = (unsigned long long)time(NULL) * 1000;
	assert_int_equal(ledger_next_crl_number(l, &crl, &err), 0);
	assert_true(crl >= t0);
	assert_int_equal(ledger_next_crl_number(l, &crl2, &err), 0);
	assert_true(crl2 > crl);
	ledger_close(l);
	{
		struct raw *db = raw_open("revoke.db");
		assert_int_equal(raw_exec(db, "UPDATE crl_state SET crl_number = 17"), 0);
		raw_close(db);
	}
	l = open_again("revoke.db", NULL);
	assert_int_equal(ledger_next_crl_number(l, &crl, &err), 0);
	assert_true(crl > crl2);
	/* a stored number ahead of the clock still grows by one */
	{
		struct raw *db = raw_open("revoke.db");
		assert_int_equal(raw_exec(db, "UPDATE crl_state SET crl_number = 9000000000000000"), 0);
		raw_close(db);
	}
	assert_int_equal(ledger_next_crl_number(l, &crl, &err), 0);
	assert_int_equal(crl, 9000000000000001ULL);
	assert_int_equal(verify_ok(l), 2); /* issue + revoke */

	assert_string_equal(crl_reason_name(1), "keyCompromise");
	assert_null(crl_reason_name(7));
	assert_int_equal(crl_reason_from_name("superseded"), 4);
	assert_int_equal(crl_reason_from_name("nope"), -1);
	cert_record_clear(&a);
	ledger_close(l);
	db_remove("revoke.db");
}

static void test_supersede(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("supersede.db", NULL);
	struct cert_record a, b, c, got;

	(void)state;
	make_rec(&a, 3, 1, "dev-s", "p1", "s1", 100);
	make_rec(&b, 3, 2, "dev-s", "p1", "s1", 200);
	make_rec(&c, 3, 3, "dev-s", "p1", "s1", 300);
	issue(l, &a);
	assert_int_equal(ledger_record_issuance(l, &b, "s1", a.serial, &err), 0);
	assert_int_equal(ledger_get(l, a.serial, &got, &err), 0);
	assert_int_equal(got.status, CERT_REVOKED);
	assert_int_equal(got.revocation_reason, CRL_REASON_SUPERSEDED);
	cert_record_clear(&got);
	assert_int_equal(ledger_find_active_by_device(l, "dev-s", &got, &err), 0);
	assert_string_equal(got.serial, b.serial);
	cert_record_clear(&got);

	/* superseding a certificate that is no longer active: nothing recorded */
	assert_int_equal(ledger_record_issuance(l, &c, "s1", a.serial, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_int_equal(ledger_get(l, c.serial, &got, &err), 1);
	/* superseding an unknown one: nothing recorded */
	assert_int_equal(ledger_record_issuance(l, &c, "s1", "0bad", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);
	assert_int_equal(ledger_get(l, c.serial, &got, &err), 1);
	assert_int_equal(count_certs(l), 2);
	/* issue + (issue + revoke); the failed attempts left no audit entries */
	assert_int_equal(verify_ok(l), 3);

	cert_record_clear(&a);
	cert_record_clear(&b);
	cert_record_clear(&c);
	ledger_close(l);
	db_remove("supersede.db");
}

/* ---- group commit: one failing request does not sink its batch ---- */

struct issue_job {
	struct ledger *l;
	struct cert_record *rec;
	int rc;
	struct nrfca_err err;
};

static void *issue_thread(void *arg)
{
	struct issue_job *j = arg;

	j->rc = ledger_record_issuance(j->l, j->rec, "station-x", NULL, &j->err);
	return NULL;
}

static void *audit_thread(void *arg)
{
	struct issue_job *j = arg;

	j->rc = ledger_audit(j->l, "tester", "blocker", NULL, &j->err);
	return NULL;
}

static void test_collision_in_batch(void **state)
{
	struct ledger_config cfg = { .busy_timeout_ms = 10000 };
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("batch.db", &cfg);
	struct ledger_stats before, after;
	struct cert_record first, recs[5], got;
	struct issue_job jobs[5], blocker = { 0 };
	pthread_t th[5], bt;
	struct raw *db;
	int i;

	(void)state;
	make_rec(&first, 4, 99, "dev-first", "p1", "s1", 0);
	issue(l, &first);
	for (i = 0; i < 5; i++)
		make_rec(&recs[i], 4, (unsigned)i, "dev-b", "p1", "s1", 0);
	/* the third request reuses the serial of `first` (a collision) */
	memcpy(recs[2].serial, first.serial, sizeof(first.serial));

	/* Hold the write lock from outside so the writer stalls on the blocker
	 * while the five requests queue up behind it: they form one batch. */
	db = raw_open("batch.db");
	raw_block(db);
	blocker.l = l;
	assert_int_equal(pthread_create(&bt, NULL, audit_thread, &blocker), 0);
	usleep(100 * 1000);
	ledger_get_stats(l, &before);
	for (i = 0; i < 5; i++) {
		jobs[i].l = l;
		jobs[i].rec = &recs[i];
		assert_int_equal(pthread_create(&th[i], NULL, issue_thread, &jobs[i]), 0);
	}
	usleep(300 * 1000);
	assert_int_equal(raw_exec(db, "COMMIT"), 0);
	raw_close(db);
	pthread_join(bt, NULL);
	assert_int_equal(blocker.rc, 0);
	for (i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	ledger_get_stats(l, &after);
	/* the blocker, then the five in one transaction */
	assert_int_equal(after.commits - before.commits, 2);
	assert_int_equal(after.changes - before.changes, 1 + 4);

	for (i = 0; i < 5; i++) {
		if (i == 2) {
			assert_int_equal(jobs[i].rc, -1);
			assert_int_equal(jobs[i].err.code, NRFCA_E_EXISTS);
			continue;
		}
		if (jobs[i].rc != 0)
			fail_msg("request %d: %s", i, jobs[i].err.msg);
		assert_int_equal(ledger_get(l, recs[i].serial, &got, &err), 0);
		cert_record_clear(&got);
	}
	/* the colliding request did not overwrite the first certificate */
	assert_int_equal(ledger_get(l, first.serial, &got, &err), 0);
	assert_string_equal(got.device_id, "dev-first");
	cert_record_clear(&got);
	assert_int_equal(count_certs(l), 5);
	assert_int_equal(verify_ok(l), 6); /* first, blocker, four issues */

	cert_record_clear(&first);
	for (i = 0; i < 5; i++)
		cert_record_clear(&recs[i]);
	ledger_close(l);
	db_remove("batch.db");
}

/* ---- concurrency ---- */

#define N_THREADS 8
#define N_PER_THREAD 500

struct conc_arg {
	struct ledger *l;
	unsigned id;
	int failures;
	char msg[NRFCA_ERR_MSG_MAX];
};

static void *conc_thread(void *arg)
{
	struct conc_arg *a = arg;
	struct nrfca_err err = { 0 };
	struct cert_record r;
	char dev[32];
	int i;

	for (i = 0; i < N_PER_THREAD; i++) {
		snprintf(dev, sizeof(dev), "dev-%u-%d", a->id, i);
		make_rec(&r, 100 + a->id, (unsigned)i, dev, "p1", "s1", 0);
		if (ledger_record_issuance(a->l, &r, "station-c", NULL, &err) != 0) {
			a->failures++;
			snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
		}
		cert_record_clear(&r);
	}
	return NULL;
}

static void test_concurrent_inserts(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("conc.db", NULL);
	struct conc_arg args[N_THREADS];
	struct ledger_stats st;
	pthread_t th[N_THREADS];
	struct cert_record got;
	char serial[40];
	unsigned t;
	int i;

	(void)state;
	memset(args, 0, sizeof(args));
	for (t = 0; t < N_THREADS; t++) {
		args[t].l = l;
		args[t].id = t;
		assert_int_equal(pthread_create(&th[t], NULL, conc_thread, &args[t]), 0);
	}
	for (t = 0; t < N_THREADS; t++) {
		pthread_join(th[t], NULL);
		if (args[t].failures)
			fail_msg("thread %u: %d failures, last: %s", t, args[t].failures, args[t].msg);
	}
	assert_int_equal(count_certs(l), N_THREADS * N_PER_THREAD);
	for (t = 0; t < N_THREADS; t++) {
		for (i = 0; i < N_PER_THREAD; i += 97) {
			snprintf(serial, sizeof(serial), "%016x%016x", 100 + t, (unsigned)i);
			assert_int_equal(ledger_get(l, serial, &got, &err), 0);
			cert_record_clear(&got);
		}
	}
	assert_int_equal(verify_ok(l), N_THREADS * N_PER_THREAD);
	ledger_get_stats(l, &st);
	assert_int_equal(st.changes, N_THREADS * N_PER_THREAD);
	/* group commit: far fewer transactions than changes */
	assert_true(st.commits < st.changes);
	ledger_close(l);
	db_remove("conc.db");
}

/* ---- audit ---- */

struct entry_copy {
	long long id, at;
	char actor[64], event[64], detail[256];
	unsigned char prev[32], hash[32];
};

static int entry_cb(const struct ledger_audit_entry *e, void *arg)
{
	struct entry_copy *c = arg;

	c->id = e->id;
	c->at = e->at;
	snprintf(c->actor, sizeof(c->actor), "%s", e->actor);
	snprintf(c->event, sizeof(c->event), "%s", e->event);
	snprintf(c->detail, sizeof(c->detail), "%s", e->detail);
	memcpy(c->prev, e->prev_hash, 32);
	memcpy(c->hash, e->hash, 32);
	return 1;
}

static void get_entry(struct ledger *l, long long id, struct entry_copy *c)
{
	struct ledger_audit_filter f = { .after_id = id - 1, .limit = 1 };
	struct nrfca_err err = { 0 };

	memset(c, 0, sizeof(*c));
	assert_int_equal(ledger_audit_list(l, &f, entry_cb, c, &err), 0);
	assert_int_equal(c->id, id);
}

static void drop_trigger(struct raw *r, const char *name)
{
	char sql[128];

	snprintf(sql, sizeof(sql), g_pg ? "DROP TRIGGER %s ON audit_log" : "DROP TRIGGER %s", name);
	if (raw_exec(r, sql) != 0)
		fail_msg("%s: %s", sql, raw_msg(r));
}

static void test_audit_chain_and_tamper(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("audit.db", NULL);
	long long n = 0, broken = 0;
	char why[200], detail[64];
	unsigned char h[32], zero[32] = { 0 };
	struct entry_copy e;
	struct raw *db;
	int i;

	(void)state;
	for (i = 1; i <= 20; i++) {
		snprintf(detail, sizeof(detail), "{\"n\": %d, \"reason\": \"test\"}", i);
		assert_int_equal(ledger_audit(l, "station-1", "enroll.rejected", detail, &err), 0);
	}
	assert_int_equal(ledger_audit(l, "x", "Bad Event", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_audit(l, "x", "ev", "[1,2]", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_audit(l, "x", "ev", "{\"a\":", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err), 0);
	assert_int_equal(n, 20);

	/* the stored hash follows the documented encoding; details are canonical JSON */
	get_entry(l, 1, &e);
	assert_string_equal(e.detail, "{\"n\":1,\"reason\":\"test\"}");
	assert_memory_equal(e.prev, zero, 32);
	spec_hash(zero, 1, e.at, e.actor, e.event, e.detail, h);
	assert_memory_equal(e.hash, h, 32);

	/* the triggers refuse changes */
	db = raw_open("audit.db");
	assert_int_equal(raw_exec(db, "UPDATE audit_log SET detail = '{}' WHERE id = 3"), -1);
	assert_non_null(strstr(raw_msg(db), "append-only"));
	assert_int_equal(raw_exec(db, "DELETE FROM audit_log WHERE id = 20"), -1);
	assert_non_null(strstr(raw_msg(db), "append-only"));
	if (g_pg) {
		assert_int_equal(raw_exec(db, "TRUNCATE audit_log"), -1);
		assert_non_null(strstr(raw_msg(db), "append-only"));
	}

	/* tamper with entry 17's contents */
	drop_trigger(db, "audit_log_no_update");
	assert_int_equal(raw_exec(db, "UPDATE audit_log SET detail = '{\"n\":170}' WHERE id = 17"), 0);
	assert_int_equal(ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err), 1);
	assert_int_equal(broken, 17);
	assert_string_equal(why, "entry 17: hash does not match its contents");

	/* a smarter forger also recomputes entry 17's hash: entry 18 shows it */
	get_entry(l, 17, &e);
	spec_hash(e.prev, 17, e.at, e.actor, e.event, e.detail, h);
	raw_set_hash(db, "audit_log", "hash", 17, h);
	assert_int_equal(ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err), 1);
	assert_int_equal(broken, 18);
	assert_string_equal(why, "entry 18: prev_hash does not match entry 17");

	/* a deleted entry in the middle */
	drop_trigger(db, "audit_log_no_delete");
	assert_int_equal(raw_exec(db, "DELETE FROM audit_log WHERE id = 5"), 0);
	assert_int_equal(ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err), 1);
	assert_int_equal(broken, 6);
	assert_string_equal(why, "entry 6: follows entry 4, entries are missing");
	raw_close(db);
	ledger_close(l);
	db_remove("audit.db");
}

/* Removing the newest entries leaves a chain that verifies on its own; the
 * stored head tells. */
static void test_audit_truncation(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("trunc.db", NULL);
	long long n = 0, broken = 0;
	char why[200];
	struct raw *db;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(ledger_audit(l, "t", "ev", NULL, &err), 0);
	db = raw_open("trunc.db");
	drop_trigger(db, "audit_log_no_delete");
	assert_int_equal(raw_exec(db, "DELETE FROM audit_log WHERE id >= 4"), 0);
	raw_close(db);
	assert_int_equal(ledger_audit_verify(l, &n, &broken, why, sizeof(why), &err), 1);
	assert_int_equal(n, 3);
	assert_int_equal(broken, 4);
	assert_non_null(strstr(why, "the log ends at entry 3 but its head names entry 5"));
	ledger_close(l);
	db_remove("trunc.db");
}

/* ---- credentials ---- */

struct cred_seen {
	int n;
	char names[8][LEDGER_CRED_NAME_MAX + 1];
	enum cred_role roles[8];
	int disabled[8];
};

static int cred_cb(const char *name, enum cred_role role, int disabled, long long created, void *arg)
{
	struct cred_seen *s = arg;

	assert_true(s->n < 8);
	assert_true(created > 1700000000);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->roles[s->n] = role;
	s->disabled[s->n] = disabled;
	s->n++;
	return 0;
}

static void test_credentials(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("creds.db", NULL);
	unsigned char h1[32], h2[32], h3[32];
	char name[LEDGER_CRED_NAME_MAX + 1];
	enum cred_role role;
	struct cred_seen seen = { 0 };
	int disabled = -1;

	(void)state;
	sha("secret-1", 8, h1);
	sha("secret-2", 8, h2);
	sha("secret-3", 8, h3);
	assert_int_equal(ledger_cred_add(l, "station-1", ROLE_STATION, h1, "admin", &err), 0);
	assert_int_equal(ledger_cred_add(l, "alice", ROLE_OPERATOR, h2, "admin", &err), 0);
	assert_int_equal(ledger_cred_add(l, "station-1", ROLE_AUDITOR, h3, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	assert_int_equal(ledger_cred_add(l, "bob", ROLE_AUDITOR, h1, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	assert_int_equal(ledger_cred_add(l, "bad name", ROLE_AUDITOR, h3, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_cred_add(l, "x", ROLE_MAX, h3, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);

	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_string_equal(name, "station-1");
	assert_int_equal(role, ROLE_STATION);
	assert_int_equal(disabled, 0);
	/* a second lookup is served from the cache, same answer */
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_string_equal(name, "station-1");
	assert_int_equal(ledger_cred_lookup(l, h3, name, &role, &disabled, &err), 1);

	assert_int_equal(ledger_cred_disable(l, "station-1", "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 1); /* the cache was invalidated */
	assert_int_equal(ledger_cred_disable(l, "station-1", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_int_equal(ledger_cred_disable(l, "nobody", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);

	assert_int_equal(ledger_cred_list(l, cred_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "alice");
	assert_int_equal(seen.roles[0], ROLE_OPERATOR);
	assert_int_equal(seen.disabled[0], 0);
	assert_string_equal(seen.names[1], "station-1");
	assert_int_equal(seen.disabled[1], 1);
	assert_int_equal(verify_ok(l), 3); /* two adds, one disable */

	assert_string_equal(cred_role_name(ROLE_AUDITOR), "auditor");
	assert_int_equal(cred_role_from_name("operator"), ROLE_OPERATOR);
	assert_int_equal(cred_role_from_name("root"), -1);
	ledger_close(l);
	db_remove("creds.db");
}

/* ---- failures ---- */

static void test_busy(void **state)
{
	struct ledger_config cfg = { .busy_timeout_ms = 200 };
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("busy.db", &cfg);
	struct cert_record r;
	struct raw *db;

	(void)state;
	make_rec(&r, 5, 1, "dev-busy", "p1", "s1", 0);
	db = raw_open("busy.db");
	raw_block(db);
	assert_int_equal(ledger_record_issuance(l, &r, "s1", NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_DB);
	assert_non_null(strstr(err.msg, "database is busy"));
	/* reads still work beside the writer lock */
	assert_int_equal(ledger_ping(l, &err), 0);
	assert_int_equal(raw_exec(db, "COMMIT"), 0);
	raw_close(db);
	/* and the ledger recovers */
	assert_int_equal(ledger_record_issuance(l, &r, "s1", NULL, &err), 0);
	assert_int_equal(count_certs(l), 1);
	assert_int_equal(verify_ok(l), 1);
	cert_record_clear(&r);
	ledger_close(l);
	db_remove("busy.db");
}

static void test_disk_full(void **state)
{
	struct ledger_config cfg = { .max_db_pages = 80 };
	struct nrfca_err err = { 0 };
	struct ledger *l;
	struct cert_record r;
	long long before = 0, entries;
	int i, rc = 0;

	(void)state;
	SQLITE_ONLY();
	l = open_fresh("full.db", &cfg);
	for (i = 0; i < 1000 && rc == 0; i++) {
		char dev[32];
		snprintf(dev, sizeof(dev), "dev-full-%d", i);
		make_rec(&r, 6, (unsigned)i, dev, "p1", "s1", 0);
		free(r.der);
		r.der_len = 8000;
		r.der = calloc(1, r.der_len);
		assert_non_null(r.der);
		before = count_certs(l);
		rc = ledger_record_issuance(l, &r, "s1", NULL, &err);
		cert_record_clear(&r);
	}
	assert_int_equal(rc, -1);
	assert_true(i > 3);
	assert_int_equal(err.code, NRFCA_E_DB);
	assert_non_null(strstr(err.msg, "database disk is full"));
	/* nothing half-written: certificate count and audit chain agree */
	assert_int_equal(count_certs(l), before);
	entries = verify_ok(l);
	assert_int_equal(entries, before);
	/* a small change still fits */
	assert_int_equal(ledger_ping(l, &err), 0);
	ledger_close(l);
	db_remove("full.db");
}

/* Returns 0 when opening a read-only database fails as it should. */
static int readonly_check(const char *url)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;

	if (ledger_open(url, &l, &err) == 0) {
		fprintf(stderr, "read-only database opened\n");
		ledger_close(l);
		return 1;
	}
	if (err.code != NRFCA_E_DB || strstr(err.msg, "read-only") == NULL) {
		fprintf(stderr, "unexpected error: %s: %s\n", nrfca_errc_name(err.code), err.msg);
		return 2;
	}
	return 0;
}

static void test_readonly(void **state)
{
	struct ledger *l;
	char p[700], url[700];
	pid_t pid;
	int status = -1;

	(void)state;
	SQLITE_ONLY();
	l = open_fresh("ro.db", NULL);
	ledger_close(l);
	snprintf(p, sizeof(p), "%s/ro.db", g_dir);
	db_url(url, sizeof(url), "ro.db");
	assert_int_equal(chmod(p, 0444), 0);
	if (geteuid() != 0) {
		assert_int_equal(readonly_check(url), 0);
	} else {
		/* root writes anything: check as an unprivileged user */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			_exit(readonly_check(url));
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(chmod(p, 0644), 0);
	db_remove("ro.db");
}

/* A writable file in a directory the CA may not write (WAL needs its -wal
 * and -shm files beside the database). */
static int rodir_check(const char *url)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;

	if (ledger_open(url, &l, &err) == 0) {
		fprintf(stderr, "database in a read-only directory opened\n");
		ledger_close(l);
		return 1;
	}
	fprintf(stderr, "read-only directory: %s: %s\n", nrfca_errc_name(err.code), err.msg);
	return err.code == NRFCA_E_DB ? 0 : 2;
}

static void test_readonly_dir(void **state)
{
	char dir[600], p[700], url[720];
	struct ledger *l = NULL;
	struct nrfca_err err = { 0 };
	pid_t pid;
	int status = -1;

	(void)state;
	SQLITE_ONLY();
	snprintf(dir, sizeof(dir), "%s/rodir", g_dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/ca.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", p);
	assert_int_equal(ledger_open(url, &l, &err), 0);
	ledger_close(l);
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(rodir_check(url), 0);
	} else {
		assert_int_equal(chown(p, 65534, 65534), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			_exit(rodir_check(url));
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(chmod(dir, 0755), 0);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

/* SQLite: the WAL writes of a commit are gathered before the sync
 * (sqlite_walbuf.c) and checkpoints run on a thread of their own.  Every
 * answered commit must be in the file for another connection at once, and
 * the WAL must stay bounded while commits keep coming (a checkpointer that
 * never ran would let it grow by every frame), and the copying must be the
 * background checkpointer's: in round 3 its connection had never read the
 * database, so its checkpoints copied nothing and the writer copied every
 * page itself while all callers waited. */
static void test_wal_visible_and_bounded(void **state)
{
	struct ledger *l;
	struct raw *r;
	struct cert_record rec;
	struct stat st;
	char path[700], dev[40];
	long long seen;
	unsigned i, n = 1500;

	(void)state;
	if (g_pg)
		skip();
	l = open_fresh("wal.db", NULL);
	r = raw_open("wal.db");
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), "wal-device-%u", i);
		make_rec(&rec, 9, i, dev, "nrf-cloud-mqtt", "line-01", 1700000000 + i);
		issue(l, &rec);
		cert_record_clear(&rec);
		seen = raw_int(r, "SELECT count(*) FROM certificates");
		if (seen != (long long)i + 1)
			fail_msg("after commit %u another connection sees %lld certificates", i + 1, seen);
	}
	snprintf(path, sizeof(path), "%s/wal.db-wal", g_dir);
	assert_int_equal(stat(path, &st), 0);
	/* ~10 frames of 4 KiB a commit: 60 MB without checkpoints */
	if (st.st_size > 24LL * 1024 * 1024)
		fail_msg("the WAL grew to %lld bytes over %u commits: checkpoints did not keep up",
		         (long long)st.st_size, n);
	{
		struct ledger_stats ls;

		ledger_get_stats(l, &ls);
		if (ls.checkpoint_pages_background == 0 ||
		    ls.checkpoint_pages_background <= ls.checkpoint_pages_writer)
			fail_msg("WAL pages checkpointed: %lld by the background checkpointer, %lld "
				 "by the writer", ls.checkpoint_pages_background,
				 ls.checkpoint_pages_writer);
		print_message("WAL pages checkpointed: %lld in the background, %lld by the writer\n",
			      ls.checkpoint_pages_background, ls.checkpoint_pages_writer);
	}
	raw_close(r);
	assert_int_equal(verify_ok(l), (long long)n);
	ledger_close(l);
	db_remove("wal.db");
}

static void test_ping(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("ping.db", NULL);

	(void)state;
	assert_int_equal(ledger_ping(l, &err), 0);
	ledger_close(l);
	db_remove("ping.db");
}

const struct CMUnitTest ledger_core_tests[] = {
	cmocka_unit_test(test_open_migrate_reopen),
	cmocka_unit_test(test_concurrent_open),
	cmocka_unit_test(test_newer_schema_refused),
	cmocka_unit_test(test_corrupt_file),
	cmocka_unit_test(test_insert_and_find),
	cmocka_unit_test(test_list_filters_paging),
	cmocka_unit_test(test_list_filter_combinations),
	cmocka_unit_test(test_revoke),
	cmocka_unit_test(test_supersede),
	cmocka_unit_test(test_collision_in_batch),
	cmocka_unit_test(test_concurrent_inserts),
	cmocka_unit_test(test_audit_chain_and_tamper),
	cmocka_unit_test(test_audit_truncation),
	cmocka_unit_test(test_credentials),
	cmocka_unit_test(test_busy),
	cmocka_unit_test(test_disk_full),
	cmocka_unit_test(test_readonly),
	cmocka_unit_test(test_readonly_dir),
	cmocka_unit_test(test_ping),
	cmocka_unit_test(test_wal_visible_and_bounded),
};
const size_t ledger_core_n = sizeof(ledger_core_tests) / sizeof(ledger_core_tests[0]);

static int setup_dir(void)
{
	const char *base = getenv("NRFCA_LEDGER_TMP");

	if (base == NULL) {
		fprintf(stderr, "NRFCA_LEDGER_TMP is not set (run through ctest)\n");
		return -1;
	}
	if (mkdir(base, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(g_dir, sizeof(g_dir), "%s/run-%ld", base, (long)getpid());
	if (mkdir(g_dir, 0755) != 0)
		return -1;
	return 0;
}

int main(void)
{
	const char *pg = getenv("NRFCA_TEST_PG");
	int rc;

	g_pg = pg != NULL && pg[0] != '\0';
	if (setup_dir() != 0)
		return 1;
	fprintf(stderr, "ledger tests on %s\n", g_pg ? pg : "SQLite");
	rc = _cmocka_run_group_tests("ledger_core", ledger_core_tests, ledger_core_n, NULL, NULL);
	rc |= _cmocka_run_group_tests("ledger_v2", ledger_v2_tests, ledger_v2_n, NULL, NULL);
	rc |= _cmocka_run_group_tests("ledger_creds", ledger_creds_tests, ledger_creds_n, NULL, NULL);
	rc |= _cmocka_run_group_tests("ledger_crl", ledger_crl_tests, ledger_crl_n, NULL, NULL);
	if (rmdir(g_dir) != 0)
		fprintf(stderr, "leftover files in %s\n", g_dir);
	return rc;
}
