/*
 * onboard.h - `nrfca onboard`: put provisioned devices into nRF Cloud.
 *
 * The rows (obcsv.h) come from an onboarding CSV (what `nrfca provision
 * --csv` writes), a public-key CSV (JWT devices) or the station's onboarding
 * queue (both kinds mixed); they are all checked before anything is sent.
 *
 * The run: optional check of which devices already exist
 * (GET /v1/devices/{id}: 200 = already onboarded, reported as EXISTS), then
 * uploads of at most NRFCLOUD_MAX_ROWS rows each, each polled until its
 * bulk operation is SUCCEEDED or FAILED; a FAILED one's error summary is
 * mapped back to the rows (nrfcloud_error_row).  Each row ends with one
 * result; the results file is rewritten after every upload.
 *
 * The queue: `nrfca provision --onboard` appends each provisioned device's
 * row (replacing an older row of the same device), then drains the queue;
 * a failure leaves the rows queued for the next drain (`nrfca onboard
 * --queue FILE`).  Rows nRF Cloud refused move to FILE.refused (same format,
 * to be fixed and sent with --csv).  Drains are serialised by FILE.lock
 * (short edits) and FILE.drain (the network part, never waited for: the
 * process holding it picks up rows added meanwhile).
 *
 * Ownership: options are borrowed; the run sets the results of the rows of
 * the set it is given.
 */
#ifndef NRFCA_CLIENT_ONBOARD_H
#define NRFCA_CLIENT_ONBOARD_H

#include <stddef.h>

#include "error.h"
#include "nrfcloud.h"
#include "obcsv.h"
#include "progress.h"

struct nrfca_ob_opts {
	struct nrfcloud *cloud;
	int check;                  /* GET each device first (certificate rows) */
	struct nrfca_progress *progress;   /* may be NULL */
	unsigned poll_max_ms;       /* longest wait between two status polls; 0 = 5000 */
	unsigned long wait_ms;      /* give up on one bulk operation after; 0 = 600000 */
	const char *results;        /* results CSV, or NULL */
};

struct nrfca_ob_summary {
	size_t count[NRFCA_OB_RESULT_MAX];
	size_t uploads;             /* POST calls accepted (202) */
	int auth_failed;            /* nRF Cloud refused the API key */
	int unreachable;            /* nRF Cloud could not be reached at some point */
	struct nrfca_err first;     /* the first problem that stopped or failed a call */
};

/* Run the set (rows still PENDING).  0 unless a local failure (results file)
 * stopped it; cloud problems end up in the rows and the summary. */
int nrfca_ob_run(const struct nrfca_ob_opts *o, struct nrfca_ob_set *s,
		 struct nrfca_ob_summary *sum, struct nrfca_err *e);

/* ---- the queue ---- */

/* Add one row (replacing a queued row of the same device). */
int nrfca_ob_queue_add(const char *queue, const char *row, struct nrfca_err *e);
/* Onboard what the queue holds (with the check: a queued device may already
 * be in nRF Cloud).  *busy = 1 when another process is draining (it takes
 * the rows, including any added meanwhile).  sum covers this process's
 * rounds; o->results (if set) lists every row this process handled, and so
 * does *handled (if not NULL; the caller clears it). */
int nrfca_ob_queue_drain(const char *queue, const struct nrfca_ob_opts *o,
			 struct nrfca_ob_summary *sum, int *busy, struct nrfca_ob_set *handled,
			 struct nrfca_err *e);

/* The exit status (exitcodes.h) a run's summary calls for: 0 when every
 * device is OK or EXISTS; cloud-refused when the key or a device was
 * refused; cloud-unreachable when rows were not sent or are unconfirmed. */
int nrfca_ob_exit(const struct nrfca_ob_summary *s);

#endif
