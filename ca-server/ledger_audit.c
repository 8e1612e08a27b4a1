/*
 * ledger_audit.c - the hash-chained audit log: hashing, the chain head,
 * appends inside the writer's transaction, verification, listing, and the
 * verified backup that relies on them.
 *
 * The chain continues from audit_head, read at the start of each writer
 * transaction ({FOR_UPDATE}: on PostgreSQL a row lock that serializes the
 * appends of every instance until COMMIT; on SQLite the write transaction
 * already excludes every other writer) and stored before COMMIT.
 */
#include "ledger_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int audit_hash(const unsigned char prev[32], long long id, long long at, const char *actor, size_t actor_len,
               const char *event, size_t event_len, const char *detail, size_t detail_len, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char b[16];
	const char *parts[3] = { actor, event, detail };
	size_t lens[3] = { actor_len, event_len, detail_len };
	unsigned int olen = 0;
	int i, ok;

	if (ctx == NULL)
		return -1;
	put_be64(b, (uint64_t)id);
	put_be64(b + 8, (uint64_t)at);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, prev, 32) &&
	     EVP_DigestUpdate(ctx, b, 16);
	for (i = 0; ok && i < 3; i++) {
		put_be32(b, (uint32_t)lens[i]);
		ok = EVP_DigestUpdate(ctx, b, 4) && (lens[i] == 0 || EVP_DigestUpdate(ctx, parts[i], lens[i]));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) && olen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int ledger_audit_entry_hash(const struct ledger_audit_entry *e, unsigned char out[32])
{
	return audit_hash(e->prev_hash, e->id, e->at, e->actor, strlen(e->actor), e->event,
	                  strlen(e->event), e->detail, strlen(e->detail), out);
}

/* ---- the chain head ---- */

int chain_load(struct wctx *w, struct nrfca_err *err)
{
	struct lq q;
	int rc = lq_one(&q, w->l, w->c, Q_HEAD_LOAD, err, "");

	if (rc < 0)
		return -1;
	if (rc == 0)
		return lq_malformed(&q, "audit log: the chain head is missing", err);
	w->ch.last_id = lq_int(&q, 0);
	rc = lq_hash(&q, 1, w->ch.last_hash);
	lq_end(&q);
	if (rc != 0)
		return lq_malformed(&q, "audit chain head", err);
	w->chain_loaded = 1;
	return 0;
}

int chain_store(struct wctx *w, struct nrfca_err *err)
{
	struct lq q;

	if (lq_exec(&q, w->l, w->c, Q_HEAD_STORE, err, "ih", w->ch.last_id, w->ch.last_hash) < 0)
		return -1;
	w->chain_dirty = 0;
	return 0;
}

int audit_head_init(struct wctx *w, struct nrfca_err *err)
{
	struct lq q;
	int rc = lq_one(&q, w->l, w->c, Q_AUDIT_LAST, err, "");

	memset(&w->ch, 0, sizeof(w->ch));
	if (rc < 0)
		return -1;
	if (rc == 1) {
		w->ch.last_id = lq_int(&q, 0);
		rc = lq_hash(&q, 1, w->ch.last_hash);
		lq_end(&q);
		if (rc != 0)
			return lq_malformed(&q, "audit entry (hash)", err);
	}
	if (lq_exec(&q, w->l, w->c, Q_HEAD_INIT, err, "ih", w->ch.last_id, w->ch.last_hash) < 0)
		return -1;
	w->chain_loaded = 1;
	return 0;
}

int audit_append(struct wctx *w, const char *actor, const char *event, const char *detail,
                 struct nrfca_err *err)
{
	unsigned char h[32];
	long long id, at = ledger_now();
	struct lq q;

	if (!w->chain_loaded && chain_load(w, err) != 0)
		return -1;
	id = w->ch.last_id + 1;
	if (audit_hash(w->ch.last_hash, id, at, actor, strlen(actor), event, strlen(event), detail, strlen(detail),
	               h) != 0)
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot hash an audit entry");
	if (lq_exec(&q, w->l, w->c, Q_AUDIT_INSERT, err, "iittthh", id, at, actor, event, detail,
	            w->ch.last_hash, h) < 0)
		return -1;
	w->ch.last_id = id;
	memcpy(w->ch.last_hash, h, 32);
	w->chain_dirty = 1;
	return 0;
}

/* ---- appending an event ---- */

struct audit_req {
	const char *actor, *event, *detail;
};

static int apply_audit(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct audit_req *a = arg;

	return audit_append(w, a->actor, a->event, a->detail, err);
}

int ledger_audit(struct ledger *l, const char *actor, const char *event, const char *detail_json,
                 struct nrfca_err *err)
{
	struct audit_req a;
	json_error_t jerr;
	json_t *j;
	char *detail;
	size_t n;
	int ret;

