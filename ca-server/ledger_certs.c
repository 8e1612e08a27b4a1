/*
 * ledger_certs.c - certificates and public-key registrations: issuance with
 * the one-active check, revocation, the CRL state, reads and listings, and
 * the cluster-wide rate windows.
 */
#include "ledger_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rows ---- */

static int row_record(struct lq *q, struct cert_record *r, struct nrfca_err *err)
{
	const void *der;
	size_t n = 0;
	int s, k;

	memset(r, 0, sizeof(*r));
	if (lq_text(q, 0, r->serial, sizeof(r->serial)) || lq_text(q, 1, r->device_id, sizeof(r->device_id)) ||
	    lq_text(q, 2, r->uuid, sizeof(r->uuid)) || lq_text(q, 3, r->imei, sizeof(r->imei)) ||
	    lq_text(q, 4, r->profile, sizeof(r->profile)) || lq_text(q, 5, r->station, sizeof(r->station)) ||
	    lq_hash(q, 7, r->csr_sha256) || lq_hash(q, 8, r->pubkey_sha256) ||
	    lq_text(q, 9, r->subject, sizeof(r->subject)) || lq_text(q, 16, r->request_id, sizeof(r->request_id)) ||
	    lq_text(q, 20, r->slot, sizeof(r->slot)))
		goto bad;
	r->sec_tag = lq_int(q, 6);
	r->not_before = lq_int(q, 10);
	r->not_after = lq_int(q, 11);
	r->issued_at = lq_int(q, 12);
	s = cert_status_from_name(lq_str(q, 13, &n));
	k = cert_kind_from_name(lq_str(q, 18, &n));
	if (s < 0 || k < 0)
		goto bad;
	r->status = (enum cert_status)s;
	r->kind = (enum cert_kind)k;
	r->one_active = lq_int(q, 19) != 0;
	r->revoked_at = lq_null(q, 14) ? 0 : lq_int(q, 14);
	r->revocation_reason = lq_null(q, 15) ? -1 : (int)lq_int(q, 15);
	der = lq_blob(q, 17, &n);
	if (der == NULL || n == 0 || n > LEDGER_DER_MAX)
		goto bad;
	r->der = malloc(n);
	if (r->der == NULL) {
		memset(r, 0, sizeof(*r));
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory reading a certificate");
	}
	memcpy(r->der, der, n);
	r->der_len = n;
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return lq_malformed(q, "certificate record", err);
}

/* ---- changes (applied by the writer) ---- */

struct issue_req {
	const struct cert_record *rec;
	const char *actor;
	const char *expected;
	char *detail, *rdetail;
};

/* UPDATE ... WHERE key AND still-in-state changed nothing: tell apart "not
 * there" and "already done". */
int ledger_missing_or_conflict(struct wctx *w, enum qid probe, const char *key, const char *what,
                               const char *already, struct nrfca_err *err)
{
	struct lq q;
	int rc = lq_one(&q, w->l, w->c, probe, err, "t", key);

	if (rc < 0)
		return -1;
	lq_end(&q);
	if (rc == 0)
		return nrfca_err_set(err, NRFCA_E_NOTFOUND, "%s %s is not in the ledger", what, key);
	return nrfca_err_set(err, NRFCA_E_CONFLICT, "%s %s %s", what, key, already);
}

static int revoke_one(struct wctx *w, const char *serial, int reason, const char *actor, const char *detail,
                      long long *at, struct nrfca_err *err)
{
	long long now = ledger_now(), n;
	struct lq q;

	n = lq_exec(&q, w->l, w->c, Q_REVOKE, err, "iit", now, (long long)reason, serial);
	if (n < 0)
		return -1;
	if (n == 0)
		return ledger_missing_or_conflict(w, Q_CERT_STATUS, serial, "certificate",
		                           reason == CRL_REASON_SUPERSEDED ? "is no longer active" : "is already revoked",
		                           err);
	if (lq_exec(&q, w->l, w->c, Q_REVOCATION_BUMP, err, "t", serial) < 0 || audit_append(w, actor, "revoke", detail, err) != 0)
		return -1;
	if (at != NULL)
		*at = now;
	return 0;
}

