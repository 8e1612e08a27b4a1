/*
 * policy_status.h - the server's policy loads and reloads as an operator
 * sees them.  The policy store (policies/policy_store.h) swaps policies;
 * this module wraps it for nrfca-server: it audits every reload attempt
 * (the file, the SHA-256 of its bytes, success or the reason of the
 * failure, who sent SIGHUP) and remembers the outcome of the last attempt
 * for GET /v1/ready and /metrics.
 *
 * Process-wide state behind a lock; every function is thread-safe.
 */
#ifndef NRFCA_POLICY_STATUS_H
#define NRFCA_POLICY_STATUS_H

#include "error.h"
#include "ledger.h"

struct policy_status {
	char path[1024];
	char sha256[65];            /* the policy in force, lower-case hex; "" if none */
	long long loaded_at;        /* unix seconds the policy in force was loaded */
	unsigned long reloads_ok;   /* successful reloads since start (not the first load) */
	unsigned long failures;     /* failed reloads since start */
	int last_failed;            /* 1 while the last reload attempt failed */
	long long last_attempt;     /* unix seconds of the last reload attempt, 0 = none */
	char failed_sha256[65];     /* the file that failed ("" if it could not be read) */
	char error[NRFCA_ERR_MSG_MAX]; /* why the last attempt failed, "" */
};

/* The first load at start (not audited here: the server's "start" entry
 * carries policy_status_get's path and sha256). */
int policy_status_load(const char *path, struct nrfca_err *err);

/* Reload the same file (SIGHUP).  Audits "policy_reload" as `actor` with
 * {"file", "sha256", "result": "ok"|"failed", "error", "in_force_sha256",
 * "signal_pid", "signal_uid"} (pid/uid < 0: unknown).  On failure the
 * previous policy stays in force, err says why. */
int policy_status_reload(struct ledger *l, const char *actor, long signal_pid,
			 long signal_uid, struct nrfca_err *err);

void policy_status_get(struct policy_status *out);

#endif