	if (ledger_check_actor(&actor, err) != 0 || ledger_check_event(event, err) != 0)
		return -1;
	if (detail_json == NULL)
		detail_json = "{}";
	n = strnlen(detail_json, LEDGER_AUDIT_DETAIL_MAX + 1);
	if (n > LEDGER_AUDIT_DETAIL_MAX)
		return nrfca_err_set(err, NRFCA_E_TOO_LARGE, "audit detail is over %d bytes", LEDGER_AUDIT_DETAIL_MAX);
	j = json_loadb(detail_json, n, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return nrfca_err_set(err, NRFCA_E_INPUT, "audit detail must be a JSON object");
	}
	detail = ledger_dump(j, err);
	if (detail == NULL)
		return -1;
	a.actor = actor;
	a.event = event;
	a.detail = detail;
	ret = ledger_submit(l, apply_audit, &a, WF_AUDITS, err);
	free(detail);
	return ret;
}

/* ---- verify ---- */

struct verify {
	long long n, prev_id, broken_id;
	unsigned char prev[32];
	long long head_id;
	unsigned char head_hash[32];
	char msg[200];
};

/* One entry against the one before and the head; 0 fine, 1 broken, -1 error. */
static int verify_entry(struct verify *v, struct lq *q, struct nrfca_err *err)
{
	unsigned char stored_prev[32], h[32], calc[32];
	size_t la, le, ld;
	const char *actor, *event, *detail;
	long long id = lq_int(q, 0), at = lq_int(q, 1);

	v->n++;
	v->broken_id = id;
	actor = lq_str(q, 2, &la);
	event = lq_str(q, 3, &le);
	detail = lq_str(q, 4, &ld);
	if (lq_hash(q, 5, stored_prev) != 0 || lq_hash(q, 6, h) != 0 || actor == NULL || event == NULL ||
	    detail == NULL) {
		snprintf(v->msg, sizeof(v->msg), "entry %lld: malformed fields", id);
		return 1;
	}
	if (id != v->prev_id + 1) {
		snprintf(v->msg, sizeof(v->msg), "entry %lld: follows entry %lld, entries are missing", id, v->prev_id);
		return 1;
	}
	if (audit_hash(stored_prev, id, at, actor, la, event, le, detail, ld, calc) != 0)
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot hash an audit entry");
	if (CRYPTO_memcmp(calc, h, 32) != 0) {
		snprintf(v->msg, sizeof(v->msg), "entry %lld: hash does not match its contents", id);
		return 1;
	}
	if (CRYPTO_memcmp(stored_prev, v->prev, 32) != 0) {
		if (v->prev_id == 0)
			snprintf(v->msg, sizeof(v->msg), "entry %lld: prev_hash of the first entry is not zero", id);
		else
			snprintf(v->msg, sizeof(v->msg), "entry %lld: prev_hash does not match entry %lld", id,
			         v->prev_id);
		return 1;
	}
	if (id == v->head_id && CRYPTO_memcmp(h, v->head_hash, 32) != 0) {
		snprintf(v->msg, sizeof(v->msg), "entry %lld: the chain head names another hash for it", id);
		return 1;
	}
	memcpy(v->prev, h, 32);
	v->prev_id = id;
	return 0;
}

/* Walk the chain read through c (the head first: entries appended while we
 * walk are newer than the head we compare with). */
static int verify_walk(struct ledger *l, struct lconn *c, struct verify *v, struct nrfca_err *err)
{
	struct lq q;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = lq_one(&q, l, c, Q_HEAD_READ, err, "");
	if (rc < 0)
		return -1;
	if (rc == 1) {
		v->head_id = lq_int(&q, 0);
		rc = lq_hash(&q, 1, v->head_hash);
		lq_end(&q);
		if (rc != 0)
			return lq_malformed(&q, "audit chain head", err);
	}
	if (lq_run(&q, l, c, Q_AUDIT_ALL, err, "") != 0)
		return -1;
	while ((rc = lq_next(&q, err)) == 1)
		if ((rc = verify_entry(v, &q, err)) != 0)
			break;
	lq_end(&q);
	if (rc != 0)
		return rc;
	if (v->prev_id < v->head_id) {
		snprintf(v->msg, sizeof(v->msg),
		         "the log ends at entry %lld but its head names entry %lld: the newest entries were removed",
		         v->prev_id, v->head_id);
		v->broken_id = v->prev_id + 1;
		return 1;
	}
	snprintf(v->msg, sizeof(v->msg), "%lld entries, chain intact", v->n);
	v->broken_id = 0;
	return 0;
}

int ledger_audit_verify(struct ledger *l, long long *entries, long long *first_broken_id, char *why,
                        size_t whylen, struct nrfca_err *err)
{
	struct lconn *c = pool_get(l, err);
	struct verify v;
	int rc;

	if (c == NULL)
		return -1;
	rc = verify_walk(l, c, &v, err);
	pool_put(l, c);
	if (rc < 0)
		return -1;
	if (entries != NULL)
		*entries = v.n;
	if (first_broken_id != NULL)
		*first_broken_id = v.broken_id;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", v.msg);
	return rc;
}

