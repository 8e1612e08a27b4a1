#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tokens are kept in milli-tokens so that refill is integer arithmetic. */
struct bucket {
	char *key;           /* "profile\nstation" or "profile" (names hold no '\n') */
	uint64_t mtokens;    /* milli-tokens */
	uint64_t last_ms;
	unsigned per_minute;
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

/* Refill b up to its capacity at `per_minute` tokens per 60 s. */
static void refill(struct bucket *b, unsigned per_minute, uint64_t now)
{
	uint64_t cap = (uint64_t)per_minute * 1000u;
	uint64_t dt;

	if (b->per_minute != per_minute) {  /* the policy changed the limit */
		b->per_minute = per_minute;
		if (b->mtokens > cap)
			b->mtokens = cap;
	}
	if (now > b->last_ms) {
		dt = now - b->last_ms;
		/* per_minute tokens per 60000 ms = per_minute milli-tokens per 60 ms */
		if (dt > 60000u)
			dt = 60000u;
		b->mtokens += dt * per_minute / 60u;
		if (b->mtokens > cap)
			b->mtokens = cap;
	}
	b->last_ms = now;
}

static int is_full(const struct bucket *b, uint64_t now)
{
	uint64_t dt = now > b->last_ms ? now - b->last_ms : 0;
	uint64_t cap = (uint64_t)b->per_minute * 1000u;

	if (dt > 60000u)
		dt = 60000u;
	return b->mtokens + dt * b->per_minute / 60u >= cap;
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

/* Find or create the bucket for key; NULL when the table is full or on ENOMEM. */
static struct bucket *lookup(struct nrfca_ratelimit *rl, const char *key, unsigned per_minute,
			     uint64_t now)
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
		j = hash_str(key) & (rl->cap - 1);
		while (rl->tab[j].used)
			j = (j + 1) & (rl->cap - 1);
	}
	k = strdup(key);
	if (k == NULL)
		return NULL;
	rl->tab[j].key = k;
	rl->tab[j].used = 1;
	rl->tab[j].per_minute = per_minute;
	rl->tab[j].mtokens = (uint64_t)per_minute * 1000u;
	rl->tab[j].last_ms = now;
	rl->n++;
	return &rl->tab[j];
}

/* Seconds until b holds one whole token. */
static unsigned wait_s(const struct bucket *b)
{
	uint64_t missing = 1000u - b->mtokens;  /* caller ensures mtokens < 1000 */
	/* ms = missing milli-tokens * 60 / per_minute */
	uint64_t ms = (missing * 60u + b->per_minute - 1) / b->per_minute;
	uint64_t s = (ms + 999u) / 1000u;

	return s == 0 ? 1u : (unsigned)s;
}

int nrfca_ratelimit_take(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			 unsigned per_station_per_minute, unsigned per_profile_per_minute,
			 uint64_t now_ms, unsigned *retry_after)
{
	struct bucket *bs = NULL, *bp = NULL;
	char key[2 * 256 + 2];
	unsigned wait = 0, w;
	int ok = 0;

	*retry_after = 0;
	if (per_station_per_minute == 0 && per_profile_per_minute == 0)
		return 1;
	if (strlen(profile) > 256 || (station != NULL && strlen(station) > 256)) {
		*retry_after = 60;
		return 0;
	}
	pthread_mutex_lock(&rl->lock);
	if (per_station_per_minute != 0) {
		snprintf(key, sizeof(key), "%s\n%s", profile, station != NULL ? station : "");
		bs = lookup(rl, key, per_station_per_minute, now_ms);
		if (bs == NULL)
			goto full;
		refill(bs, per_station_per_minute, now_ms);
	}
	if (per_profile_per_minute != 0) {
		bp = lookup(rl, profile, per_profile_per_minute, now_ms);
		if (bp == NULL)
			goto full;
		/* a lookup may have rehashed the table: find the station bucket again */
		if (bs != NULL)
			bs = lookup(rl, key, per_station_per_minute, now_ms);
		if (bs == NULL && per_station_per_minute != 0)
			goto full;
		refill(bp, per_profile_per_minute, now_ms);
	}
	if (bs != NULL && bs->mtokens < 1000u)
		wait = wait_s(bs);
	if (bp != NULL && bp->mtokens < 1000u) {
		w = wait_s(bp);
		if (w > wait)
			wait = w;
	}
	if (wait == 0) {
		if (bs != NULL)
			bs->mtokens -= 1000u;
		if (bp != NULL)
			bp->mtokens -= 1000u;
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

void nrfca_ratelimit_share(struct nrfca_ratelimit *rl, nrfca_ratelimit_shared_fn fn, void *ctx)
{
	pthread_mutex_lock(&rl->lock);
	rl->shared = fn;
	rl->shared_ctx = ctx;
	pthread_mutex_unlock(&rl->lock);
}

int nrfca_ratelimit_charge(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			   unsigned per_station_per_minute, unsigned per_profile_per_minute,
			   uint64_t now_ms, unsigned *retry_after, struct nrfca_err *err)
{
	nrfca_ratelimit_shared_fn fn;
	void *ctx;
	int rc;

	pthread_mutex_lock(&rl->lock);
	fn = rl->shared;
	ctx = rl->shared_ctx;
	pthread_mutex_unlock(&rl->lock);
	if (fn == NULL)
		return nrfca_ratelimit_take(rl, profile, station, per_station_per_minute,
					    per_profile_per_minute, now_ms, retry_after);
	*retry_after = 0;
	if (per_station_per_minute == 0 && per_profile_per_minute == 0)
		return 1;
	rc = fn(ctx, profile, station != NULL ? station : "", per_station_per_minute,
		per_profile_per_minute, retry_after, err);
	if (rc == 0 && *retry_after == 0)
		*retry_after = 1;
	return rc;
}
