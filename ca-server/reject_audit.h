/*
 * reject_audit.h - refused enrollments in the audit log, bounded.
 *
 * A station that sends refused requests in a loop must not be able to fill
 * the hash-chained audit log (one committed row per refusal, 1,000 rows a
 * second).  Refusals are aggregated per (station, rule) over an interval:
 *   - the first refusal of a (station, rule) is written at once as event
 *     "reject" (detail: rule, detail sentence, profile), so an operator sees
 *     the problem as it starts;
 *   - later refusals of the same (station, rule) within the interval are
 *     only counted (with the first and last time, up to 4 profiles and the
 *     last sentence);
 *   - when the interval has passed (reject_audit_tick), at the next refusal
 *     of that key after it, and at shutdown (reject_audit_free), one
 *     "reject_summary" entry says how many more there were.
 * At most REJECT_AUDIT_KEYS keys are held; refusals beyond that are counted
 * in one overflow summary (actor "nrfca-server", station "*").  Nothing is
 * lost but the individual sentences; the refusal metric counts every one.
 * A crash loses the counts of the current interval (their first entries are
 * in the log).
 *
 * The handle borrows the ledger (which must outlive it) and is
 * thread-safe; ledger writes happen outside its lock.
 */
#ifndef NRFCA_REJECT_AUDIT_H
#define NRFCA_REJECT_AUDIT_H

#include "ledger.h"

#define REJECT_AUDIT_KEYS 1024
#define REJECT_AUDIT_INTERVAL 60   /* seconds */

struct reject_audit;

/* interval_s 0 = REJECT_AUDIT_INTERVAL.  NULL on ENOMEM. */
struct reject_audit *reject_audit_new(struct ledger *l, unsigned interval_s);
/* Writes the pending summaries, then frees.  NULL is fine. */
void reject_audit_free(struct reject_audit *r);

/* One refused enrollment.  profile may be NULL. */
void reject_audit_note(struct reject_audit *r, const char *station, const char *rule,
		       const char *profile, const char *detail);
/* Write the summaries of the intervals that have passed (call periodically). */
void reject_audit_tick(struct reject_audit *r);

#endif
