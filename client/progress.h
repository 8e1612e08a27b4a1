/*
 * progress.h - what a line worker sees while a modem is provisioned.
 *
 * On a terminal: one line redrawn with \r ("[3/11  1.4 s] generate the key
 * in the modem (AT%KEYGEN)").  Otherwise plain log lines, one per step.
 * NRFCA_PROGRESS_VERBOSE adds the AT traffic (the AT engine has already
 * redacted secrets); NRFCA_PROGRESS_QUIET prints nothing but warnings the
 * caller forces through nrfca_progress_warn.
 *
 * Ownership: the handle borrows the stream.
 */
#ifndef NRFCA_CLIENT_PROGRESS_H
#define NRFCA_CLIENT_PROGRESS_H

#include <stdio.h>

#include "at.h"

enum nrfca_progress_level {
	NRFCA_PROGRESS_QUIET = 0,
	NRFCA_PROGRESS_NORMAL,
	NRFCA_PROGRESS_VERBOSE,
	NRFCA_PROGRESS_LEVEL_MAX
};

struct nrfca_progress;

/* tty: -1 = ask isatty(fileno(f)), 0 = plain lines, 1 = redraw. */
struct nrfca_progress *nrfca_progress_create(FILE *f, enum nrfca_progress_level level,
					     int tty, unsigned total);

/* For a caller that shows a run itself (nrfca line: one row per modem):
 * nothing is printed, every step, note and warning goes to the sink (from
 * the thread running the flow; notes are dropped when quiet, warnings never). */
struct nrfca_progress_sink {
	void (*step)(void *ctx, unsigned n, const char *what);
	void (*note)(void *ctx, int warning, const char *text);
	void *ctx;
};
struct nrfca_progress *nrfca_progress_create_sink(const struct nrfca_progress_sink *sink,
						  enum nrfca_progress_level level,
						  unsigned total);
void nrfca_progress_free(struct nrfca_progress *p);

/* 1 when notes redraw one line in place (a terminal at the normal level):
 * then frequent notes (percentages) are cheap; otherwise each is a line. */
int nrfca_progress_live(const struct nrfca_progress *p);
/* Change the number of steps (work whose size is learnt on the way). */
void nrfca_progress_set_total(struct nrfca_progress *p, unsigned total);
/* Step n (1-based) of total begins. */
void nrfca_progress_step(struct nrfca_progress *p, unsigned n, const char *what);
/* A note inside the current step (retries, decisions); not shown when quiet. */
void nrfca_progress_note(struct nrfca_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Shown whatever the level (e.g. the host-key warning, failures). */
void nrfca_progress_warn(struct nrfca_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* AT trace hook (nrfca_at_trace_fn); prints only when verbose. */
void nrfca_progress_trace(void *ctx, enum nrfca_at_dir dir, const char *line);
/* End the redrawn line (before the summary). */
void nrfca_progress_end(struct nrfca_progress *p);
/* Seconds since create. */
double nrfca_progress_elapsed(const struct nrfca_progress *p);

#endif
