#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[NLOG_LEVEL_MAX] = { "debug", "info", "warn", "error" };
static enum nlog_level min_level = NLOG_INFO;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void nlog_set_min_level(enum nlog_level level)
{
	min_level = level;
}

static void put_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void vlog(enum nlog_level level, const char *event, const char *num_key, long long num,
		 va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[40];
	const char *k, *v;

	if (level < min_level || level >= NLOG_LEVEL_MAX)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&mu);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":", when,
		ts.tv_nsec / 1000000, level_names[level]);
	put_escaped(stderr, event);
	if (num_key != NULL) {
		fputc(',', stderr);
		put_escaped(stderr, num_key);
		fprintf(stderr, ":%lld", num);
	}
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		fputc(',', stderr);
		put_escaped(stderr, k);
		fputc(':', stderr);
		put_escaped(stderr, v ? v : "");
	}
	fputs("}\n", stderr);
	fflush(stderr);
	pthread_mutex_unlock(&mu);
}

void nlog(enum nlog_level level, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	vlog(level, event, NULL, 0, ap);
	va_end(ap);
}

void nlog_num(enum nlog_level level, const char *event, const char *num_key, long long num, ...)
{
	va_list ap;

	va_start(ap, num);
	vlog(level, event, num_key, num, ap);
	va_end(ap);
}
