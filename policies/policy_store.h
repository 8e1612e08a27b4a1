/*
 * policy_store.h - the process-wide current policy, reloadable on SIGHUP.
 *
 * policy_store_load() loads the first policy; policy_store_reload() reads
 * the same file again (and with it the trust bundles, identity keys and
 * device lists it names) and swaps it in atomically.  A file with a mistake
 * leaves the running policy in place and returns the error for the log.
 *
 * A request takes the current policy with policy_acquire() and gives it back
 * with policy_release(); a reload never changes a policy under a request in
 * flight, and the old policy is freed when its last holder releases it.
 * Rate-limit buckets are owned by the store and survive reloads.
 *
 * All functions are thread-safe.  Do not call them from a signal handler:
 * the handler sets a flag and the main loop calls policy_store_reload().
 */
#ifndef NRFCA_POLICY_STORE_H
#define NRFCA_POLICY_STORE_H

#include "policy.h"
#include "ratelimit.h"

/* A check every policy must pass before it becomes current (e.g. the
 * server refuses a policy whose profiles ask an identity service it has not
 * been configured with).  0 accepts; -1 refuses with err set.  Set before
 * the first load; NULL = none. */
typedef int (*policy_store_check_fn)(const struct nrfca_policy *p, struct nrfca_err *err);
void policy_store_set_check(policy_store_check_fn check);

/* Load `path` as the current policy (replacing any current one). */
int policy_store_load(const char *path, struct nrfca_err *err);
/* Reload the file given to policy_store_load.  On error the old policy stays. */
int policy_store_reload(struct nrfca_err *err);
/* The current policy with one reference taken, or NULL when none is loaded. */
struct nrfca_policy *policy_acquire(void);
void policy_release(struct nrfca_policy *p);
/* How many successful loads and reloads so far (for /metrics and logs). */
unsigned long policy_store_generation(void);
/* Count rate limits in a store shared by several processes from now on
 * (nrfca_ratelimit_share; NULL: back to the in-memory buckets).  Survives
 * reloads like the buckets do. */
int policy_store_share_rate_limits(nrfca_ratelimit_shared_fn fn, void *ctx, struct nrfca_err *err);
/* Drop the current policy (policies still held stay valid until released). */
void policy_store_shutdown(void);

#endif
