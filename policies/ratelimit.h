/*
 * ratelimit.h - thread-safe token buckets keyed by (profile, station).
 *
 * A bucket holds at most `per_minute` tokens and refills at per_minute/60
 * tokens a second, so a burst of per_minute requests passes and then one
 * every 60/per_minute seconds.  nrfca_ratelimit_take() checks a station
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

#include <stdint.h>

#include "error.h"

#define NRFCA_RATELIMIT_MAX_BUCKETS 65536

struct nrfca_ratelimit;

struct nrfca_ratelimit *nrfca_ratelimit_new(void);            /* NULL on ENOMEM */
struct nrfca_ratelimit *nrfca_ratelimit_ref(struct nrfca_ratelimit *rl);
void nrfca_ratelimit_unref(struct nrfca_ratelimit *rl);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t nrfca_ratelimit_now_ms(void);

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
 * one database): once set, nrfca_ratelimit_charge() asks fn instead of the
 * in-memory buckets, so a limit holds for the whole cluster.  fn returns 1
 * taken (from both buckets), 0 refused with *retry_after >= 1 (from neither),
 * -1 when it cannot tell (err set; the caller answers "retry later").  ctx
 * must stay valid until the limiter is set back to NULL.  A shared store may
 * count differently from the token buckets (e.g. fixed one-minute windows):
 * it says how in its own documentation.
 */
typedef int (*nrfca_ratelimit_shared_fn)(void *ctx, const char *profile, const char *station,
					 unsigned per_station_per_minute,
					 unsigned per_profile_per_minute, unsigned *retry_after,
					 struct nrfca_err *err);
void nrfca_ratelimit_share(struct nrfca_ratelimit *rl, nrfca_ratelimit_shared_fn fn, void *ctx);

/*
 * nrfca_ratelimit_take() through the shared store when one is set: 1 taken,
 * 0 refused (*retry_after set), -1 the shared store failed (err set).
 */
int nrfca_ratelimit_charge(struct nrfca_ratelimit *rl, const char *profile, const char *station,
			   unsigned per_station_per_minute, unsigned per_profile_per_minute,
			   uint64_t now_ms, unsigned *retry_after, struct nrfca_err *err);

#endif
