/*
 * ledger_creds.c - API credentials (hash of the secret, role, expiry, last
 * use, client-certificate binding, station groups), the in-memory cache that
 * answers lookups on the request path, and the expected devices imported
 * from manufacturing orders.
 *
 * The cache holds positive answers for at most CRED_CACHE_TTL_S seconds and
 * is dropped whenever this handle changes a credential, so a change made
 * elsewhere (nrfca-admin, another instance) takes effect within that time.
 */
#include "ledger_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- rows ---- */

static int row_cred(struct lq *q, struct ledger_cred_info *c, struct nrfca_err *err)
{
	size_t n = 0;
	int r;

	memset(c, 0, sizeof(*c));
	r = cred_role_from_name(lq_str(q, 1, &n));
	if (lq_text(q, 0, c->name, sizeof(c->name)) != 0 || r < 0 ||
	    lq_text(q, 8, c->cert_subject, sizeof(c->cert_subject)) != 0)
		return lq_malformed(q, "credential", err);
	c->role = (enum cred_role)r;
	c->disabled = lq_int(q, 2) != 0;
	c->created = lq_int(q, 3);
	c->disabled_at = lq_null(q, 4) ? 0 : lq_int(q, 4);
	c->expires_at = lq_null(q, 5) ? 0 : lq_int(q, 5);
	c->last_used = lq_null(q, 6) ? 0 : lq_int(q, 6);
	if (!lq_null(q, 7)) {
		if (lq_hash(q, 7, c->cert_sha256) != 0)
			return lq_malformed(q, "credential (certificate fingerprint)", err);
		c->has_cert_sha256 = 1;
	}
	c->expired = c->expires_at != 0 && c->expires_at <= ledger_now();
	return 0;
}

/* The groups of one credential (c->name) read through conn. */
static int read_groups(struct ledger *l, struct lconn *conn, struct ledger_cred_info *c, struct nrfca_err *err)
{
	struct lq q;
	int rc;

	c->n_groups = 0;
	if (lq_run(&q, l, conn, Q_CRED_GROUPS_OF, err, "t", c->name) != 0)
		return -1;
	while ((rc = lq_next(&q, err)) == 1) {
		if (c->n_groups == LEDGER_CRED_GROUPS_MAX ||
		    lq_text(&q, 1, c->groups[c->n_groups], sizeof(c->groups[0])) != 0) {
			rc = lq_malformed(&q, "credential group", err);
			break;
		}
		c->n_groups++;
	}
	lq_end(&q);
	return rc;
}

/* One credential by a key query: 0 found, 1 not found, -1 error. */
static int cred_read(struct ledger *l, struct lconn *c, enum qid id, const char *fmt, const void *key,
                     struct ledger_cred_info *out, struct nrfca_err *err)
{
	struct lq q;
	int rc = lq_one(&q, l, c, id, err, fmt, key);

	if (rc != 1)
		return rc == 0 ? 1 : -1;
	rc = row_cred(&q, out, err);
	lq_end(&q);
	return rc;
}

/* ---- cache ---- */

static unsigned cache_index(const unsigned char key[32])
{
	return ((unsigned)key[0] | (unsigned)key[1] << 8) % CRED_CACHE_SLOTS;
}

