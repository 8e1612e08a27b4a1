/*
 * line_view.h - what `nrfca line` shows: on a terminal one table redrawn in
 * place (a header with the CA, totals, failures by reason and devices per
 * hour; one row per slot with its port, device, step, elapsed time and a
 * big PASS or FAIL with the reason in plain words); otherwise one
 * timestamped line per event; or, with --json, one JSON object per event.
 *
 * The table is drawn as one write per frame: the cursor goes back to the
 * frame's first line and every line is overwritten and cleared to its end,
 * so nothing flickers; lines are cut to the terminal's width and the table
 * to its height.  The caller serialises calls (one mutex).
 *
 * Ownership: the view borrows the stream; rows are copied per call.
 */
#ifndef NRFCA_CLIENT_LINE_VIEW_H
#define NRFCA_CLIENT_LINE_VIEW_H

#include <stdio.h>

#include "exitcodes.h"

enum line_mode { LINE_TABLE, LINE_TEXT, LINE_JSON, LINE_MODE_MAX };

enum line_state { LINE_EMPTY = 0, LINE_RUNNING, LINE_PASS, LINE_FAIL, LINE_STATE_MAX };

struct line_row {
	const char *slot;          /* slot name (the port's file name) */
	const char *port;          /* the port's path */
	const char *device;        /* device id, else IMEI, else "" */
	unsigned step;             /* 1..11 while running, the last step when done */
	const char *step_name;
	double seconds;            /* since the device started; its total when done */
	enum line_state state;
	int exit_code;             /* when FAIL */
	const char *reason;        /* FAIL: in plain words; PASS: "" */
	const char *serial;        /* PASS: the certificate's serial */
	const char *note;          /* the latest note while running, or "" */
	const char *modem_state;   /* FAIL: what the modem holds now */
	int resumed;
};

struct line_totals {
	unsigned passed, failed, running;
	unsigned by_exit[NRFCA_EXIT_MAX];
	double seconds;            /* since the first device started */
	const char *ca;            /* the CA's URL */
	const char *profile;       /* "" = the CA's default */
	int draining;              /* first Ctrl-C: no new devices are started */
};

enum line_event {
	LINE_EV_PLUG, LINE_EV_STEP, LINE_EV_NOTE, LINE_EV_PASS, LINE_EV_FAIL, LINE_EV_UNPLUG,
	LINE_EV_INTERRUPT, LINE_EV_LEFT, LINE_EV_MAX
};

struct line_view;

/* bell: ring on FAIL (table and text modes). */
struct line_view *line_view_create(FILE *f, enum line_mode mode, int bell);
void line_view_free(struct line_view *v);

/* One event of a slot (text and JSON modes print it; the table rings the
 * bell on FAIL).  text: the note, or for LINE_EV_INTERRUPT / LINE_EV_LEFT a
 * sentence. */
void line_view_event(struct line_view *v, enum line_event ev, const struct line_row *r,
		     const char *text);
/* Redraw the table (table mode only). */
void line_view_draw(struct line_view *v, const struct line_row *rows, size_t n,
		    const struct line_totals *t);
/* Leave the table (cursor below it) and print the session summary as the
 * last line (JSON: a "summary" event). */
void line_view_summary(struct line_view *v, const struct line_totals *t, int exit_code);
/* The terminal was resized. */
void line_view_resize(struct line_view *v);

#endif