/* The device's one_active holder must still be the one the caller saw. */
static int check_holder(struct wctx *w, const struct cert_record *c, const char *expected, struct nrfca_err *err)
{
	char holder[LEDGER_SERIAL_MAX + 1] = "";
	struct lq q;
	int rc = lq_one(&q, w->l, w->c, Q_HOLDER, err, "tt", c->device_id, cert_kind_name(c->kind));

	if (rc < 0)
		return -1;
	if (rc == 1) {
		rc = lq_text(&q, 0, holder, sizeof(holder));
		lq_end(&q);
		if (rc != 0)
			return lq_malformed(&q, "certificate serial", err);
	}
	if (expected == NULL && holder[0] != '\0')
		return nrfca_err_set(err, NRFCA_E_STALE, "device %s now holds an active %s (serial %s)", c->device_id,
		                     cert_kind_name(c->kind), holder);
	if (expected != NULL && strcmp(holder, expected) != 0) {
		if (holder[0] == '\0')
			return nrfca_err_set(err, NRFCA_E_STALE, "device %s no longer holds %s %s", c->device_id,
			                     cert_kind_name(c->kind), expected);
		return nrfca_err_set(err, NRFCA_E_STALE, "device %s now holds %s %s, not %s", c->device_id,
		                     cert_kind_name(c->kind), holder, expected);
	}
	return 0;
}

static int apply_issue(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct issue_req *r = arg;
	const struct cert_record *c = r->rec;
	struct lq q;

	if (c->one_active && check_holder(w, c, r->expected, err) != 0)
		return -1;
	if (r->expected != NULL &&
	    revoke_one(w, r->expected, CRL_REASON_SUPERSEDED, r->actor, r->rdetail, NULL, err) != 0)
		return -1;
	if (lq_exec(&q, w->l, w->c, Q_INSERT_CERT, err, "ttttttihhtiiitIItbtit", c->serial, c->device_id, c->uuid,
	            c->imei, c->profile, c->station, c->sec_tag, c->csr_sha256, c->pubkey_sha256, c->subject,
	            c->not_before, c->not_after, c->issued_at != 0 ? c->issued_at : ledger_now(),
	            cert_status_name(CERT_ACTIVE), 0LL, 0LL, c->request_id, c->der, c->der_len,
	            cert_kind_name(c->kind), (long long)c->one_active, c->slot) < 0) {
		switch (q.cons) {
		case LCONS_NONE:
			return -1;
		case LCONS_CERT_SERIAL:
			return nrfca_err_set(err, NRFCA_E_EXISTS, "serial %s is already in the ledger", c->serial);
		case LCONS_CERT_CSR:
			return nrfca_err_set(err, NRFCA_E_CONFLICT, "a certificate for this CSR is already recorded");
		case LCONS_ONE_ACTIVE:
			return nrfca_err_set(err, NRFCA_E_STALE, "device %s already holds an active %s", c->device_id,
			                     cert_kind_name(c->kind));
		default:
			return nrfca_err_set(err, NRFCA_E_INPUT, "certificate record refused by the database: %s",
			                     err != NULL ? err->msg : "constraint");
		}
	}
	return audit_append(w, r->actor, "issue", r->detail, err);
}

int ledger_record_issuance(struct ledger *l, const struct cert_record *rec, const char *actor,
                           const char *expected_active, struct nrfca_err *err)
{
	struct issue_req r = { 0 };
	int ret = -1;

	if (ledger_check_record(rec, err) != 0 || ledger_check_actor(&actor, err) != 0)
		return -1;
	if (expected_active != NULL &&
	    (!ledger_is_hex_serial(expected_active) || strcmp(expected_active, rec->serial) == 0))
		return nrfca_err_set(err, NRFCA_E_INPUT, "the serial to supersede is malformed");
	r.detail = ledger_dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:s?, s:s?, s:s?, s:s?}",
	                                 "serial", rec->serial, "device_id", rec->device_id, "profile",
	                                 rec->profile, "station", rec->station, "sec_tag",
	                                 (json_int_t)rec->sec_tag, "subject", rec->subject, "kind",
	                                 cert_kind_name(rec->kind), "one_active", rec->one_active, "slot",
	                                 rec->slot[0] ? rec->slot : NULL, "supersedes", expected_active,
	                                 "supersedes_station",
	                                 expected_active != NULL && rec->supersedes_station[0] ?
	                                 rec->supersedes_station : NULL,
	                                 "attestation", rec->attestation[0] ? rec->attestation : NULL),
	                       err);
	if (r.detail == NULL)
		goto out;
	if (expected_active != NULL &&
	    (r.rdetail = ledger_revoke_detail(expected_active, CRL_REASON_SUPERSEDED, rec->serial, err)) == NULL)
		goto out;
	r.rec = rec;
	r.actor = actor;
	r.expected = expected_active;
	ret = ledger_submit(l, apply_issue, &r, WF_AUDITS, err);
