#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tokens are kept in milli-tokens so that refill is integer arithmetic. */
struct bucket {
	char *key;           /* "profile\nstation", "profile" or "profile\nstation\nsupersede"
				(names hold no '\n') */
	uint64_t mtokens;    /* milli-tokens */
	uint64_t last_ms;
	unsigned limit;      /* tokens per period */
	uint64_t period_ms;
	int used;
};

struct nrfca_ratelimit {
	atomic_uint refs;
	pthread_mutex_t lock;
	struct bucket *tab;  /* open addressing, linear probing */
	size_t cap;          /* power of two */
	size_t n;
	nrfca_ratelimit_shared_fn shared; /* under lock */
	void *shared_ctx;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;  /* FNV-1a */

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

uint64_t nrfca_ratelimit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct nrfca_ratelimit *nrfca_ratelimit_new(void)
{
	struct nrfca_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->cap = 64;
	rl->tab = calloc(rl->cap, sizeof(*rl->tab));
	if (rl->tab == NULL) {
		free(rl);
		return NULL;
	}
	atomic_init(&rl->refs, 1);
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

struct nrfca_ratelimit *nrfca_ratelimit_ref(struct nrfca_ratelimit *rl)
{
	if (rl != NULL)
		atomic_fetch_add(&rl->refs, 1);
	return rl;
}

void nrfca_ratelimit_unref(struct nrfca_ratelimit *rl)
{
	size_t i;

	if (rl == NULL || atomic_fetch_sub(&rl->refs, 1) != 1)
		return;
	for (i = 0; i < rl->cap; i++)
		free(rl->tab[i].key);
	free(rl->tab);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* Refill b up to its capacity at `limit` tokens per `period_ms`. */
static void refill(struct bucket *b, unsigned limit, uint64_t period_ms, uint64_t now)
{
	uint64_t cap = (uint64_t)limit * 1000u;
	uint64_t dt;

	if (b->limit != limit || b->period_ms != period_ms) {  /* the policy changed the limit */
		b->limit = limit;
		b->period_ms = period_ms;
		if (b->mtokens > cap)
			b->mtokens = cap;
	}
	if (now > b->last_ms) {
		dt = now - b->last_ms;
		if (dt > period_ms)
			dt = period_ms;
		b->mtokens += dt * cap / period_ms;
		if (b->mtokens > cap)
			b->mtokens = cap;
	}
	b->last_ms = now;
}

static int is_full(const struct bucket *b, uint64_t now)
{
	uint64_t dt = now > b->last_ms ? now - b->last_ms : 0;
	uint64_t cap = (uint64_t)b->limit * 1000u;

	if (dt > b->period_ms)
		dt = b->period_ms;
	return b->mtokens + dt * cap / b->period_ms >= cap;
}

static int rehash(struct nrfca_ratelimit *rl, size_t ncap, uint64_t now, int drop_full)
{
	struct bucket *nt = calloc(ncap, sizeof(*nt));
	size_t i, j, n = 0;

	if (nt == NULL)
		return -1;
	for (i = 0; i < rl->cap; i++) {
		struct bucket *b = &rl->tab[i];

		if (!b->used)
			continue;
		if (drop_full && is_full(b, now)) {
			free(b->key);
			continue;
		}
		j = hash_str(b->key) & (ncap - 1);
		while (nt[j].used)
			j = (j + 1) & (ncap - 1);
		nt[j] = *b;
		n++;
	}
	free(rl->tab);
	rl->tab = nt;
	rl->cap = ncap;
	rl->n = n;
	return 0;
}

/* Find or create the bucket for key; NULL when the table is full or on ENOMEM.
 * *rehashed is set when the table moved (earlier bucket pointers are stale). */
static struct bucket *lookup(struct nrfca_ratelimit *rl, const char *key, unsigned limit,
			     uint64_t period_ms, uint64_t now, int *rehashed)
{
	size_t j;
	char *k;

	j = hash_str(key) & (rl->cap - 1);
	while (rl->tab[j].used) {
		if (strcmp(rl->tab[j].key, key) == 0)
			return &rl->tab[j];
		j = (j + 1) & (rl->cap - 1);
	}
	if ((rl->n + 1) * 2 > rl->cap) {
		if (rl->n + 1 > NRFCA_RATELIMIT_MAX_BUCKETS) {
			if (rehash(rl, rl->cap, now, 1) != 0 ||
			    rl->n + 1 > NRFCA_RATELIMIT_MAX_BUCKETS)
				return NULL;
		} else if (rehash(rl, rl->cap * 2, now, 0) != 0) {
			return NULL;
		}
		*rehashed = 1;
		j = hash_str(key) & (rl->cap - 1);
		while (rl->tab[j].used)
			j = (j + 1) & (rl->cap - 1);
	}
	k = strdup(key);
	if (k == NULL)
		return NULL;
	rl->tab[j].key = k;
	rl->tab[j].used = 1;
	rl->tab[j].limit = limit;
	rl->tab[j].period_ms = period_ms;
	rl->tab[j].mtokens = (uint64_t)limit * 1000u;
	rl->tab[j].last_ms = now;
	rl->n++;
	return &rl->tab[j];
}

/* Seconds until b holds one whole token. */
static unsigned wait_s(const struct bucket *b)
{
	uint64_t missing = 1000u - b->mtokens;  /* caller ensures mtokens < 1000 */
	uint64_t per = (uint64_t)b->limit * 1000u;
	uint64_t ms = (missing * b->period_ms + per - 1) / per;
	uint64_t s = (ms + 999u) / 1000u;

	return s == 0 ? 1u : (unsigned)s;
}

static void bucket_key(char *key, size_t len, enum nrfca_rate_scope scope, const char *profile,
		       const char *station)
{
	switch (scope) {
	case NRFCA_RATE_PER_PROFILE:
		snprintf(key, len, "%s", profile);
		break;
	case NRFCA_RATE_SUPERSEDE_PER_STATION:
		snprintf(key, len, "%s\n%s\nsupersede", profile, station != NULL ? station : "");
		break;
	case NRFCA_RATE_PER_STATION:
	default:
		snprintf(key, len, "%s\n%s", profile, station != NULL ? station : "");
		break;
	}
}

int nrfca_ratelimit_take_all(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			     const struct nrfca_rate_req *req, size_t n, uint64_t now_ms,
			     unsigned *retry_after, size_t *refused_by)
{
	struct bucket *b[NRFCA_RATE_REQ_MAX];
	char key[NRFCA_RATE_REQ_MAX][2 * 256 + 16];
	unsigned wait = 0, w;
	size_t i, active = 0;
	int rehashed, ok = 0, tries;

	*retry_after = 0;
	if (refused_by != NULL)
		*refused_by = 0;
	for (i = 0; i < n && i < NRFCA_RATE_REQ_MAX; i++)
		if (req[i].limit != 0)
			active++;
	if (active == 0)
		return 1;
	if (n > NRFCA_RATE_REQ_MAX || strlen(profile) > 256 ||
	    (station != NULL && strlen(station) > 256)) {
		*retry_after = 60;
		return 0;
	}
	for (i = 0; i < n; i++)
		bucket_key(key[i], sizeof(key[i]), req[i].scope, profile, station);
	pthread_mutex_lock(&rl->lock);
	/* find every bucket; a lookup that moves the table makes the others stale */
	for (tries = 0; tries < 3; tries++) {
		rehashed = 0;
		for (i = 0; i < n; i++) {
			b[i] = NULL;
			if (req[i].limit == 0)
				continue;
			b[i] = lookup(rl, key[i], req[i].limit, (uint64_t)req[i].period_s * 1000u,
				      now_ms, &rehashed);
			if (b[i] == NULL)
				goto full;
		}
		if (!rehashed)
			break;
	}
	if (tries == 3)
		goto full;
	for (i = 0; i < n; i++) {
		if (b[i] == NULL)
			continue;
		refill(b[i], req[i].limit, (uint64_t)req[i].period_s * 1000u, now_ms);
		if (b[i]->mtokens < 1000u) {
			w = wait_s(b[i]);
			if (w > wait) {
				wait = w;
				if (refused_by != NULL)
					*refused_by = i;
			}
		}
	}
	if (wait == 0) {
		for (i = 0; i < n; i++)
			if (b[i] != NULL)
				b[i]->mtokens -= 1000u;
		ok = 1;
	}
	*retry_after = wait;
	pthread_mutex_unlock(&rl->lock);
	return ok;
full:
	pthread_mutex_unlock(&rl->lock);
	*retry_after = 60;
	return 0;
}

int nrfca_ratelimit_take(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			 unsigned per_station_per_minute, unsigned per_profile_per_minute,
			 uint64_t now_ms, unsigned *retry_after)
{
	const struct nrfca_rate_req req[2] = {
		{ NRFCA_RATE_PER_STATION, per_station_per_minute, 60 },
		{ NRFCA_RATE_PER_PROFILE, per_profile_per_minute, 60 },
	};

	return nrfca_ratelimit_take_all(rl, profile, station, req, 2, now_ms, retry_after, NULL);
}

void nrfca_ratelimit_share(struct nrfca_ratelimit *rl, nrfca_ratelimit_shared_fn fn, void *ctx)
{
	pthread_mutex_lock(&rl->lock);
	rl->shared = fn;
	rl->shared_ctx = ctx;
	pthread_mutex_unlock(&rl->lock);
}

int nrfca_ratelimit_charge_all(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			       const struct nrfca_rate_req *req, size_t n, uint64_t now_ms,
			       unsigned *retry_after, size_t *refused_by, struct nrfca_err *err)
{
	nrfca_ratelimit_shared_fn fn;
	void *ctx;
	size_t i, active = 0;
	int rc;

	pthread_mutex_lock(&rl->lock);
	fn = rl->shared;
	ctx = rl->shared_ctx;
	pthread_mutex_unlock(&rl->lock);
	if (fn == NULL)
		return nrfca_ratelimit_take_all(rl, profile, station, req, n, now_ms, retry_after,
						refused_by);
	*retry_after = 0;
	if (refused_by != NULL)
		*refused_by = 0;
	for (i = 0; i < n; i++)
		if (req[i].limit != 0)
			active++;
	if (active == 0)
		return 1;
	if (n > NRFCA_RATE_REQ_MAX) {
		*retry_after = 60;
		return 0;
	}
	rc = fn(ctx, profile, station != NULL ? station : "", req, n, retry_after, refused_by, err);
	if (rc == 0 && *retry_after == 0)
		*retry_after = 1;
	return rc;
}
