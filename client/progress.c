/* progress.c - step display: redrawn line on a terminal, log lines otherwise. */
#include "progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct nrfca_progress {
	FILE *f;
	enum nrfca_progress_level level;
	int tty;
	int open_line;        /* a redrawn line is on screen */
	unsigned total, cur;
	char what[160];
	char note[200];       /* latest note, shown after `what` on a terminal */
	struct timespec t0;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

struct nrfca_progress *nrfca_progress_create(FILE *f, enum nrfca_progress_level level,
					     int tty, unsigned total)
{
	struct nrfca_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->f = f;
	p->level = level;
	p->tty = tty < 0 ? isatty(fileno(f)) : tty;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	return p;
}

void nrfca_progress_free(struct nrfca_progress *p)
{
	if (p == NULL)
		return;
	nrfca_progress_end(p);
	free(p);
}

double nrfca_progress_elapsed(const struct nrfca_progress *p)
{
	return since(&p->t0);
}

static void redraw(struct nrfca_progress *p)
{
	/* One line, kept short enough for an 80-column terminal not to wrap. */
	fprintf(p->f, "\r\033[K[%u/%u %5.1f s] %.60s", p->cur, p->total, since(&p->t0), p->what);
	if (p->note[0])
		fprintf(p->f, ": %.40s%s", p->note, strlen(p->note) > 40 ? "..." : "");
	fflush(p->f);
	p->open_line = 1;
}

void nrfca_progress_end(struct nrfca_progress *p)
{
	if (p != NULL && p->open_line) {
		fputc('\n', p->f);
		fflush(p->f);
		p->open_line = 0;
	}
}

void nrfca_progress_step(struct nrfca_progress *p, unsigned n, const char *what)
{
	if (p == NULL)
		return;
	p->cur = n;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->note[0] = '\0';
	if (p->level == NRFCA_PROGRESS_QUIET)
		return;
	if (p->tty && p->level != NRFCA_PROGRESS_VERBOSE) {
		redraw(p);
		return;
	}
	fprintf(p->f, "nrfca: [%u/%u %.1f s] %s\n", n, p->total, since(&p->t0), what);
	fflush(p->f);
}

static void vline(struct nrfca_progress *p, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vline(struct nrfca_progress *p, const char *fmt, va_list ap)
{
	nrfca_progress_end(p);
	fprintf(p->f, "nrfca: ");
	vfprintf(p->f, fmt, ap);
	fputc('\n', p->f);
	fflush(p->f);
	if (p->tty && p->cur > 0 && p->level == NRFCA_PROGRESS_NORMAL)
		redraw(p);
}

void nrfca_progress_note(struct nrfca_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL || p->level == NRFCA_PROGRESS_QUIET)
		return;
	va_start(ap, fmt);
	if (p->tty && p->level == NRFCA_PROGRESS_NORMAL && p->cur > 0) {
		vsnprintf(p->note, sizeof(p->note), fmt, ap);
		redraw(p);
	} else {
		vline(p, fmt, ap);
	}
	va_end(ap);
}

void nrfca_progress_warn(struct nrfca_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL)
		return;
	va_start(ap, fmt);
	vline(p, fmt, ap);
	va_end(ap);
}

void nrfca_progress_trace(void *ctx, enum nrfca_at_dir dir, const char *line)
{
	struct nrfca_progress *p = ctx;

	if (p == NULL || p->level != NRFCA_PROGRESS_VERBOSE)
		return;
	fprintf(p->f, "  %s %s\n", dir == NRFCA_AT_SENT ? "->" : "<-", line);
	fflush(p->f);
}
