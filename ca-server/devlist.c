/*
 * devlist.c - parse the expected-device file of a manufacturing order
 * (devlist.h says the format).
 */
#include "devlist.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define PROGRESS_EVERY 8192

/* an open-addressing set of the ids kept (their index + 1), for duplicates */
struct idset {
	size_t *slot;
	size_t cap, n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

/* 1 when id is among ids (by the set), 0 when not, -1 on ENOMEM (grows first). */
static int set_has(struct idset *s, char *const *ids, const char *id, size_t *pos)
{
	size_t i, j, ncap, *ns;

	if ((s->n + 1) * 2 > s->cap) {
		ncap = s->cap ? s->cap * 2 : 1024;
		ns = calloc(ncap, sizeof(*ns));
		if (ns == NULL)
			return -1;
		for (i = 0; i < s->cap; i++) {
			if (s->slot[i] == 0)
				continue;
			j = hash(ids[s->slot[i] - 1]) & (ncap - 1);
			while (ns[j] != 0)
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	j = hash(id) & (s->cap - 1);
	while (s->slot[j] != 0) {
		if (strcmp(ids[s->slot[j] - 1], id) == 0)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	*pos = j;
	return 0;
}

static int is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* What a refused field looked like, printable and short. */
static void shown(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < cap && i < 40; i++)
		out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && k + 4 <= cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

int devlist_normalise(const char *s, size_t len, char *out, char *why, size_t why_len)
{
	char d[16], v[48];
	size_t i;

	if (len == 0) {
		snprintf(why, why_len, "the device id is empty");
		return -1;
	}
	if (nrfca_is_uuid_any_case(s, len)) {
		for (i = 0; i < 36; i++)
			out[i] = (char)tolower((unsigned char)s[i]);
		out[36] = '\0';
		return 0;
	}
	if (len == 19 && strncmp(s, "nrf-", 4) == 0) {
		s += 4;
		len -= 4;
	}
	if (len == 15 && is_digits(s, 15)) {
		memcpy(d, s, 15);
		d[15] = '\0';
		if (!nrfca_luhn_ok(d)) {
			snprintf(why, why_len, "IMEI %s fails the Luhn check (check digit %c)", d, d[14]);
			return -1;
		}
		memcpy(out, d, 16);
		return 0;
	}
	shown(s, len, v, sizeof(v));
	snprintf(why, why_len, "'%s' is not a device UUID (8-4-4-4-12), a 15-digit IMEI or "
		 "nrf-<IMEI>", v);
	return -1;
}

struct parser {
	const char *name;
	char *report;
	size_t report_len, report_used;
	int errors;
	struct nrfca_err *err;
};

static void problem(struct parser *p, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct parser *p, size_t line, const char *fmt, ...)
{
	char why[200];
	va_list ap;
	int k;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->errors == 0)
		nrfca_err_set(p->err, NRFCA_E_INPUT, "%s line %zu: %s", p->name, line, why);
	if (p->errors < DEVLIST_ERRORS_MAX && p->report != NULL &&
	    p->report_used < p->report_len) {
		k = snprintf(p->report + p->report_used, p->report_len - p->report_used,
			     "%s line %zu: %s\n", p->name, line, why);
		if (k > 0)
			p->report_used += (size_t)k < p->report_len - p->report_used ?
					  (size_t)k : p->report_len - p->report_used - 1;
	}
	p->errors++;
}

/*
 * Split one CSV line into fields; field `want` (0-based) is copied to
 * out (cap bytes) with quotes resolved.  Returns the number of fields, or
 * -1 for a broken quote.  *fn gets the field count.
 */
static int csv_field(const char *s, size_t n, int want, char *out, size_t cap, size_t *out_len)
{
	size_t i = 0, k = 0;
	int f = 0;

	*out_len = 0;
	for (;;) {
		int quoted = i < n && s[i] == '"';

		k = 0;
		if (quoted) {
			i++;
			for (;;) {
				if (i >= n)
					return -1;         /* no closing quote */
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						if (f == want && k + 1 < cap)
							out[k] = '"';
						k++;
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (f == want && k + 1 < cap)
					out[k] = s[i];
				k++;
				i++;
			}
			if (i < n && s[i] != ',')
				return -1;                 /* text after the closing quote */
		} else {
			while (i < n && s[i] != ',') {
				if (s[i] == '"')
					return -1;
				if (f == want && k + 1 < cap)
					out[k] = s[i];
				k++;
				i++;
			}
		}
		if (f == want) {
			*out_len = k < cap ? k : cap;   /* cap: longer than any id */
			out[k < cap ? k : cap - 1] = '\0';
		}
		f++;
		if (i >= n)
			return f;
		i++;   /* the comma */
		if (i == n) {                          /* a trailing empty field */
			if (f == want) {
				*out_len = 0;
				out[0] = '\0';
			}
			return f + 1;
		}
	}
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

int devlist_parse(const char *buf, size_t len, const char *name, struct devlist *out,
		  char *report, size_t report_len, devlist_progress_fn progress, void *arg,
		  struct nrfca_err *err)
{
	struct parser p = { name, report, report_len, 0, 0, err };
	struct devlist l;
	struct idset set = { NULL, 0, 0 };
	size_t pos = 0;
	const char *line = buf, *end, *next;
	char field[DEVLIST_ID_MAX + 8], id[DEVLIST_ID_MAX + 1], why[160];
	size_t n, cap = 0, lineno = 0, flen;
	int header_done = 0, col = -1, r;

	memset(&l, 0, sizeof(l));
	if (report != NULL && report_len > 0)
		report[0] = '\0';
	if (len > DEVLIST_FILE_MAX)
		return nrfca_err_set(err, NRFCA_E_TOO_LARGE, "%s is %zu bytes, more than the limit of "
				     "%u", name, len, DEVLIST_FILE_MAX);
	if (memchr(buf, '\0', len) != NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s holds a NUL byte: it is not a text file",
				     name);
	for (; line < buf + len && p.errors < DEVLIST_ERRORS_MAX; line = next) {
		lineno++;
		end = memchr(line, '\n', (size_t)(buf + len - line));
		next = end != NULL ? end + 1 : buf + len;
		if (end == NULL)
			end = buf + len;
		n = (size_t)(end - line);
		if (progress != NULL && lineno % PROGRESS_EVERY == 0)
			progress(arg, lineno, (size_t)(line - buf), len);
		if (n > DEVLIST_LINE_MAX) {
			problem(&p, lineno, "the line is longer than %d characters", DEVLIST_LINE_MAX);
			continue;
		}
		{
			const char *s = line;
			size_t m = n;

			trim(&s, &m);
			if (m == 0 || s[0] == '#')
				continue;
			if (!header_done) {
				header_done = 1;
				if (memchr(s, ',', m) != NULL) {
					/* a CSV header: find the id column */
					int f, nf;

					l.csv = 1;
					for (f = 0;; f++) {
						nf = csv_field(s, m, f, field, sizeof(field), &flen);
						if (nf < 0) {
							problem(&p, lineno, "the CSV header has a broken quote");
							break;
						}
						if (f >= nf)
							break;
						if (flen == 0 || flen >= sizeof(field) - 1)
							continue;
						{
							const char *fs = field;
							size_t fl = flen;
							size_t i;

							trim(&fs, &fl);
							for (i = 0; i < fl && i < sizeof(l.column) - 1; i++)
								l.column[i] = (char)tolower((unsigned char)fs[i]);
							l.column[i] = '\0';
						}
						if (strcmp(l.column, "device_id") == 0 ||
						    strcmp(l.column, "uuid") == 0 ||
						    strcmp(l.column, "imei") == 0) {
							col = f;
							break;
						}
					}
					if (col < 0 && p.errors == 0)
						problem(&p, lineno, "a CSV header must name a device_id, uuid "
							"or imei column");
					if (col < 0)
						break;
					continue;
				}
			}
			if (l.csv) {
				r = csv_field(s, m, col, field, sizeof(field), &flen);
				if (r < 0) {
					problem(&p, lineno, "a quote is not closed or is followed by "
						"text before the next comma");
					continue;
				}
				if (r <= col) {
					problem(&p, lineno, "%d field%s, the %s column is field %d", r,
						r == 1 ? "" : "s", l.column, col + 1);
					continue;
				}
				s = field;
				m = flen;
				trim(&s, &m);
			}
			if (devlist_normalise(s, m, id, why, sizeof(why)) != 0) {
				problem(&p, lineno, "%s", why);
				continue;
			}
		}
		r = set_has(&set, l.ids, id, &pos);
		if (r < 0)
			goto nomem;
		if (r == 1) {
			l.duplicates++;
			continue;
		}
		if (l.n == DEVLIST_DEVICES_MAX) {
			problem(&p, lineno, "more than %u devices in one file", DEVLIST_DEVICES_MAX);
			break;
		}
		if (l.n == cap) {
			char **ni;

			cap = cap ? cap * 2 : 1024;
			ni = realloc(l.ids, cap * sizeof(*ni));
			if (ni == NULL)
				goto nomem;
			l.ids = ni;
		}
		l.ids[l.n] = strdup(id);
		if (l.ids[l.n] == NULL)
			goto nomem;
		l.n++;
		set.slot[pos] = l.n;
		set.n++;
	}
	l.lines = lineno;
	free(set.slot);
	if (progress != NULL)
		progress(arg, lineno, len, len);
	if (p.errors > 0) {
		if (p.errors >= DEVLIST_ERRORS_MAX && report != NULL && p.report_used < report_len)
			snprintf(report + p.report_used, report_len - p.report_used,
				 "%s: stopped after %d problems\n", name, DEVLIST_ERRORS_MAX);
		devlist_free(&l);
		return -1;
	}
	if (l.n == 0) {
		devlist_free(&l);
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s lists no device", name);
	}
	*out = l;
	return 0;
nomem:
	free(set.slot);
	devlist_free(&l);
	return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory reading %s", name);
}

void devlist_free(struct devlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	memset(l, 0, sizeof(*l));
}