out:
	free(r.detail);
	free(r.rdetail);
	return ret;
}

struct revoke_req {
	const char *serial, *actor, *detail;
	int reason;
	long long at;
};

static int apply_revoke(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct revoke_req *r = arg;

	return revoke_one(w, r->serial, r->reason, r->actor, r->detail, &r->at, err);
}

int ledger_revoke(struct ledger *l, const char *serial, int reason, const char *actor, long long *revoked_at,
                  struct nrfca_err *err)
{
	struct revoke_req r = { 0 };
	char *detail;
	int ret;

	if (ledger_serial_input(serial, err) != 0)
		return -1;
	if (crl_reason_name(reason) == NULL || reason == CRL_REASON_REMOVE_FROM_CRL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "revocation reason %d is not allowed", reason);
	if (ledger_check_actor(&actor, err) != 0)
		return -1;
	detail = ledger_revoke_detail(serial, reason, NULL, err);
	if (detail == NULL)
		return -1;
	r.serial = serial;
	r.reason = reason;
	r.actor = actor;
	r.detail = detail;
	ret = ledger_submit(l, apply_revoke, &r, WF_AUDITS, err);
	free(detail);
	if (ret == 0 && revoked_at != NULL)
		*revoked_at = r.at;
	return ret;
}

/* ---- CRL state ---- */

struct number_req {
	long long floor;
	long long out;
};

static int apply_crl_number(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct number_req *r = arg;
	struct lq q;
	int rc = lq_one(&q, w->l, w->c, Q_CRL_NEXT, err, "i", r->floor);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return lq_malformed(&q, "CRL state (no row)", err);
	r->out = lq_int(&q, 0);
	lq_end(&q);
	return 0;
}

int ledger_next_crl_number(struct ledger *l, unsigned long long *out, struct nrfca_err *err)
{
	struct number_req r = { 0 };
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.floor = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ledger_write_small(l, apply_crl_number, &r, err) != 0)
		return -1;
	*out = (unsigned long long)r.out;
	return 0;
}

struct crl_row {
	struct ledger_crl *out;
	unsigned char **der;          /* NULL: state only */
	size_t *len;
	int seen;
};

static int crl_row(struct lq *q, void *ctx, struct nrfca_err *err)
{
	struct crl_row *x = ctx;
	const void *p;
	size_t n = 0;

	x->out->revocation_mark = lq_int(q, 0);
	x->out->number = (unsigned long long)lq_int(q, 1);
	x->out->this_update = lq_int(q, 2);
	x->out->next_update = lq_int(q, 3);
	x->out->mark = lq_int(q, 4);
	x->seen = 1;
	if (x->der == NULL || x->out->number == 0)
		return 1;
	p = lq_null(q, 5) ? NULL : lq_blob(q, 5, &n);
	if (p == NULL || n == 0 || n > LEDGER_CRL_MAX)
		return lq_malformed(q, "published CRL", err);
	*x->der = malloc(n);
	if (*x->der == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	memcpy(*x->der, p, n);
	*x->len = n;
	return 1;
}

int ledger_crl_state(struct ledger *l, struct ledger_crl *out, struct nrfca_err *err)
{
	struct crl_row x = { out, NULL, NULL, 0 };

	if (lq_walk(l, Q_CRL_STATE, NULL, NULL, 0, crl_row, &x, err) != 0)
		return -1;
	if (!x.seen)
		return nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed CRL state (no row)",
		                     ledger_where(l));
	return 0;
}

