#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define LINE_STACK 2048      /* most lines fit; longer ones are allocated */

static const char *const level_names[NLOG_LEVEL_MAX] = { "debug", "info", "warn", "error" };
static enum nlog_level min_level = NLOG_INFO;
static int log_fd = 2;
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

void nlog_set_min_level(enum nlog_level level)
{
	min_level = level;
}

void nlog_set_fd(int fd)
{
	log_fd = fd;
}

json_t *nlog_json_str(const char *s)
{
	json_t *v;
	char *copy;
	size_t i, n;

	if (s == NULL)
		return json_null();
	v = json_string(s);
	if (v != NULL)
		return v;
	n = strlen(s);
	copy = malloc(n + 1);
	if (copy == NULL)
		return json_null();
	for (i = 0; i < n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	copy[n] = '\0';
	v = json_string(copy);
	free(copy);
	return v;
}

static json_t *line_start(enum nlog_level level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[48];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return json_pack("{s:s, s:s, s:o}", "ts", when, "level", level_names[level], "event",
			 nlog_json_str(event));
}

/* The line as one buffer (with its newline), one write(2). */
static void emit(json_t *o)
{
	char stack[LINE_STACK], *buf = stack;
	size_t n, off = 0;
	ssize_t w;

	if (o == NULL)
		return;
	/* 6 significant digits: "ms": 3.26, not 3.2599999999999998 */
	n = json_dumpb(o, stack, sizeof(stack) - 1, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (n == 0)
		return;
	if (n > sizeof(stack) - 1) {
		buf = malloc(n + 1);
		if (buf == NULL || json_dumpb(o, buf, n, JSON_COMPACT | JSON_REAL_PRECISION(6)) != n) {
			free(buf);
			return;
		}
	}
	buf[n++] = '\n';
	pthread_mutex_lock(&write_mu);
	while (off < n) {
		w = write(log_fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	pthread_mutex_unlock(&write_mu);
	if (buf != stack)
		free(buf);
}

static void vlog(enum nlog_level level, const char *event, const char *num_key, long long num,
		 va_list ap)
{
	const char *k, *v;
	json_t *o;

	if (level < min_level || level >= NLOG_LEVEL_MAX)
		return;
	o = line_start(level, event);
	if (o == NULL)
		return;
	if (num_key != NULL)
		json_object_set_new(o, num_key, json_integer(num));
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		json_object_set_new(o, k, nlog_json_str(v ? v : ""));
	}
	emit(o);
	json_decref(o);
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

void nlog_fields(enum nlog_level level, const char *event, const struct nlog_field *f, size_t n)
{
	json_t *o, *v;
	size_t i;

	if (level < min_level || level >= NLOG_LEVEL_MAX)
		return;
	o = line_start(level, event);
	if (o == NULL)
		return;
	for (i = 0; i < n; i++) {
		switch (f[i].type) {
		case NLOG_T_INT:
			v = json_integer(f[i].i);
			break;
		case NLOG_T_REAL:
			v = json_real(f[i].d);
			break;
		case NLOG_T_BOOL:
			v = json_boolean(f[i].i);
			break;
		default:
			v = nlog_json_str(f[i].s);
			break;
		}
		json_object_set_new(o, f[i].key, v);
	}
	emit(o);
	json_decref(o);
}
