/* progress.c - step display: redrawn line on a terminal, log lines otherwise. */
#include "progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct nrfca_progress {
	FILE *f;
	struct nrfca_progress_sink sink;   /* sink.step != NULL: nothing printed */
	enum nrfca_progress_level level;
	int tty;
	int open_line;        /* a redrawn line is on screen */
	unsigned total, cur;
	char what[160];
	char note[200];       /* latest note, shown after `what` on a terminal */
	struct timespec t0;
	/* on a terminal a ticker thread redraws the line, so the elapsed time
	 * moves during long waits (%KEYGEN, CA retries) */
	pthread_mutex_t mu;
	pthread_t ticker;
	int ticking, stop;
};

#define TICK_NS 250000000L

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
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

static void *tick_main(void *arg)
{
	struct nrfca_progress *p = arg;
	struct timespec ts = { 0, TICK_NS };

	for (;;) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		if (p->open_line)
			redraw(p);
		pthread_mutex_unlock(&p->mu);
	}
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
	pthread_mutex_init(&p->mu, NULL);
	if (p->tty && p->level == NRFCA_PROGRESS_NORMAL &&
	    pthread_create(&p->ticker, NULL, tick_main, p) == 0)
		p->ticking = 1;
	return p;
}

struct nrfca_progress *nrfca_progress_create_sink(const struct nrfca_progress_sink *sink,
						  enum nrfca_progress_level level,
						  unsigned total)
{
	struct nrfca_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->sink = *sink;
	p->level = level;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void nrfca_progress_free(struct nrfca_progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_mutex_unlock(&p->mu);
	if (p->ticking)
		pthread_join(p->ticker, NULL);
	nrfca_progress_end(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

double nrfca_progress_elapsed(const struct nrfca_progress *p)
{
	return since(&p->t0);
}


static void end_locked(struct nrfca_progress *p)
{
	if (p->open_line) {
		fputc('\n', p->f);
		fflush(p->f);
		p->open_line = 0;
	}
}

void nrfca_progress_end(struct nrfca_progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	end_locked(p);
	pthread_mutex_unlock(&p->mu);
}

int nrfca_progress_live(const struct nrfca_progress *p)
{
	return p != NULL && p->tty && p->level == NRFCA_PROGRESS_NORMAL;
}

void nrfca_progress_set_total(struct nrfca_progress *p, unsigned total)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->total = total;
	pthread_mutex_unlock(&p->mu);
}

void nrfca_progress_step(struct nrfca_progress *p, unsigned n, const char *what)
{
	if (p == NULL)
		return;
	if (p->sink.step != NULL) {
		p->sink.step(p->sink.ctx, n, what);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->cur = n;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->note[0] = '\0';
	if (p->level == NRFCA_PROGRESS_QUIET) {
		/* nothing shown */
	} else if (p->tty && p->level != NRFCA_PROGRESS_VERBOSE) {
		redraw(p);
	} else {
		fprintf(p->f, "nrfca: [%u/%u %.1f s] %s\n", n, p->total, since(&p->t0), what);
		fflush(p->f);
	}
	pthread_mutex_unlock(&p->mu);
}

static void vline(struct nrfca_progress *p, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vline(struct nrfca_progress *p, const char *fmt, va_list ap)
{
	end_locked(p);
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
	if (p->sink.step != NULL) {
		char text[400];

		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		if (p->sink.note != NULL)
			p->sink.note(p->sink.ctx, 0, text);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->tty && p->level == NRFCA_PROGRESS_NORMAL && p->cur > 0) {
		vsnprintf(p->note, sizeof(p->note), fmt, ap);
		redraw(p);
	} else {
		vline(p, fmt, ap);
	}
	pthread_mutex_unlock(&p->mu);
	va_end(ap);
}

void nrfca_progress_warn(struct nrfca_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL)
		return;
	va_start(ap, fmt);
	if (p->sink.step != NULL) {
		char text[400];

		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		if (p->sink.note != NULL)
			p->sink.note(p->sink.ctx, 1, text);
		return;
	}
	pthread_mutex_lock(&p->mu);
	vline(p, fmt, ap);
	pthread_mutex_unlock(&p->mu);
	va_end(ap);
}

void nrfca_progress_trace(void *ctx, enum nrfca_at_dir dir, const char *line)
{
	struct nrfca_progress *p = ctx;

	if (p == NULL || p->level != NRFCA_PROGRESS_VERBOSE || p->sink.step != NULL)
		return;
	pthread_mutex_lock(&p->mu);
	fprintf(p->f, "  %s %s\n", dir == NRFCA_AT_SENT ? "->" : "<-", line);
	fflush(p->f);
	pthread_mutex_unlock(&p->mu);
}