int ledger_crl_get(struct ledger *l, struct ledger_crl *out, unsigned char **der, size_t *len,
                   struct nrfca_err *err)
{
	struct crl_row x = { out, der, len, 0 };

	*der = NULL;
	if (lq_walk(l, Q_CRL_PUBLISHED, NULL, NULL, 0, crl_row, &x, err) != 0) {
		free(*der);
		*der = NULL;
		return -1;
	}
	if (!x.seen)
		return nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed CRL state (no row)",
		                     ledger_where(l));
	return out->number == 0 ? 1 : 0;
}

struct publish_req {
	const struct ledger_crl *c;
	const unsigned char *der;
	size_t len;
	long long changed;
};

static int apply_crl_publish(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct publish_req *r = arg;
	struct lq q;

	r->changed = lq_exec(&q, w->l, w->c, Q_CRL_PUBLISH, err, "iiiib", (long long)r->c->number,
	                     r->c->this_update, r->c->next_update, r->c->mark, (const void *)r->der,
	                     r->len);
	return r->changed < 0 ? -1 : 0;
}

int ledger_crl_publish(struct ledger *l, const struct ledger_crl *c, const unsigned char *der,
                       size_t len, int *published, struct nrfca_err *err)
{
	struct publish_req r = { c, der, len, 0 };

	if (c->number == 0 || c->number > (unsigned long long)INT64_MAX || der == NULL || len == 0 ||
	    len > LEDGER_CRL_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a CRL to publish needs a number and 1 to %u "
		                     "bytes of DER", LEDGER_CRL_MAX);
	if (ledger_write_small(l, apply_crl_publish, &r, err) != 0)
		return -1;
	if (published != NULL)
		*published = r.changed > 0;
	return 0;
}

struct ints {
	long long *a, *b;
	int seen;
};

static int ints_row(struct lq *q, void *ctx, struct nrfca_err *err)
{
	struct ints *x = ctx;

	(void)err;
	if (x->a != NULL)
		*x->a = lq_int(q, 0);
	if (x->b != NULL)
		*x->b = lq_int(q, 1);
	x->seen = 1;
	return 1;
}

int ledger_read_ints(struct ledger *l, enum qid id, long long *a, long long *b, const char *what,
                     struct nrfca_err *err)
{
	struct ints x = { a, b, 0 };

	if (lq_walk(l, id, NULL, NULL, 0, ints_row, &x, err) != 0)
		return -1;
	if (!x.seen)
		return nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed %s", ledger_where(l), what);
	return 0;
}

int ledger_revocation_mark(struct ledger *l, long long *mark, struct nrfca_err *err)
{
	return ledger_read_ints(l, Q_REVOCATION_MARK, mark, NULL, "CRL state (no row)", err);
}

int ledger_count(struct ledger *l, long long *certs, long long *revoked, struct nrfca_err *err)
{
	return ledger_read_ints(l, Q_COUNT, certs, revoked, "count", err);
}

/* ---- reads ---- */

/* One record by a key (k1, k2 as fmt says) on a pool connection. */
/* One record by up to three keys (fmt says how many).  which: NULL, or the
 * query's column after the record's columns (Q_CSR_OR_HOLDER's "which"). */
static int lookup3(struct ledger *l, enum qid id, const char *fmt, const void *k1, const void *k2,
                   const void *k3, struct cert_record *out, int *which, struct nrfca_err *err)
{
	struct lconn *c = pool_get(l, err);
	struct lq q;
	int rc;

	if (c == NULL)
		return -1;
	rc = lq_one(&q, l, c, id, err, fmt, k1, k2, k3);
	if (rc == 1) {
		if (which != NULL)
			*which = (int)lq_int(&q, LEDGER_CERT_NCOLS);
		rc = row_record(&q, out, err) == 0 ? 0 : -1;
		lq_end(&q);
	} else if (rc == 0) {
		rc = 1;
	}
	pool_put(l, c);
	return rc;
}

static int lookup(struct ledger *l, enum qid id, const char *fmt, const void *k1, const void *k2,
                  struct cert_record *out, struct nrfca_err *err)
{
	return lookup3(l, id, fmt, k1, k2, NULL, out, NULL, err);
}

