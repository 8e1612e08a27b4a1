/*
 * ratelimit.h - thread-safe token buckets keyed by (profile, station).
 *
 * A bucket holds at most `limit` tokens and refills `limit` tokens per period
 * (a minute for the enrollment limits, an hour for supersedes), so a burst of
 * `limit` requests passes and then one every period/limit.  nrfca_ratelimit_take() checks a station
 * bucket and a profile bucket together and takes a token from both or from
 * neither.
 *
 * The limiter is shared by successive policies (a SIGHUP reload keeps the
 * buckets) and is reference counted.  Its table is bounded: when it is full,
 * buckets that have refilled completely (which are equivalent to new ones)
 * are dropped; if none can be dropped the request is refused (fail closed).
 */
#ifndef NRFCA_RATELIMIT_H
#define NRFCA_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NRFCA_RATELIMIT_MAX_BUCKETS 65536

struct nrfca_ratelimit;

struct nrfca_ratelimit *nrfca_ratelimit_new(void);            /* NULL on ENOMEM */
struct nrfca_ratelimit *nrfca_ratelimit_ref(struct nrfca_ratelimit *rl);
void nrfca_ratelimit_unref(struct nrfca_ratelimit *rl);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t nrfca_ratelimit_now_ms(void);

/* Which bucket a request draws on. */
enum nrfca_rate_scope {
	NRFCA_RATE_PER_STATION = 0,        /* (profile, station) */
	NRFCA_RATE_PER_PROFILE,            /* (profile) */
	NRFCA_RATE_SUPERSEDE_PER_STATION,  /* (profile, station), supersedes only */
	NRFCA_RATE_SCOPE_MAX
};

#define NRFCA_RATE_REQ_MAX 4

struct nrfca_rate_req {
	enum nrfca_rate_scope scope;
	unsigned limit;      /* tokens per period; 0 = this limit is off */
	unsigned period_s;   /* the bucket refills `limit` tokens per period (>= 1) */
};

/*
 * Take one token from each bucket named in req[0..n) (at most
 * NRFCA_RATE_REQ_MAX), from all of them or from none.  Returns 1 when taken,
 * 0 when refused: *retry_after is the whole seconds (>= 1) until every
 * bucket has a token, *refused_by (may be NULL) the index in req of the
 * bucket that waits longest.
 */
int nrfca_ratelimit_take_all(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			     const struct nrfca_rate_req *req, size_t n, uint64_t now_ms,
			     unsigned *retry_after, size_t *refused_by);

/*
 * Take one token from the bucket (profile, station) limited to
 * per_station_per_minute and from the bucket (profile) limited to
 * per_profile_per_minute (0 = that limit is off).  Returns 1 when taken,
 * 0 when refused with *retry_after set to the whole seconds (>= 1) until a
 * token is there for both buckets.
 */
int nrfca_ratelimit_take(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			 unsigned per_station_per_minute, unsigned per_profile_per_minute,
			 uint64_t now_ms, unsigned *retry_after);

/*
 * Counters shared by several processes (several nrfca-server instances on
 * one database): once set, nrfca_ratelimit_charge_all() asks fn instead of
 * the in-memory buckets, so a limit holds for the whole cluster.  fn gets the
 * same requests as nrfca_ratelimit_take_all and returns 1 taken (from all),
 * 0 refused (from none; *retry_after >= 1, *refused_by the index in req of
 * a bucket that refused), -1 when it cannot tell (err set; the caller
 * answers "retry later").  ctx must stay valid until the limiter is set back
 * to NULL.  A shared store may count differently from the token buckets
 * (e.g. fixed windows of one period): it says how in its documentation.
 */
typedef int (*nrfca_ratelimit_shared_fn)(void *ctx, const char *profile, const char *station,
					 const struct nrfca_rate_req *req, size_t n,
					 unsigned *retry_after, size_t *refused_by,
					 struct nrfca_err *err);
void nrfca_ratelimit_share(struct nrfca_ratelimit *rl, nrfca_ratelimit_shared_fn fn, void *ctx);

/*
 * nrfca_ratelimit_take_all() through the shared store when one is set: 1
 * taken, 0 refused (*retry_after, *refused_by set), -1 the shared store
 * failed (err set).
 */
int nrfca_ratelimit_charge_all(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			       const struct nrfca_rate_req *req, size_t n, uint64_t now_ms,
			       unsigned *retry_after, size_t *refused_by, struct nrfca_err *err);

#endif
