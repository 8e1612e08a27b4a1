/*
 * line.h - `nrfca line`: the provisioning flow of provision.h on several
 * modems at once from one process, board after board.
 *
 * A slot is a port path: one of the --port list, or a name in the watched
 * folder that matches the --watch pattern (a board that appears there is
 * provisioned; when it is done the slot shows the result until the board is
 * removed; the next board at that path starts again).  Hot plug is seen with
 * inotify on the folder (the folder itself may appear later, as
 * /dev/serial/by-id does with the first USB serial device).
 *
 * The line is a scheduler around nrfca_provision: one thread per board that
 * is being provisioned, each with its own port and the same options (its
 * slot name sent to the CA), the shared CSV, devinfo and report files
 * appended under a file lock (provision.c), every device with its own
 * journal entry so a board pulled mid-run and plugged back resumes with the
 * same key.  A failing slot never disturbs the others.
 *
 * Signals: the first SIGINT or SIGTERM stops starting boards and lets those
 * in progress finish; a second stops at once and names every device left
 * unfinished and its state (exit NRFCA_EXIT_INTERRUPTED).
 *
 * Before any board is touched the session's credential and profile are
 * checked with the CA (nrfca_provision_check); a refusal there stops the
 * line with that exit status.
 *
 * Ownership: options are borrowed for the run.
 */
#ifndef NRFCA_CLIENT_LINE_H
#define NRFCA_CLIENT_LINE_H

#include <stdio.h>

#include "error.h"
#include "line_view.h"
#include "provision.h"

#define NRFCA_LINE_MAX_SLOTS 64

struct nrfca_line_opts {
	const struct nrfca_prov_opts *prov;  /* port, slot, progress and hooks are set per board */
	const char *const *ports;            /* literal ports; may be empty with watch */
	size_t nports;
	const char *watch;                   /* FOLDER/PATTERN (fnmatch on names), or NULL */
	int once;                            /* each port (or board present at start) once */
	enum line_mode mode;
	int bell;
	int verbose;                         /* notes of every step in text and JSON output */
	FILE *f;                             /* where the view goes (stdout) */
};

struct nrfca_line_summary {
	unsigned passed, failed;
	double seconds;
	int abandoned;     /* stopped at once: boards' threads still run, the caller ends
			      the process without waiting for them (_exit) */
};

/* Run the line until --once is done, or an interrupt.  Returns the exit
 * status: 0 when every device passed (with --once: every slot); else the
 * status of the first failure, or NRFCA_EXIT_INTERRUPTED; e says why for a
 * failure before any board was started. */
int nrfca_line_run(const struct nrfca_line_opts *o, struct nrfca_line_summary *s,
		   struct nrfca_err *e);

/* Split a --watch argument into its folder and its pattern; -1 with e when
 * the folder part holds a wildcard or the pattern is empty. */
int nrfca_line_split_watch(const char *watch, char *dir, size_t dcap, char *pat, size_t pcap,
			   struct nrfca_err *e);

#endif