int ledger_get(struct ledger *l, const char *serial, struct cert_record *out, struct nrfca_err *err)
{
	if (ledger_serial_input(serial, err) != 0)
		return -1;
	return lookup(l, Q_GET, "t", serial, NULL, out, err);
}

int ledger_find_by_csr(struct ledger *l, const unsigned char csr_sha256[32], struct cert_record *out,
                       struct nrfca_err *err)
{
	if (csr_sha256 == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no CSR hash given");
	return lookup(l, Q_BY_CSR, "h", csr_sha256, NULL, out, err);
}

int ledger_find_active_by_device(struct ledger *l, const char *device_id, struct cert_record *out,
                                 struct nrfca_err *err)
{
	if (device_id == NULL || device_id[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "no device id given");
	return lookup(l, Q_ACTIVE_BY_DEVICE, "t", device_id, NULL, out, err);
}

int ledger_find_holder(struct ledger *l, const char *device_id, enum cert_kind kind, struct cert_record *out,
                       struct nrfca_err *err)
{
	if (device_id == NULL || device_id[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "no device id given");
	if (cert_kind_name(kind) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown record kind %d", (int)kind);
	return lookup(l, Q_HOLDER, "tt", device_id, cert_kind_name(kind), out, err);
}

int ledger_find_csr_or_holder(struct ledger *l, const unsigned char csr_sha256[32], const char *device_id,
                              enum cert_kind kind, struct cert_record *out, int *holder,
                              struct nrfca_err *err)
{
	if (csr_sha256 == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no CSR hash given");
	if (device_id == NULL || device_id[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "no device id given");
	if (cert_kind_name(kind) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown record kind %d", (int)kind);
	return lookup3(l, Q_CSR_OR_HOLDER, "htt", csr_sha256, device_id, cert_kind_name(kind), out, holder,
	               err);
}

int ledger_serial_exists(struct ledger *l, const char *serial, int *exists, struct nrfca_err *err)
{
	if (ledger_serial_input(serial, err) != 0)
		return -1;
	return lq_probe(l, Q_SERIAL_EXISTS, exists, err, "t", serial, NULL);
}

struct list_ctx {
	int (*cb)(const struct cert_record *rec, void *arg);
	int (*rcb)(const char *serial, long long revoked_at, int reason, void *arg);
	void *arg;
};

static int list_row(struct lq *q, void *ctx, struct nrfca_err *err)
{
	struct list_ctx *x = ctx;
	struct cert_record rec;
	int stop;

	if (row_record(q, &rec, err) != 0)
		return -1;
	stop = x->cb(&rec, x->arg);
	cert_record_clear(&rec);
	return stop != 0;
}

int ledger_list(struct ledger *l, const struct ledger_filter *f,
                int (*cb)(const struct cert_record *rec, void *arg), void *arg, struct nrfca_err *err)
{
	static const struct ledger_filter none = { 0 };
	struct list_ctx x = { .cb = cb, .arg = arg };
	struct sqlb b;

	if (f == NULL)
		f = &none;
	if (f->status != NULL && cert_status_from_name(f->status) < 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "status filter must be \"active\" or \"revoked\"");
	if (f->kind != NULL && cert_kind_from_name(f->kind) < 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "kind filter must be \"certificate\" or \"public_key\"");
	if (f->after_serial != NULL && !ledger_is_hex_serial(f->after_serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "paging serial must be lower-case hex");
	/* a device's few records through its index; otherwise the walk in
	 * serial order that tests the filters on certificates_list (or, for
	 * revoked records, certificates_revoked, whose condition the query must
	 * state literally; for one profile's records, certificates_profile,
	 * which starts with the profile) */
	if (f->device_id != NULL) {
		sqlb_start(&b, l->q[Q_CERT_SELECT]);
		sqlb_text(&b, "status =", f->status);
	} else if (f->status != NULL && strcmp(f->status, "revoked") == 0) {
		sqlb_start(&b, l->q[Q_CERT_LIST_REVOKED]);
		sqlb_raw(&b, "status = 'revoked'");
	} else if (f->profile != NULL) {
		sqlb_start(&b, l->q[Q_CERT_LIST_PROFILE]);
		sqlb_text(&b, "status =", f->status);
	} else {
		sqlb_start(&b, l->q[Q_CERT_LIST]);
		sqlb_text(&b, "status =", f->status);
	}
	sqlb_text(&b, "device_id =", f->device_id);
	sqlb_text(&b, "profile =", f->profile);
	sqlb_text(&b, "station =", f->station);
	sqlb_text(&b, "kind =", f->kind);
	sqlb_text(&b, "serial >", f->after_serial);
	sqlb_int(&b, "issued_at >", f->issued_after);
	sqlb_end(&b, "ORDER BY serial", f->limit);
	return lq_walk(l, -1, b.sql, b.p, b.np, list_row, &x, err);
}

static int revoked_row(struct lq *q, void *ctx, struct nrfca_err *err)
{
	struct list_ctx *x = ctx;
	char serial[LEDGER_SERIAL_MAX + 1];

	if (lq_text(q, 0, serial, sizeof(serial)) != 0)
		return lq_malformed(q, "serial", err);
	return x->rcb(serial, lq_int(q, 1), (int)lq_int(q, 2), x->arg) != 0;
}

int ledger_revoked_each(struct ledger *l, int (*cb)(const char *serial, long long revoked_at, int reason, void *arg),
                        void *arg, struct nrfca_err *err)
{
	struct list_ctx x = { .rcb = cb, .arg = arg };

	return lq_walk(l, Q_REVOKED_EACH, NULL, NULL, 0, revoked_row, &x, err);
}

/* ---- rate windows ---- */

#define RATE_PERIOD_MAX 86400

struct rate_req {
	const struct ledger_rate *r;
	size_t n;
	long long now, prune_before;
	int refused;       /* a bucket is over its limit: the whole take was undone */
	size_t refused_by;
};

static long long window_of(long long now, int period)
{
	return now - now % period;
}

/* Count one hit in every bucket; if any goes over its limit, fail so that the
 * transaction (or the writer's SAVEPOINT) undoes all of them: all or none. */
static int apply_rate(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct rate_req *r = arg;
	struct lq q;
	size_t i;
	int rc;

	if (ledger_async_commit(w, err) != 0)
		return -1;
	for (i = 0; i < r->n; i++) {
		rc = lq_one(&q, w->l, w->c, Q_RATE_TAKE, err, "ti", r->r[i].bucket,
		            window_of(r->now, r->r[i].period_s));
		if (rc < 0)
			return -1;
		if (rc == 0)
			return lq_malformed(&q, "rate window (no count returned)", err);
		if (lq_int(&q, 0) > r->r[i].limit && !r->refused) {
			r->refused = 1;
			r->refused_by = i;
		}
		lq_end(&q);
	}
	if (r->refused)
		return nrfca_err_set(err, NRFCA_E_POLICY, "rate limit reached");
	if (r->prune_before > 0 && lq_exec(&q, w->l, w->c, Q_RATE_PRUNE, err, "i", r->prune_before) < 0)
		return -1;
	return 0;
}

int ledger_rate_take_n(struct ledger *l, const struct ledger_rate *rates, size_t n, int *retry_after_s,
                       size_t *refused_by, struct nrfca_err *err)
{
	struct rate_req r = { 0 };
	struct nrfca_err e = { 0 };
	long long minute;
	size_t i;

	if (n == 0 || n > LEDGER_RATE_BUCKETS_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a rate take names 1 to %d buckets",
		                     LEDGER_RATE_BUCKETS_MAX);
	for (i = 0; i < n; i++) {
		if (ledger_check_printable("rate bucket", rates[i].bucket, LEDGER_BUCKET_MAX, err) != 0)
			return -1;
		if (rates[i].limit <= 0)
			return nrfca_err_set(err, NRFCA_E_INPUT, "a rate limit must allow at least 1 event");
		if (rates[i].period_s < 60 || rates[i].period_s > RATE_PERIOD_MAX)
			return nrfca_err_set(err, NRFCA_E_INPUT, "a rate window is 60 to %d seconds, not %d",
			                     RATE_PERIOD_MAX, rates[i].period_s);
	}
	r.r = rates;
	r.n = n;
	r.now = ledger_now();
	minute = window_of(r.now, 60);
	/* the first take of a new minute (per process) removes windows that
	 * ended (the longest is a day) */
	pthread_mutex_lock(&l->cache_mu);
	if (l->rate_pruned < minute) {
		l->rate_pruned = minute;
		r.prune_before = r.now - RATE_PERIOD_MAX;
	}
	pthread_mutex_unlock(&l->cache_mu);
	if (ledger_write_small(l, apply_rate, &r, &e) != 0) {
		if (!r.refused) {
			if (err != NULL)
				*err = e;
			return -1;
		}
		if (refused_by != NULL)
			*refused_by = r.refused_by;
		if (retry_after_s != NULL) {
			const struct ledger_rate *b = &rates[r.refused_by];
			long long left = window_of(r.now, b->period_s) + b->period_s - r.now;

			*retry_after_s = left > 0 ? (int)left : 1;
		}
		return 1;
	}
	return 0;
}

int ledger_rate_take(struct ledger *l, const char *bucket, int per_minute, int *retry_after_s,
                     struct nrfca_err *err)
{
	const struct ledger_rate r = { bucket, per_minute, 60 };

	return ledger_rate_take_n(l, &r, 1, retry_after_s, NULL, err);
}

/* ---- migration 2: at most one active record per device ---- */

/* A v1 ledger may hold several active certificates for one device (the
 * check was only in C).  Keep the newest as the one-active holder, mark the
 * older ones one_active = 0 (they stay active: never revoke silently), and
 * say so in one audit entry. */
int ledger_m2_one_active(struct wctx *w, struct nrfca_err *err)
{
	char serial[LEDGER_SERIAL_MAX + 1], dev[65], kind[16], cur[65 + 16] = "", key[65 + 16];
	json_t *devices = json_array(), *entry = NULL, *demoted = NULL;
	struct lq q;
	size_t i;
	char *detail = NULL;
	int rc, ret = -1;

	if (devices == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (lq_run(&q, w->l, w->c, Q_M2_DUPLICATES, err, "") != 0)
		goto out;
	while ((rc = lq_next(&q, err)) == 1) {
		if (lq_text(&q, 0, serial, sizeof(serial)) || lq_text(&q, 1, dev, sizeof(dev)) ||
		    lq_text(&q, 2, kind, sizeof(kind))) {
			lq_malformed(&q, "certificate record", err);
			lq_end(&q);
			goto out;
		}
		snprintf(key, sizeof(key), "%s/%s", dev, kind);
		if (strcmp(key, cur) != 0) { /* the newest of a device: kept */
			snprintf(cur, sizeof(cur), "%s", key);
			demoted = json_array();
			entry = json_pack("{s:s, s:s, s:s, s:o}", "device_id", dev, "kind", kind, "kept", serial,
			                  "demoted", demoted);
			if (entry == NULL || json_array_append_new(devices, entry) != 0)
				rc = -2;
		} else if (json_array_append_new(demoted, json_string(serial)) != 0) {
			rc = -2;
		}
		if (rc == -2) {
			lq_end(&q);
			nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
			goto out;
		}
	}
	lq_end(&q);
	if (rc < 0)
		goto out;
	for (i = 0; i < json_array_size(devices); i++) {
		size_t k;
		json_t *d = json_object_get(json_array_get(devices, i), "demoted");

		for (k = 0; k < json_array_size(d); k++)
			if (lq_exec(&q, w->l, w->c, Q_M2_DEMOTE, err, "t", json_string_value(json_array_get(d, k))) < 0)
				goto out;
	}
	ret = 0;
	if (json_array_size(devices) > 0) {
		detail = ledger_dump(json_pack("{s:O, s:s}", "devices", devices, "note",
		                               "schema 2 allows one active record per device; the older ones stay "
		                               "active without that mark until revoked"),
		                     err);
		ret = detail != NULL ? audit_append(w, "nrfca-migration", "migration.one_active", detail, err) : -1;
	}
out:
	free(detail);
	json_decref(devices);
	return ret;
}
