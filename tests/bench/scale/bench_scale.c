/*
 * bench_scale - the ledger after years of production: fill it, then time
 * what operators and stations do with it (tests/bench/run-bench-scale.sh).
 *
 *   bench_scale fill DB N REVOKED   add N certificates (REVOKED of them revoked,
 *                                   superseded or keyCompromise) with their audit
 *                                   entries (a valid hash chain) to the SQLite
 *                                   ledger DB, by direct bulk inserts in one
 *                                   transaction (the ledger's own schema)
 *   bench_scale query DB            lookups by serial and by device id, list
 *                                   pages of 1,000 with filters: p50/p99
 *   bench_scale crl CONFIG          sign the CRL (every revoked certificate)
 *                                   with the configured token, timed
 *
 * Prints one line per figure.  Exit 0, 1 on failure, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "b64url.h"
#include "ca.h"
#include "config.h"
#include "ledger.h"
#include "ledger_int.h"
#include "log.h"
#include "signer.h"

#define SAMPLES 2000
#define PAGES 20
#define STATIONS 20
#define DER_LEN 560             /* an nRF Cloud device certificate's size */
#define YEARS_S (3LL * 365 * 86400)

static const char *const profiles[] = { "nrf-cloud-mqtt", "nrf-cloud-mqtt", "nrf-cloud-coap", "imei" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* this thread's CPU time: on a shared machine the wall time also counts
 * the waits for a CPU; both are printed */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_scale: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static void uuid_of(const unsigned char r[16], char out[37])
{
	char h[33];

	nrfca_hex_encode(r, 16, h);
	snprintf(out, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("insert", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

/* One audit entry, chained to *prev (updated). */
static void audit(sqlite3 *db, sqlite3_stmt *st, long long id, long long at, const char *actor,
		  const char *event, json_t *detail, unsigned char prev[32])
{
	char *txt = json_dumps(detail, JSON_COMPACT);
	unsigned char h[32];

	if (txt == NULL || audit_hash(prev, id, at, actor, strlen(actor), event, strlen(event), txt,
				      strlen(txt), h) != 0)
		die("cannot hash an audit entry", NULL);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, txt, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 6, prev, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 7, h, 32, SQLITE_TRANSIENT);
	step_done(db, st);
	memcpy(prev, h, 32);
	free(txt);
	json_decref(detail);
}

static int fill(const char *path, long n, long revoked)
{
	char url[4200], (*serials)[33], uuid[37], station[16], subject[64];
	unsigned char der[DER_LEN], prev[32], r[16], csr[32], spki[32];
	struct ledger *l = NULL;
	struct nrfca_err e = { 0 };
	sqlite3 *db = NULL;
	sqlite3_stmt *ins, *aud, *head, *last;
	long long id, t0 = (long long)time(NULL) - YEARS_S, at;
	long i, stride;
	double t = now();

	/* the ledger makes (or migrates) its schema; then it is closed */
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if (ledger_open(url, &l, &e) != 0)
		die("failed", e.msg);
	ledger_close(l);
	serials = malloc((size_t)n * sizeof(*serials));
	if (serials == NULL)
		die("out of memory", NULL);
	/* random 16-byte serials (top bit clear) in issuing order, as in production:
	 * the table's order follows time, serial order is random across it */
	for (i = 0; i < n; i++) {
		if (RAND_bytes(r, 16) != 1)
			die("no random bytes", NULL);
		r[0] = (unsigned char)((r[0] & 0x7f) | 0x01);
		nrfca_hex_encode(r, 16, serials[i]);
	}
	RAND_bytes(der, sizeof(der));
	der[0] = 0x30;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("cannot open the database", NULL);
	sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576; BEGIN IMMEDIATE",
		     NULL, NULL, NULL);
	last = prep(db, "SELECT last_id, last_hash FROM audit_head WHERE id = 1");
	if (sqlite3_step(last) != SQLITE_ROW || sqlite3_column_bytes(last, 1) != 32)
		die("the ledger has no audit head", NULL);
	id = sqlite3_column_int64(last, 0);
	memcpy(prev, sqlite3_column_blob(last, 1), 32);
	sqlite3_finalize(last);
	ins = prep(db, "INSERT INTO certificates (serial, device_id, uuid, imei, profile, station,"
		       " sec_tag, csr_sha256, pubkey_sha256, subject, not_before, not_after, issued_at,"
		       " status, revoked_at, revocation_reason, request_id, der, kind, one_active, slot)"
		       " VALUES (?,?,?,'',?,?,16842753,?,?,?,?,?,?,?,?,?,'',?,'certificate',1,'')");
	aud = prep(db, "INSERT INTO audit_log (id, at, actor, event, detail, prev_hash, hash)"
		       " VALUES (?,?,?,?,?,?,?)");
	stride = revoked > 0 ? n / revoked : 0;
	for (i = 0; i < n; i++) {
		int is_rev = stride > 0 && i % stride == 0 && i / stride < revoked;
		const char *profile = profiles[i % 4];

		RAND_bytes(r, 16);
		RAND_bytes(csr, 32);
		RAND_bytes(spki, 32);
		uuid_of(r, uuid);
		snprintf(station, sizeof(station), "line-%02ld", i % STATIONS + 1);
		snprintf(subject, sizeof(subject), "CN=%s", uuid);
		at = t0 + (YEARS_S * i) / n;      /* issued over three years, in order */
		sqlite3_bind_text(ins, 1, serials[i], 32, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, profile, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 5, station, -1, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 6, csr, 32, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 7, spki, 32, SQLITE_STATIC);
		sqlite3_bind_text(ins, 8, subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 9, at - 300);
		sqlite3_bind_int64(ins, 10, at + 3650LL * 86400);
		sqlite3_bind_int64(ins, 11, at);
		sqlite3_bind_text(ins, 12, is_rev ? "revoked" : "active", -1, SQLITE_STATIC);
		if (is_rev) {
			sqlite3_bind_int64(ins, 13, at + 86400);
			sqlite3_bind_int(ins, 14, i % 3 == 0 ? CRL_REASON_KEY_COMPROMISE :
						  CRL_REASON_SUPERSEDED);
		} else {
			sqlite3_bind_null(ins, 13);
			sqlite3_bind_null(ins, 14);
		}
		sqlite3_bind_blob(ins, 15, der, sizeof(der), SQLITE_STATIC);
		step_done(db, ins);
		audit(db, aud, ++id, at, station, "issue",
		      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:b}", "serial", serials[i],
				"device_id", uuid, "profile", profile, "station", station, "sec_tag",
				16842753, "subject", subject, "kind", "certificate", "one_active", 1),
		      prev);
		if (is_rev)
			audit(db, aud, ++id, at + 86400, "operator", "revoke",
			      json_pack("{s:s, s:s}", "serial", serials[i], "reason",
					crl_reason_name(i % 3 == 0 ? CRL_REASON_KEY_COMPROMISE :
							CRL_REASON_SUPERSEDED)), prev);
		if ((i + 1) % 100000 == 0)
			fprintf(stderr, "bench_scale: %ld certificates, %.0f s\n", i + 1, now() - t);
	}
	head = prep(db, "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1");
	sqlite3_bind_int64(head, 1, id);
	sqlite3_bind_blob(head, 2, prev, 32, SQLITE_STATIC);
	step_done(db, head);
	sqlite3_finalize(head);
	sqlite3_exec(db, "UPDATE crl_state SET revocations = revocations + 1", NULL, NULL, NULL);
	sqlite3_finalize(ins);
	sqlite3_finalize(aud);
	if (sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		die("commit", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(serials);
	printf("fill: %ld certificates (%ld revoked) and their audit entries in %.1f s\n", n, revoked,
	       now() - t);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, double *c, int n, double target_ms)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	qsort(c, (size_t)n, sizeof(*c), cmp_d);
	printf("%-44s p50 %7.3f ms  p99 %7.3f ms  (CPU p50 %.3f p99 %.3f; %d samples; target p99 < %g ms)\n",
	       what, v[n / 2] * 1e3, v[(n * 99) / 100] * 1e3, c[n / 2] * 1e3, c[(n * 99) / 100] * 1e3, n,
	       target_ms);
}

struct page {
	int n;
	char last[LEDGER_SERIAL_MAX + 1];
};

static int page_cb(const struct cert_record *r, void *arg)
{
	struct page *p = arg;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", r->serial);
	return 0;
}

/* pick SAMPLES random (serial, device_id) pairs of active certificates */
static void pick(const char *path, char (*ser)[33], char (*dev)[65])
{
	sqlite3 *db;
	sqlite3_stmt *st, *mx;
	long long max;
	int k = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("cannot open the database", NULL);
	mx = prep(db, "SELECT MAX(rowid) FROM certificates");
	sqlite3_step(mx);
	max = sqlite3_column_int64(mx, 0);
	sqlite3_finalize(mx);
	st = prep(db, "SELECT serial, device_id FROM certificates WHERE rowid = ? AND status = 'active'");
	while (k < SAMPLES) {
		unsigned long long r;

		RAND_bytes((unsigned char *)&r, sizeof(r));
		sqlite3_bind_int64(st, 1, (long long)(r % (unsigned long long)max) + 1);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(ser[k], 33, "%s", (const char *)sqlite3_column_text(st, 0));
			snprintf(dev[k], 65, "%s", (const char *)sqlite3_column_text(st, 1));
			k++;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int query(const char *path)
{
	static char ser[SAMPLES][33], dev[SAMPLES][65];
	static double v[SAMPLES], c[SAMPLES];
	struct ledger *l = NULL;
	struct nrfca_err e = { 0 };
	struct cert_record rec;
	struct ledger_filter f;
	struct page pg;
	char url[4200];
	long long certs = 0, revoked = 0;
	double t, tc;
	int i;
	const struct {
		const char *what, *status, *profile, *station;
		int deep, since;
	} lists[] = {
		{ "list 1,000: status=active", "active", NULL, NULL, 1, 0 },
		{ "list 1,000: status=active&profile=imei", "active", "imei", NULL, 1, 0 },
		{ "list 1,000: station=line-01&status=revoked", "revoked", NULL, "line-01", 0, 0 },
		{ "list 1,000: profile=nrf-cloud-coap&issued_after", NULL, "nrf-cloud-coap", NULL, 0, 1 },
	};

	pick(path, ser, dev);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	t = now();
	if (ledger_open(url, &l, &e) != 0)
		die("failed", e.msg);
	printf("%-44s %8.3f ms\n", "ledger open", (now() - t) * 1e3);
	t = now();
	if (ledger_count(l, &certs, &revoked, &e) != 0)
		die("failed", e.msg);
	printf("%-44s %8.3f ms   (%lld certificates, %lld revoked)\n", "count (metrics, CRL tick)",
	       (now() - t) * 1e3, certs, revoked);
	for (i = 0; i < SAMPLES; i++) {
		memset(&rec, 0, sizeof(rec));
		t = now();
		tc = cpu();
		if (ledger_get(l, ser[i], &rec, &e) != 0)
			die("get", e.msg);
		v[i] = now() - t;
		c[i] = cpu() - tc;
		cert_record_clear(&rec);
	}
	report("lookup by serial", v, c, SAMPLES, 5);
	for (i = 0; i < SAMPLES; i++) {
		memset(&rec, 0, sizeof(rec));
		t = now();
		tc = cpu();
		if (ledger_find_active_by_device(l, dev[i], &rec, &e) != 0)
			die("by device", e.msg);
		v[i] = now() - t;
		c[i] = cpu() - tc;
		cert_record_clear(&rec);
	}
	report("lookup by device id", v, c, SAMPLES, 5);
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		for (i = 0; i < PAGES; i++) {
			memset(&f, 0, sizeof(f));
			memset(&pg, 0, sizeof(pg));
			f.status = lists[k].status;
			f.profile = lists[k].profile;
			f.station = lists[k].station;
			f.limit = 1000;
			/* a page somewhere in the ledger: keyset paging after a random serial */
			if (lists[k].deep)
				f.after_serial = ser[i];
			if (lists[k].since)
				f.issued_after = (long long)time(NULL) - YEARS_S / (i + 2);
			t = now();
			tc = cpu();
			if (ledger_list(l, &f, page_cb, &pg, &e) != 0)
				die("list", e.msg);
			v[i] = now() - t;
			c[i] = cpu() - tc;
			if (pg.n == 0)
				die("a list page came back empty", NULL);
		}
		report(lists[k].what, v, c, PAGES, 10);
	}
	ledger_close(l);
	return 0;
}

static int crl(const char *config)
{
	struct nrfca_config *cfg = NULL;
	struct nrfca_err e = { 0 };
	struct signer_config sc = { 0 };
	struct ca_options co = { 0 };
	struct signer *s = NULL;
	struct ledger *l = NULL;
	struct ca *ca = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	double t, tc;

	nlog_set_min_level(NLOG_WARN);
	if (nrfca_config_load(config, &cfg, &e) != 0 || ledger_open(cfg->database, &l, &e) != 0)
		die("failed", e.msg);
	sc.uri = cfg->token_uri;
	sc.pin_env = cfg->token_pin_env;
	sc.base_dir = cfg->dir;
	sc.env = (const char *const *)cfg->token_env;
	co.chain_path = cfg->ca_chain;
	if (signer_open(&sc, &s, &e) != 0 || ca_open(&co, s, l, &ca, &e) != 0)
		die("failed", e.msg);
	t = now();
	tc = cpu();
	if (ca_crl_refresh(ca, &e) != 0 || ca_crl_der(ca, &der, &len, &e) != 0)
		die("failed", e.msg);
	printf("%-44s %8.3f ms   (CPU %.0f ms; %zu bytes; target < 2000 ms)\n", "CRL: build and sign",
	       (now() - t) * 1e3, (cpu() - tc) * 1e3, len);
	free(der);
	ca_free(ca);
	signer_free(s);
	ledger_close(l);
	nrfca_config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 3 && strcmp(argv[1], "query") == 0)
		return query(argv[2]);
	if (argc == 3 && strcmp(argv[1], "crl") == 0)
		return crl(argv[2]);
	fprintf(stderr, "usage: bench_scale fill DB N REVOKED | query DB | crl CONFIG\n");
	return 2;
}
