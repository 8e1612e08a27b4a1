/* line_view.c - the table, the lines and the JSON events of nrfca line (see line_view.h). */
#include "line_view.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define FRAME_MAX (256u * 1024u)
#define BADGE_PASS "\x1b[1;30;42m  PASS  \x1b[0m"
#define BADGE_FAIL "\x1b[1;97;41m  FAIL  \x1b[0m"
#define BADGE_WIDTH 8

struct line_view {
	FILE *f;
	enum line_mode mode;
	int bell;
	int cols, rows;
	int prev_lines;       /* lines of the last frame on screen */
	int hidden;           /* the cursor is hidden */
	char *frame;
	size_t len;
};

static const char *const event_names[LINE_EV_MAX] = {
	[LINE_EV_PLUG] = "plug", [LINE_EV_STEP] = "step", [LINE_EV_NOTE] = "note",
	[LINE_EV_PASS] = "pass", [LINE_EV_FAIL] = "fail", [LINE_EV_UNPLUG] = "unplug",
	[LINE_EV_INTERRUPT] = "interrupt", [LINE_EV_LEFT] = "left",
};

void line_view_resize(struct line_view *v)
{
	struct winsize ws;

	v->cols = 80;
	v->rows = 24;
	if (ioctl(fileno(v->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		v->cols = ws.ws_col;
		v->rows = ws.ws_row;
	}
	if (v->cols < 40)
		v->cols = 40;
	if (v->rows < 8)
		v->rows = 8;
}

struct line_view *line_view_create(FILE *f, enum line_mode mode, int bell)
{
	struct line_view *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->f = f;
	v->mode = mode;
	v->bell = bell;
	v->frame = malloc(FRAME_MAX);
	if (v->frame == NULL) {
		free(v);
		return NULL;
	}
	line_view_resize(v);
	return v;
}

void line_view_free(struct line_view *v)
{
	if (v == NULL)
		return;
	if (v->hidden) {
		fputs("\x1b[?25h", v->f);
		fflush(v->f);
	}
	free(v->frame);
	free(v);
}

static void now_text(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void duration(double s, char *buf, size_t cap)
{
	long t = (long)s;

	if (t >= 3600)
		snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void row_step(const struct line_row *r, char *buf, size_t cap)
{
	if (r->step == 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%u/11 %s", r->step, r->step_name ? r->step_name : "");
}

static void ring(struct line_view *v)
{
	if (v->bell && v->mode != LINE_JSON)
		fputc('\a', v->f);
}

/* ---- text and JSON events ---- */

static void event_text(struct line_view *v, enum line_event ev, const struct line_row *r,
		       const char *text)
{
	char when[32], step[48];

	now_text(when, sizeof(when));
	row_step(r, step, sizeof(step));
	fprintf(v->f, "%s %s: ", when, r->slot);
	switch (ev) {
	case LINE_EV_PLUG:
		fprintf(v->f, "board plugged in (%s)", r->port);
		break;
	case LINE_EV_STEP:
		fprintf(v->f, "step %s%s%s", step, r->device[0] ? " " : "", r->device);
		break;
	case LINE_EV_NOTE:
		fprintf(v->f, "%s", text ? text : "");
		break;
	case LINE_EV_PASS:
		fprintf(v->f, "PASS %s serial %s in %.1f s%s", r->device, r->serial, r->seconds,
			r->resumed ? " (resumed)" : "");
		break;
	case LINE_EV_FAIL:
		fprintf(v->f, "FAIL %s at step %s (exit %d, %s): %s%s%s", r->device[0] ? r->device :
			"(device not identified)", step, r->exit_code,
			nrfca_exit_info((enum nrfca_exit)r->exit_code).name, r->reason,
			r->modem_state[0] ? "; modem: " : "", r->modem_state);
		break;
	case LINE_EV_UNPLUG:
		fprintf(v->f, "board removed");
		break;
	case LINE_EV_INTERRUPT:
	case LINE_EV_LEFT:
	default:
		fprintf(v->f, "%s", text ? text : "");
		break;
	}
	fputc('\n', v->f);
	if (ev == LINE_EV_FAIL)
		ring(v);
	fflush(v->f);
}

static void event_json(struct line_view *v, enum line_event ev, const struct line_row *r,
		       const char *text)
{
	json_t *o;
	char when[32], *s;

	now_text(when, sizeof(when));
	o = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "event", event_names[ev], "slot",
		      r->slot, "port", r->port);
	if (o == NULL)
		return;
	if (r->device[0])
		json_object_set_new(o, "device", json_string(r->device));
	if (r->step > 0) {
		json_object_set_new(o, "step", json_integer(r->step));
		json_object_set_new(o, "step_name", json_string(r->step_name ? r->step_name : ""));
	}
	if (text != NULL)
		json_object_set_new(o, "text", json_string(text));
	if (ev == LINE_EV_PASS || ev == LINE_EV_FAIL) {
		json_object_set_new(o, "result", json_string(ev == LINE_EV_PASS ? "pass" : "fail"));
		json_object_set_new(o, "seconds", json_real((double)(long)(r->seconds * 10) / 10));
		json_object_set_new(o, "resumed", json_boolean(r->resumed));
	}
	if (ev == LINE_EV_PASS)
		json_object_set_new(o, "serial", json_string(r->serial));
	if (ev == LINE_EV_FAIL) {
		json_object_set_new(o, "exit_code", json_integer(r->exit_code));
		json_object_set_new(o, "exit_name", json_string(
			nrfca_exit_info((enum nrfca_exit)r->exit_code).name));
		json_object_set_new(o, "reason", json_string(r->reason));
		json_object_set_new(o, "modem_state", json_string(r->modem_state));
	}
	s = json_dumps(o, JSON_COMPACT);
	if (s != NULL) {
		fprintf(v->f, "%s\n", s);
		fflush(v->f);
	}
	free(s);
	json_decref(o);
}

void line_view_event(struct line_view *v, enum line_event ev, const struct line_row *r,
		     const char *text)
{
	if ((unsigned)ev >= LINE_EV_MAX)
		return;
	if (v->mode == LINE_TEXT)
		event_text(v, ev, r, text);
	else if (v->mode == LINE_JSON)
		event_json(v, ev, r, text);
	else if (ev == LINE_EV_FAIL)
		ring(v);
}

/* ---- the table ---- */

static void put(struct line_view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line_view *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->len >= FRAME_MAX)
		return;
	va_start(ap, fmt);
	n = vsnprintf(v->frame + v->len, FRAME_MAX - v->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		v->len = (size_t)n < FRAME_MAX - v->len ? v->len + (size_t)n : FRAME_MAX - 1;
}

/* One line of at most cols-1 visible characters, then clear to its end. */
static void line_out(struct line_view *v, const char *text)
{
	put(v, "%.*s\x1b[K\n", v->cols - 1, text);
}

static void reasons(const struct line_totals *t, char *buf, size_t cap)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 1; i < NRFCA_EXIT_MAX && o + 1 < cap; i++)
		if (t->by_exit[i] > 0)
			o += (size_t)snprintf(buf + o, cap - o, "%s%s %u", o ? ", " : "",
					      nrfca_exit_info((enum nrfca_exit)i).name, t->by_exit[i]);
}

static double per_hour(const struct line_totals *t)
{
	return t->seconds > 0 ? t->passed * 3600.0 / (t->seconds < 1 ? 1 : t->seconds) : 0;
}

void line_view_draw(struct line_view *v, const struct line_row *rows, size_t n,
		    const struct line_totals *t)
{
	char text[1024], el[32], why[400], step[48];
	int lines = 0, max_rows, i;
	size_t k;

	if (v->mode != LINE_TABLE)
		return;
	v->len = 0;
	if (!v->hidden) {
		put(v, "\x1b[?25l");
		v->hidden = 1;
	}
	if (v->prev_lines > 0)
		put(v, "\r\x1b[%dA", v->prev_lines);
	duration(t->seconds, el, sizeof(el));
	snprintf(text, sizeof(text), " nrfca line   CA %s   profile %s   elapsed %s", t->ca,
		 t->profile[0] ? t->profile : "(the CA's default)", el);
	line_out(v, text);
	reasons(t, why, sizeof(why));
	snprintf(text, sizeof(text), " passed %u   failed %u%s%s%s   running %u   %.0f devices/hour",
		 t->passed, t->failed, why[0] ? " (" : "", why, why[0] ? ")" : "", t->running,
		 per_hour(t));
	line_out(v, text);
	line_out(v, t->draining ? " stopping: devices in progress finish; Ctrl-C again stops at "
		 "once" : "");
	snprintf(text, sizeof(text), " %-18s %-36s %-16s %8s  %s", "SLOT", "DEVICE", "STEP", "TIME",
		 "RESULT");
	line_out(v, text);
	lines = 4;
	max_rows = v->rows - 1 - lines;
	for (k = 0; k < n; k++) {
		const struct line_row *r = &rows[k];
		int left, room;

		if ((int)k >= max_rows - 1 && k + 1 < n) {
			snprintf(text, sizeof(text), " ... and %zu more slots (enlarge the terminal)",
				 n - k);
			line_out(v, text);
			lines++;
			break;
		}
		row_step(r, step, sizeof(step));
		left = snprintf(text, sizeof(text), " %-18.18s %-36.36s %-16.16s %6.1f s  ", r->slot,
				r->device[0] ? r->device : r->state == LINE_EMPTY ? "(no board)" :
				"", step, r->seconds);
		room = v->cols - 1 - left;
		if (room < 0)
			room = 0;
		if (r->state == LINE_PASS || r->state == LINE_FAIL) {
			/* the badge, then the serial or the reason, cut to the width */
			put(v, "%.*s", v->cols - 1, text);
			if (room >= BADGE_WIDTH) {
				put(v, "%s", r->state == LINE_PASS ? BADGE_PASS : BADGE_FAIL);
				room -= BADGE_WIDTH;
				if (r->state == LINE_PASS)
					snprintf(why, sizeof(why), " serial %s%s", r->serial,
						 r->resumed ? " (resumed)" : "");
				else
					snprintf(why, sizeof(why), " %s", r->reason);
				put(v, "%.*s", room, why);
			}
			put(v, "\x1b[K\n");
		} else {
			i = snprintf(text + left, sizeof(text) - (size_t)left, "%s", r->note);
			(void)i;
			line_out(v, text);
		}
		lines++;
	}
	if (lines < v->prev_lines)
		put(v, "\x1b[J");
	v->prev_lines = lines;
	fwrite(v->frame, 1, v->len, v->f);
	fflush(v->f);
}

void line_view_summary(struct line_view *v, const struct line_totals *t, int exit_code)
{
	char why[400], el[32];

	reasons(t, why, sizeof(why));
	duration(t->seconds, el, sizeof(el));
	if (v->mode == LINE_JSON) {
		json_t *by = json_object(), *o;
		char *s;
		int i;

		for (i = 1; i < NRFCA_EXIT_MAX; i++)
			if (t->by_exit[i] > 0)
				json_object_set_new(by, nrfca_exit_info((enum nrfca_exit)i).name,
						    json_integer(t->by_exit[i]));
		o = json_pack("{s:s, s:I, s:I, s:o, s:f, s:f, s:s, s:i}", "event", "summary",
			      "passed", (json_int_t)t->passed, "failed", (json_int_t)t->failed,
			      "failed_by_reason", by, "seconds", t->seconds, "devices_per_hour",
			      per_hour(t), "ca", t->ca, "exit_code", exit_code);
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s != NULL)
			fprintf(v->f, "%s\n", s);
		free(s);
		json_decref(o);
		fflush(v->f);
		return;
	}
	if (v->hidden) {
		fputs("\x1b[?25h", v->f);
		v->hidden = 0;
	}
	fprintf(v->f, "line summary: %u passed, %u failed%s%s%s in %s, %.0f devices/hour, CA %s; "
		"exit %d (%s)\n", t->passed, t->failed, why[0] ? " (" : "", why, why[0] ? ")" : "",
		el, per_hour(t), t->ca, exit_code,
		nrfca_exit_info((enum nrfca_exit)exit_code).name);
	fflush(v->f);
}