/* ---- list ---- */

struct list_ctx {
	int (*cb)(const struct ledger_audit_entry *e, void *arg);
	void *arg;
};

static int list_row(struct lq *q, void *ctx, struct nrfca_err *err)
{
	struct list_ctx *x = ctx;
	struct ledger_audit_entry e = { 0 };
	size_t n;

	e.id = lq_int(q, 0);
	e.at = lq_int(q, 1);
	e.actor = lq_str(q, 2, &n);
	e.event = lq_str(q, 3, &n);
	e.detail = lq_str(q, 4, &n);
	if (e.actor == NULL || e.event == NULL || e.detail == NULL || lq_hash(q, 5, e.prev_hash) != 0 ||
	    lq_hash(q, 6, e.hash) != 0)
		return lq_malformed(q, "audit entry", err);
	return x->cb(&e, x->arg) != 0;
}

int ledger_audit_list(struct ledger *l, const struct ledger_audit_filter *f,
                      int (*cb)(const struct ledger_audit_entry *e, void *arg), void *arg, struct nrfca_err *err)
{
	static const struct ledger_audit_filter none = { 0 };
	struct list_ctx x = { cb, arg };
	struct sqlb b;

	if (f == NULL)
		f = &none;
	if ((f->actor != NULL && ledger_check_printable("actor filter", f->actor, ACTOR_MAX, err) != 0) ||
	    (f->event != NULL && ledger_check_event(f->event, err) != 0))
		return -1;
	sqlb_start(&b, "SELECT id, at, actor, event, detail, prev_hash, hash FROM audit_log");
	sqlb_int(&b, "id >", f->after_id > 0 ? f->after_id : 0);
	sqlb_int(&b, "at >=", f->since);
	sqlb_int(&b, "at <", f->until);
	sqlb_text(&b, "actor =", f->actor);
	sqlb_text(&b, "event =", f->event);
	sqlb_end(&b, "ORDER BY id", f->limit);
	return lq_walk(l, -1, b.sql, b.p, b.np, list_row, &x, err);
}

/* ---- backup ---- */

/* Open the copy as a ledger and check it whole. */
static int backup_verify(const char *path, long long *entries, struct nrfca_err *err)
{
	struct ledger_config cfg = { .readers = 1 };
	struct ledger *b = NULL;
	struct lconn *c = NULL;
	struct verify v;
	struct lq q;
	char *url = malloc(strlen(path) + 8);
	int rc = -1;

	if (url == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	sprintf(url, "sqlite:%s", path);
	if (ledger_open_cfg(url, &cfg, &b, err) != 0)
		goto out;
	c = pool_get(b, err);
	if (c == NULL || b->eng->integrity(c, err) != 0)
		goto out;
	if (lq_one(&q, b, c, Q_SCHEMA_VERSION, err, "") != 1)
		goto out;
	rc = (int)lq_int(&q, 0);
	lq_end(&q);
	if (rc != LEDGER_SCHEMA_VERSION) {
		rc = nrfca_err_set(err, NRFCA_E_DB, "the copy has schema version %d, expected %d", rc,
		                   LEDGER_SCHEMA_VERSION);
		goto out;
	}
	rc = verify_walk(b, c, &v, err);
	if (rc == 1)
		rc = nrfca_err_set(err, NRFCA_E_DB, "the copy's audit chain is broken: %s", v.msg);
	else if (rc == 0 && entries != NULL)
		*entries = v.n;
out:
	pool_put(b, c);
	ledger_close(b);
	free(url);
	return rc;
}

int ledger_backup(struct ledger *l, const char *dest, long long *entries, struct nrfca_err *err)
{
	struct stat st;
	char *partial;
	int rc = -1;

	if (l->eng->backup == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
		                     "this ledger is on %s: back it up with PostgreSQL's own tools (pg_dump, or "
		                     "continuous archiving); nrfca-admin backup copies SQLite ledgers",
		                     l->eng->name);
	if (dest == NULL || dest[0] == '\0' || strlen(dest) > 4000)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no backup file name given");
	if (lstat(dest, &st) == 0)
		return nrfca_err_set(err, NRFCA_E_EXISTS, "%s exists: a backup is written to a new file", dest);
	partial = malloc(strlen(dest) + 13);
	if (partial == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	sprintf(partial, "%s.partial", dest);
	if (l->eng->backup(l->e, partial, err) != 0 || backup_verify(partial, entries, err) != 0) {
		nrfca_err_prefix(err, "backup to %s failed", dest);
		goto out;
	}
	if (link(partial, dest) != 0) {
		nrfca_err_set(err, NRFCA_E_IO, "cannot create %s: %s", dest, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	unlink(partial);
	strcat(partial, "-wal");   /* left only by a failed verification */
	unlink(partial);
	strcpy(partial + strlen(partial) - 4, "-shm");
	unlink(partial);
	free(partial);
	return rc;
}