static int cache_get(struct ledger *l, const unsigned char key[32], int by_cert, struct ledger_cred_info *out,
                     unsigned long *gen)
{
	time_t now = time(NULL);
	unsigned i, idx = cache_index(key);
	int found = 0;

	pthread_mutex_lock(&l->cache_mu);
	*gen = l->cache_gen;
	for (i = 0; i < CRED_CACHE_PROBE; i++) {
		struct cred_slot *s = &l->cache[(idx + i) % CRED_CACHE_SLOTS];
		if (s->used && s->gen == l->cache_gen && s->by_cert == by_cert && s->expires > now &&
		    CRYPTO_memcmp(s->key, key, 32) == 0) {
			*out = s->info;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&l->cache_mu);
	if (found)
		out->expired = out->expires_at != 0 && out->expires_at <= ledger_now();
	return found;
}

static void cache_put(struct ledger *l, const unsigned char key[32], int by_cert, const struct ledger_cred_info *v,
                      unsigned long gen)
{
	time_t now = time(NULL);
	unsigned i, idx = cache_index(key);
	struct cred_slot *s = NULL;

	pthread_mutex_lock(&l->cache_mu);
	if (gen == l->cache_gen) { /* nothing changed since we read the database */
		for (i = 0; i < CRED_CACHE_PROBE; i++) {
			struct cred_slot *t = &l->cache[(idx + i) % CRED_CACHE_SLOTS];
			if (!t->used || t->gen != gen || t->expires <= now ||
			    (t->by_cert == by_cert && memcmp(t->key, key, 32) == 0)) {
				s = t;
				break;
			}
		}
		if (s == NULL)
			s = &l->cache[idx];
		memcpy(s->key, key, 32);
		s->by_cert = by_cert;
		s->info = *v;
		s->used = 1;
		s->gen = gen;
		s->expires = now + CRED_CACHE_TTL_S;
	}
	pthread_mutex_unlock(&l->cache_mu);
}

/* Every slot of an older generation is stale: no 440 KiB memset under the
 * lock that every authenticated request takes. */
void cred_cache_invalidate(struct ledger *l)
{
	pthread_mutex_lock(&l->cache_mu);
	l->cache_gen++;
	pthread_mutex_unlock(&l->cache_mu);
}

/* ---- lookups ---- */

int ledger_cred_lookup(struct ledger *l, const unsigned char hash[32], char name[LEDGER_CRED_NAME_MAX + 1],
                       enum cred_role *role, int *disabled, struct nrfca_err *err)
{
	struct ledger_cred_info v;
	struct lconn *c;
	unsigned long gen;
	int rc;

	if (hash == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no credential hash given");
	if (!cache_get(l, hash, 0, &v, &gen)) {
		c = pool_get(l, err);
		if (c == NULL)
			return -1;
		rc = cred_read(l, c, Q_CRED_LOOKUP, "h", hash, &v, err);
		pool_put(l, c);
		if (rc != 0)
			return rc;
		cache_put(l, hash, 0, &v, gen);
	}
	memcpy(name, v.name, sizeof(v.name));
	*role = v.role;
	*disabled = v.disabled ? 1 : v.expired ? 2 : 0;
	return 0;
}

int ledger_cred_lookup_cert(struct ledger *l, const unsigned char cert_sha256[32], const char *subject,
                            struct ledger_cred_info *out, struct nrfca_err *err)
{
	struct ledger_cred_info v;
	unsigned char key[32];
	unsigned int klen = 0;
	EVP_MD_CTX *md;
	struct lconn *c;
	unsigned long gen;
	int rc = 1, ok;

	if (cert_sha256 == NULL && subject == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no client certificate fingerprint or subject given");
	if (subject != NULL && ledger_check_printable("certificate subject", subject, LEDGER_CERT_SUBJECT_MAX, err))
		return -1;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(md, cert_sha256 != NULL ? "F" : "-", 1) &&
	     (cert_sha256 == NULL || EVP_DigestUpdate(md, cert_sha256, 32)) &&
	     (subject == NULL || EVP_DigestUpdate(md, subject, strlen(subject))) &&
	     EVP_DigestFinal_ex(md, key, &klen);
	EVP_MD_CTX_free(md);
	if (!ok)
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot hash a certificate binding");
	if (cache_get(l, key, 1, out, &gen))
		return 0;
	c = pool_get(l, err);
	if (c == NULL)
		return -1;
	if (cert_sha256 != NULL)
		rc = cred_read(l, c, Q_CRED_BY_CERT, "h", cert_sha256, &v, err);
	if (rc == 1 && subject != NULL)
		rc = cred_read(l, c, Q_CRED_BY_SUBJECT, "t", subject, &v, err);
	if (rc == 0)
		rc = read_groups(l, c, &v, err);
	pool_put(l, c);
	if (rc != 0)
		return rc;
	cache_put(l, key, 1, &v, gen);
	*out = v;
	return 0;
}

int ledger_cred_get(struct ledger *l, const char *name, struct ledger_cred_info *out, struct nrfca_err *err)
{
	struct ledger_cred_info v;
	struct lconn *c;
	int rc;

	if (ledger_check_name("credential name", name, err) != 0)
		return -1;
	c = pool_get(l, err);
	if (c == NULL)
		return -1;
	rc = cred_read(l, c, Q_CRED_GET, "t", name, &v, err);
	if (rc == 0)
		rc = read_groups(l, c, &v, err);
	pool_put(l, c);
	if (rc == 0)
		*out = v;
	return rc;
}

struct group_row {
	char name[LEDGER_CRED_NAME_MAX + 1];
	char grp[LEDGER_CRED_NAME_MAX + 1];
};

int ledger_cred_each(struct ledger *l, int (*cb)(const struct ledger_cred_info *c, void *arg), void *arg,
                     struct nrfca_err *err)
{
	struct ledger_cred_info v;
	struct group_row *g = NULL, *t;
	size_t ng = 0, cap = 0, gi = 0;
	struct lconn *c = pool_get(l, err);
	struct lq q;
	int rc = -1, cmp;

	if (c == NULL)
		return -1;
	/* all groups first (both lists are in name order) */
	if (lq_run(&q, l, c, Q_CRED_GROUPS_ALL, err, "") != 0)
		goto out;
	while ((rc = lq_next(&q, err)) == 1) {
		if (ng == cap) {
			cap = cap ? 2 * cap : 64;
			t = realloc(g, cap * sizeof(*g));
			if (t == NULL) {
				rc = nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory listing credentials");
				break;
			}
			g = t;
		}
		if (lq_text(&q, 0, g[ng].name, sizeof(g[ng].name)) || lq_text(&q, 1, g[ng].grp, sizeof(g[ng].grp))) {
			rc = lq_malformed(&q, "credential group", err);
			break;
		}
		ng++;
	}
	lq_end(&q);
	if (rc != 0 || lq_run(&q, l, c, Q_CRED_ALL, err, "") != 0)
		goto out;
	while ((rc = lq_next(&q, err)) == 1) {
		if ((rc = row_cred(&q, &v, err)) != 0)
			break;
		for (; gi < ng && (cmp = strcmp(g[gi].name, v.name)) <= 0; gi++)
			if (cmp == 0 && v.n_groups < LEDGER_CRED_GROUPS_MAX)
				memcpy(v.groups[v.n_groups++], g[gi].grp, sizeof(v.groups[0]));
		if (cb(&v, arg) != 0) {
			rc = 0;
			break;
		}
	}
	lq_end(&q);
out:
	pool_put(l, c);
	free(g);
	return rc == 0 ? 0 : -1;
}

struct list_adapter {
	int (*cb)(const char *name, enum cred_role role, int disabled, long long created, void *arg);
	void *arg;
};

static int list_adapt(const struct ledger_cred_info *c, void *arg)
{
	struct list_adapter *a = arg;

	return a->cb(c->name, c->role, c->disabled, c->created, a->arg);
}

int ledger_cred_list(struct ledger *l,
                     int (*cb)(const char *name, enum cred_role role, int disabled, long long created, void *arg),
                     void *arg, struct nrfca_err *err)
{
	struct list_adapter a = { cb, arg };

	return ledger_cred_each(l, list_adapt, &a, err);
}

int ledger_cred_share_group(struct ledger *l, const char *a, const char *b, int *shared, struct nrfca_err *err)
{
	if (ledger_check_name("credential name", a, err) != 0 || ledger_check_name("credential name", b, err) != 0)
		return -1;
	return lq_probe(l, Q_SHARE_GROUP, shared, err, "tt", a, b);
}

/* ---- changes ---- */

enum cred_op { CO_ADD, CO_DISABLE, CO_ENABLE, CO_ROTATE, CO_EXPIRY, CO_BIND, CO_UNBIND, CO_GROUPS, CO_MAX };

static const char *const cred_events[CO_MAX] = {
	[CO_ADD] = "cred_add", [CO_DISABLE] = "cred_disable", [CO_ENABLE] = "cred_enable",
	[CO_ROTATE] = "cred_rotate", [CO_EXPIRY] = "cred_expiry", [CO_BIND] = "cred_bind",
	[CO_UNBIND] = "cred_unbind", [CO_GROUPS] = "cred_groups",
};

struct cred_req {
	enum cred_op op;
	const char *name, *actor, *subject;
	enum cred_role role;
	const unsigned char *hash;
	long long expires_at;
	const char *const *groups;
	size_t n_groups;
	json_t *detail;     /* owned; name added by cred_change */
};

static int cred_refused(const struct cred_req *r, enum lcons cons, struct nrfca_err *err)
{
	switch (cons) {
	case LCONS_CRED_NAME:
		return nrfca_err_set(err, NRFCA_E_EXISTS, "credential %s already exists", r->name);
	case LCONS_CRED_TOKEN:
		return nrfca_err_set(err, NRFCA_E_EXISTS, "this secret is already registered: make a new one");
	case LCONS_CRED_CERT:
		return nrfca_err_set(err, NRFCA_E_EXISTS, "this certificate fingerprint is bound to another credential");
	case LCONS_CRED_SUBJECT:
		return nrfca_err_set(err, NRFCA_E_EXISTS, "this certificate subject is bound to another credential");
	default:
		return -1;
	}
}

static long long cred_apply_op(struct wctx *w, struct cred_req *r, struct lq *q, struct nrfca_err *err)
{
	long long now = ledger_now(), n;
	size_t i;

	switch (r->op) {
	case CO_ADD:
		return lq_exec(q, w->l, w->c, Q_CRED_ADD, err, "tthiI", r->name, cred_role_name(r->role), r->hash, now,
		               r->expires_at);
	case CO_DISABLE:
		return lq_exec(q, w->l, w->c, Q_CRED_DISABLE, err, "it", now, r->name);
	case CO_ENABLE:
		return lq_exec(q, w->l, w->c, Q_CRED_ENABLE, err, "t", r->name);
	case CO_ROTATE:
		return lq_exec(q, w->l, w->c, Q_CRED_ROTATE, err, "ht", r->hash, r->name);
	case CO_EXPIRY:
		return lq_exec(q, w->l, w->c, Q_CRED_EXPIRY, err, "It", r->expires_at, r->name);
	case CO_BIND:
		return lq_exec(q, w->l, w->c, Q_CRED_BIND, err, "HTt", r->hash, r->subject, r->name);
	case CO_UNBIND:
		return lq_exec(q, w->l, w->c, Q_CRED_UNBIND, err, "t", r->name);
	default: /* CO_GROUPS: the credential must exist */
		n = lq_one(q, w->l, w->c, Q_CRED_STATE, err, "t", r->name);
		if (n == 1)
			lq_end(q);
		if (n != 1)
			return n;
		if (lq_exec(q, w->l, w->c, Q_GROUPS_CLEAR, err, "t", r->name) < 0)
			return -1;
		for (i = 0; i < r->n_groups; i++)
			if (lq_exec(q, w->l, w->c, Q_GROUP_ADD, err, "tt", r->name, r->groups[i]) < 0)
				return -1;
		return 1;
	}
}

static int apply_cred(struct wctx *w, void *arg, struct nrfca_err *err)
{
	static const char *const already[CO_MAX] = {
		[CO_DISABLE] = "is already disabled", [CO_ENABLE] = "is not disabled",
		[CO_UNBIND] = "has no client certificate bound",
	};
	struct cred_req *r = arg;
	struct lq q;
	long long n = cred_apply_op(w, r, &q, err);
	char *detail;
	int rc;

	if (n < 0)
		return cred_refused(r, q.cons, err);
	if (n == 0) {
		if (already[r->op] != NULL)
			return ledger_missing_or_conflict(w, Q_CRED_STATE, r->name, "credential", already[r->op], err);
		return nrfca_err_set(err, NRFCA_E_NOTFOUND, "credential %s is not in the ledger", r->name);
	}
	detail = ledger_dump(json_incref(r->detail), err);
	if (detail == NULL)
		return -1;
	rc = audit_append(w, r->actor, cred_events[r->op], detail, err);
	free(detail);
	return rc;
}

/* Validate the common inputs, build the audit detail, queue the change. */
static int cred_change(struct ledger *l, struct cred_req *r, struct nrfca_err *err)
{
	int rc = -1;

	if (r->detail == NULL)
		r->detail = json_object();
	if (r->detail == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (ledger_check_name("credential name", r->name, err) == 0 && ledger_check_actor(&r->actor, err) == 0) {
		if (json_object_set_new(r->detail, "name", json_string(r->name)) != 0)
			nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		else
			rc = ledger_submit(l, apply_cred, r, WF_AUDITS | WF_CREDS, err);
	}
	json_decref(r->detail);
	return rc;
}

int ledger_cred_add_opts(struct ledger *l, const char *name, enum cred_role role, const unsigned char hash[32],
                         const struct ledger_cred_opts *opts, const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_ADD, .name = name, .actor = actor, .role = role, .hash = hash };

	if (cred_role_name(role) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown credential role %d", (int)role);
	if (hash == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no credential hash given");
	if (opts != NULL && opts->expires_at < 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a credential's expiry must be a unix time");
	r.expires_at = opts != NULL ? opts->expires_at : 0;
	r.detail = r.expires_at ? json_pack("{s:s, s:I}", "role", cred_role_name(role), "expires_at",
	                                    (json_int_t)r.expires_at)
	                        : json_pack("{s:s}", "role", cred_role_name(role));
	return cred_change(l, &r, err);
}

int ledger_cred_add(struct ledger *l, const char *name, enum cred_role role, const unsigned char hash[32],
                    const char *actor, struct nrfca_err *err)
{
	return ledger_cred_add_opts(l, name, role, hash, NULL, actor, err);
}

int ledger_cred_disable(struct ledger *l, const char *name, const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_DISABLE, .name = name, .actor = actor };

	return cred_change(l, &r, err);
}

int ledger_cred_enable(struct ledger *l, const char *name, const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_ENABLE, .name = name, .actor = actor };

	return cred_change(l, &r, err);
}

int ledger_cred_rotate(struct ledger *l, const char *name, const unsigned char hash[32], const char *actor,
                       struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_ROTATE, .name = name, .actor = actor, .hash = hash };

	if (hash == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no credential hash given");
	return cred_change(l, &r, err);
}

int ledger_cred_set_expiry(struct ledger *l, const char *name, long long expires_at, const char *actor,
                           struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_EXPIRY, .name = name, .actor = actor, .expires_at = expires_at };

	if (expires_at < 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a credential's expiry must be a unix time");
	r.detail = expires_at ? json_pack("{s:I}", "expires_at", (json_int_t)expires_at)
	                      : json_pack("{s:n}", "expires_at");
	return cred_change(l, &r, err);
}

int ledger_cred_bind_cert(struct ledger *l, const char *name, const unsigned char cert_sha256[32],
                          const char *subject, const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_BIND, .name = name, .actor = actor, .hash = cert_sha256, .subject = subject };
	char hex[65];
	int i;

	if (cert_sha256 == NULL && subject == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "bind needs a certificate fingerprint or subject");
	if (subject != NULL && ledger_check_printable("certificate subject", subject, LEDGER_CERT_SUBJECT_MAX, err))
		return -1;
	for (i = 0; cert_sha256 != NULL && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", cert_sha256[i]);
	r.detail = json_pack("{s:s?, s:s?}", "cert_sha256", cert_sha256 != NULL ? hex : NULL, "cert_subject",
	                     subject);
	return cred_change(l, &r, err);
}

int ledger_cred_unbind_cert(struct ledger *l, const char *name, const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_UNBIND, .name = name, .actor = actor };

	return cred_change(l, &r, err);
}

int ledger_cred_set_groups(struct ledger *l, const char *name, const char *const *groups, size_t n,
                           const char *actor, struct nrfca_err *err)
{
	struct cred_req r = { .op = CO_GROUPS, .name = name, .actor = actor, .groups = groups, .n_groups = n };
	json_t *arr;
	size_t i, k;

	if (n > LEDGER_CRED_GROUPS_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a credential may be in at most %d groups",
		                     LEDGER_CRED_GROUPS_MAX);
	arr = json_array();
	r.detail = json_pack("{s:o}", "groups", arr);
	for (i = 0; i < n; i++) {
		if (ledger_check_name("group name", groups[i], err) != 0)
			goto bad;
		for (k = 0; k < i; k++)
			if (strcmp(groups[k], groups[i]) == 0) {
				nrfca_err_set(err, NRFCA_E_INPUT, "group %s is named twice", groups[i]);
				goto bad;
			}
		json_array_append_new(arr, json_string(groups[i]));
	}
	return cred_change(l, &r, err);
bad:
	json_decref(r.detail);
	return -1;
}

/* ---- last use ---- */

struct touch_req {
	const char *name;
	long long now;
};

static int apply_touch(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct touch_req *t = arg;
	struct lq q;

	return lq_exec(&q, w->l, w->c, Q_CRED_TOUCH, err, "iti", t->now, t->name, t->now - TOUCH_INTERVAL_S) < 0 ? -1
	                                                                                                          : 0;
}

int ledger_cred_touch(struct ledger *l, const char *name, struct nrfca_err *err)
{
	struct touch_req t = { name, ledger_now() };
	struct touch_slot *s;
	unsigned h = 5381;
	size_t i;

	if (ledger_check_name("credential name", name, err) != 0)
		return -1;
	for (i = 0; name[i] != '\0'; i++)
		h = h * 33 + (unsigned char)name[i];
	s = &l->touched[h % TOUCH_SLOTS];
	pthread_mutex_lock(&l->cache_mu);
	if (strcmp(s->name, name) == 0 && t.now - s->at < TOUCH_INTERVAL_S) {
		pthread_mutex_unlock(&l->cache_mu);
		return 0;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->at = (time_t)t.now;
	pthread_mutex_unlock(&l->cache_mu);
	return ledger_write_small(l, apply_touch, &t, err);
}

/* ---- expected devices ---- */

struct expect_req {
	const char *kind, *scope, *batch, *actor;
	const char *const *ids;
	size_t n;
	long long added;
};

static int apply_expect(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct expect_req *r = arg;
	long long now = ledger_now(), k;
	struct lq q;
	char *detail;
	size_t i;
	int rc;

	for (i = 0; i < r->n; i++) {
		k = lq_exec(&q, w->l, w->c, Q_EXPECTED_ADD, err, "tttti", r->ids[i], r->kind, r->scope, r->batch, now);
		if (k < 0)
			return -1;
		r->added += k;
	}
	detail = ledger_dump(json_pack("{s:s, s:s, s:s, s:I, s:I}", "scope_kind", r->kind, "scope", r->scope,
	                               "batch", r->batch, "count", (json_int_t)r->n, "added", (json_int_t)r->added),
	                     err);
	if (detail == NULL)
		return -1;
	rc = audit_append(w, r->actor, "devices_import", detail, err);
	free(detail);
	return rc;
}

int ledger_expected_import(struct ledger *l, enum ledger_scope kind, const char *scope, const char *batch,
                           const char *const *device_ids, size_t n, const char *actor, long long *added,
                           struct nrfca_err *err)
{
	struct expect_req r = { 0 };
	size_t i;

	if (ledger_scope_name(kind) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown scope kind %d", (int)kind);
	if (ledger_check_name(kind == LEDGER_SCOPE_STATION ? "station name" : "group name", scope, err) != 0 ||
	    ledger_check_printable("import batch", batch, LEDGER_BATCH_MAX, err) != 0 ||
	    ledger_check_actor(&actor, err) != 0)
		return -1;
	if (n == 0 || device_ids == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no device ids to import");
	for (i = 0; i < n; i++)
		if (ledger_check_printable("device id", device_ids[i], 64, err) != 0) {
			nrfca_err_prefix(err, "device %zu of the import", i + 1);
			return -1;
		}
	r.kind = ledger_scope_name(kind);
	r.scope = scope;
	r.batch = batch;
	r.actor = actor;
	r.ids = device_ids;
	r.n = n;
	if (ledger_submit(l, apply_expect, &r, WF_AUDITS, err) != 0)
		return -1;
	if (added != NULL)
		*added = r.added;
	return 0;
}

int ledger_expected_check(struct ledger *l, const char *device_id, const char *station, int *expected,
                          struct nrfca_err *err)
{
	if (ledger_check_printable("device id", device_id, 64, err) != 0 ||
	    ledger_check_name("station name", station, err) != 0)
		return -1;
	return lq_probe(l, Q_EXPECTED_CHECK, expected, err, "tt", device_id, station);
}
