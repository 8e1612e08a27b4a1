/* onboard.c - bulk uploads to nRF Cloud followed to their outcome, and the station queue. */
#include "onboard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "journal.h"


static const char *const kind_path[NRFCLOUD_UPLOAD_KIND_MAX] = {
	[NRFCLOUD_ONBOARD_DEVICES] = "POST /v1/devices",
	[NRFCLOUD_REGISTER_PUBLIC_KEYS] = "POST /v1/devices/public-keys",
};

int nrfca_ob_exit(const struct nrfca_ob_summary *s)
{
	if (s->auth_failed || s->count[NRFCA_OB_ERROR] > 0)
		return NRFCA_EXIT_CLOUD_REFUSED;
	if (s->unreachable || s->count[NRFCA_OB_NOT_SENT] > 0 || s->count[NRFCA_OB_UNCONFIRMED] > 0)
		return NRFCA_EXIT_CLOUD_UNREACHABLE;
	return NRFCA_EXIT_OK;
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the run ---- */

struct run {
	const struct nrfca_ob_opts *o;
	struct nrfca_ob_set *s;
	struct nrfca_ob_summary *sum;
	unsigned step, steps;
	int stop;                   /* auth refused or unreachable: no further calls */
	int last_pct;
};

static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct run *r, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	if (r->o->progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nrfca_progress_note(r->o->progress, "%s", buf);
}

static void step(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(struct run *r, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	r->last_pct = -1;
	if (r->o->progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nrfca_progress_step(r->o->progress, ++r->step, buf);
}

/* Steps: the ones done, plus `extra`, plus one per upload still to make. */
static void set_total(struct run *r, unsigned extra)
{
	size_t pending[NRFCLOUD_UPLOAD_KIND_MAX] = { 0 }, i;
	unsigned t = r->step + extra;

	for (i = 0; i < r->s->n; i++)
		pending[r->s->rows[i].kind] += r->s->rows[i].result == NRFCA_OB_PENDING;
	for (i = 0; i < NRFCLOUD_UPLOAD_KIND_MAX; i++)
		t += (unsigned)((pending[i] + NRFCLOUD_MAX_ROWS - 1) / NRFCLOUD_MAX_ROWS);
	if (r->o->progress != NULL)
		nrfca_progress_set_total(r->o->progress, t ? t : 1);
}

/* On a terminal, a note at most every 10 %. */
static void percent(struct run *r, const char *what, size_t done, size_t total)
{
	int pct = total ? (int)(done * 100 / total) : 100;

	if (!nrfca_progress_live(r->o->progress))
		return;
	if (pct / 10 == r->last_pct / 10 && pct != 100)
		return;
	if (pct == 100 && r->last_pct == 100)
		return;
	r->last_pct = pct;
	note(r, "%s %d %%", what, pct);
}

static void on_upload(void *ctx, size_t sent, size_t total)
{
	percent(ctx, "sent", sent, total);
}

static void first_problem(struct run *r, const struct nrfca_err *e)
{
	if (r->sum->first.code == NRFCA_OK)
		r->sum->first = *e;
}

static void mark_pending(struct run *r, enum nrfca_ob_result res, const char *msg)
{
	size_t i;

	for (i = 0; i < r->s->n; i++)
		if (r->s->rows[i].result == NRFCA_OB_PENDING)
			nrfca_ob_set_result(&r->s->rows[i], res, msg);
}

static void check_existing(struct run *r)
{
	size_t i, todo = 0, done = 0;

	for (i = 0; i < r->s->n; i++)
		todo += r->s->rows[i].result == NRFCA_OB_PENDING &&
			r->s->rows[i].kind == NRFCLOUD_ONBOARD_DEVICES;
	if (todo == 0)
		return;
	step(r, "check which of %zu devices nRF Cloud already has (GET /v1/devices/{id})", todo);
	for (i = 0; i < r->s->n && !r->stop; i++) {
		struct nrfca_ob_row *row = &r->s->rows[i];
		struct nrfca_err e = { 0 };
		enum nrfcloud_outcome oc;
		int exists = 0;
		char m[NRFCA_ERR_MSG_MAX + 40];

		if (row->result != NRFCA_OB_PENDING || row->kind != NRFCLOUD_ONBOARD_DEVICES)
			continue;
		oc = nrfcloud_device_exists(r->o->cloud, row->id, &exists, &e);
		percent(r, "checked", ++done, todo);
		if (oc == NRFCLOUD_OK) {
			if (exists)
				nrfca_ob_set_result(row, NRFCA_OB_EXISTS, "already onboarded (GET /v1/devices/"
					   "{id} answered 200); not sent again");
			continue;
		}
		first_problem(r, &e);
		snprintf(m, sizeof(m), "not sent: the check failed: %s", e.msg);
		if (oc == NRFCLOUD_AUTH || oc == NRFCLOUD_UNREACHABLE || oc == NRFCLOUD_CONFIG) {
			r->sum->auth_failed |= oc == NRFCLOUD_AUTH;
			r->sum->unreachable |= oc != NRFCLOUD_AUTH;
			r->stop = 1;
			mark_pending(r, NRFCA_OB_NOT_SENT, m);
		} else {
			nrfca_ob_set_result(row, NRFCA_OB_NOT_SENT, m);
		}
	}
}

/* FAILED: the error summary names the rows nRF Cloud refused. */
static void map_errors(struct run *r, size_t *idx, size_t m, const char *url, const char *id)
{
	struct nrfcloud_row_error *v = NULL;
	struct nrfca_err e = { 0 };
	enum nrfcloud_outcome oc;
	size_t n = 0, i, stray = 0;
	const char *stray_msg = NULL;
	char msg[NRFCA_ERR_MSG_MAX + 200];

	if (url == NULL) {
		snprintf(msg, sizeof(msg), "bulk operation %s FAILED and names no error summary; "
			 "the outcome of this row is unknown", id);
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_UNCONFIRMED, msg);
		return;
	}
	oc = nrfcloud_error_summary(r->o->cloud, url, m, &v, &n, &e);
	if (oc != NRFCLOUD_OK) {
		first_problem(r, &e);
		r->sum->unreachable |= oc == NRFCLOUD_UNREACHABLE;
		snprintf(msg, sizeof(msg), "bulk operation %s FAILED; its error summary could not "
			 "be read (%s)", id, e.msg);
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_UNCONFIRMED, msg);
		return;
	}
	for (i = 0; i < n; i++) {
		if (v[i].row >= 0)
			nrfca_ob_set_result(&r->s->rows[idx[v[i].row]], NRFCA_OB_ERROR, v[i].message);
		else if (stray++ == 0)
			stray_msg = v[i].message;
	}
	if (n == 0 || stray > 0)
		snprintf(msg, sizeof(msg), "bulk operation %s FAILED; %s%.200s%s", id,
			 n == 0 ? "the error summary lists no errors" :
			 "nRF Cloud reported errors that name no row of this upload: \"",
			 n == 0 ? "" : stray_msg, n == 0 ? "" : "\"");
	for (i = 0; i < m; i++) {
		struct nrfca_ob_row *row = &r->s->rows[idx[i]];

		if (row->result != NRFCA_OB_PENDING)
			continue;
		if (n == 0 || stray > 0)
			nrfca_ob_set_result(row, NRFCA_OB_UNCONFIRMED, msg);
		else
			nrfca_ob_set_result(row, NRFCA_OB_OK, NULL);
	}
	nrfcloud_row_errors_free(v, n);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Poll one bulk operation until SUCCEEDED or FAILED. */
static void poll(struct run *r, size_t *idx, size_t m, const char *id)
{
	unsigned wait = 250, cap = r->o->poll_max_ms ? r->o->poll_max_ms : 5000;
	unsigned long limit = r->o->wait_ms ? r->o->wait_ms : 600000;
	double t0 = mono(), last_note = 0;
	int last = -1;
	size_t i;
	char msg[NRFCA_ERR_MSG_MAX + 200];

	for (;;) {
		struct nrfcloud_bulk b;
		struct nrfca_err e = { 0 };
		enum nrfcloud_outcome oc;
		double el;

		wait = wait * 2 > cap ? cap : wait * 2;
		sleep_ms(wait);
		oc = nrfcloud_bulk_status(r->o->cloud, id, &b, &e);
		el = mono() - t0;
		if (oc != NRFCLOUD_OK) {
			first_problem(r, &e);
			r->sum->auth_failed |= oc == NRFCLOUD_AUTH;
			r->sum->unreachable |= oc == NRFCLOUD_UNREACHABLE || oc == NRFCLOUD_CONFIG;
			r->stop |= oc == NRFCLOUD_AUTH || oc == NRFCLOUD_UNREACHABLE;
			snprintf(msg, sizeof(msg), "sent as bulk operation %s, but its status could "
				 "not be read: %s", id, e.msg);
			for (i = 0; i < m; i++)
				nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_UNCONFIRMED, msg);
			return;
		}
		if (b.status == NRFCLOUD_SUCCEEDED) {
			note(r, "bulk operation %s SUCCEEDED after %.1f s", id, el);
			for (i = 0; i < m; i++)
				nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_OK, NULL);
			nrfcloud_bulk_clear(&b);
			return;
		}
		if (b.status == NRFCLOUD_FAILED) {
			note(r, "bulk operation %s FAILED after %.1f s: reading the error summary",
			     id, el);
			map_errors(r, idx, m, b.error_summary_url, id);
			nrfcloud_bulk_clear(&b);
			return;
		}
		if ((int)b.status != last || el - last_note >= 30) {
			note(r, "bulk operation %s %s (%.0f s)", id, nrfcloud_status_name(b.status),
			     el);
			last = (int)b.status;
			last_note = el;
		}
		nrfcloud_bulk_clear(&b);
		if (el * 1000.0 > (double)limit) {
			snprintf(msg, sizeof(msg), "sent as bulk operation %s, still %s after %.0f s; "
				 "its outcome is unknown (look it up later: GET /v1/bulk-ops-"
				 "requests/%s)", id, nrfcloud_status_name((enum nrfcloud_status)last),
				 el, id);
			for (i = 0; i < m; i++)
				nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_UNCONFIRMED, msg);
			return;
		}
	}
}

static void upload(struct run *r, enum nrfcloud_upload_kind kind, size_t *idx, size_t m,
		   size_t first, size_t total)
{
	struct nrfca_err e = { 0 };
	enum nrfcloud_outcome oc;
	char id[NRFCLOUD_ID_MAX + 1], msg[NRFCA_ERR_MSG_MAX + 80];
	size_t len = 0, i, at = 0;
	char *body;

	for (i = 0; i < m; i++)
		len += r->s->rows[idx[i]].text_len;
	body = malloc(len + 1);
	if (body == NULL) {
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_NOT_SENT, "out of memory");
		return;
	}
	for (i = 0; i < m; i++) {
		memcpy(body + at, r->s->rows[idx[i]].text, r->s->rows[idx[i]].text_len);
		at += r->s->rows[idx[i]].text_len;
	}
	step(r, "send %s %zu-%zu of %zu to nRF Cloud (%s, %zu kB)",
	     kind == NRFCLOUD_ONBOARD_DEVICES ? "devices" : "public keys", first + 1, first + m,
	     total, kind_path[kind], (len + 1023) / 1024);
	oc = nrfcloud_upload(r->o->cloud, kind, body, len, on_upload, r, id, &e);
	free(body);
	switch (oc) {
	case NRFCLOUD_OK:
		r->sum->uploads++;
		for (i = 0; i < m; i++)
			snprintf(r->s->rows[idx[i]].request, sizeof(r->s->rows[idx[i]].request), "%s",
				 id);
		note(r, "accepted as bulk operation %s", id);
		poll(r, idx, m, id);
		return;
	case NRFCLOUD_REFUSED:
		first_problem(r, &e);
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_ERROR, e.msg);
		return;
	case NRFCLOUD_BAD_ANSWER:
		first_problem(r, &e);
		snprintf(msg, sizeof(msg), "sent, but nRF Cloud's answer is unusable: %s", e.msg);
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_UNCONFIRMED, msg);
		return;
	default:
		first_problem(r, &e);
		r->sum->auth_failed |= oc == NRFCLOUD_AUTH;
		r->sum->unreachable |= oc != NRFCLOUD_AUTH;
		r->stop = 1;
		snprintf(msg, sizeof(msg), "not sent: %s", e.msg);
		for (i = 0; i < m; i++)
			nrfca_ob_set_result(&r->s->rows[idx[i]], NRFCA_OB_NOT_SENT, msg);
		return;
	}
}

int nrfca_ob_run(const struct nrfca_ob_opts *o, struct nrfca_ob_set *s,
		 struct nrfca_ob_summary *sum, struct nrfca_err *e)
{
	struct run r = { o, s, sum, 0, 0, 0, -1 };
	size_t *idx = NULL, i, k;
	int rc = 0, kind;

	memset(sum, 0, sizeof(*sum));
	idx = malloc((s->n ? s->n : 1) * sizeof(*idx));
	if (idx == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	if (o->check) {
		set_total(&r, 1);
		check_existing(&r);
	}
	set_total(&r, 0);
	for (kind = 0; kind < NRFCLOUD_UPLOAD_KIND_MAX; kind++) {
		size_t m = 0, done = 0;

		for (i = 0; i < s->n; i++)
			if (s->rows[i].kind == (enum nrfcloud_upload_kind)kind &&
			    s->rows[i].result == NRFCA_OB_PENDING)
				idx[m++] = i;
		for (k = 0; k < m && !r.stop; k += NRFCLOUD_MAX_ROWS) {
			size_t c = m - k > NRFCLOUD_MAX_ROWS ? NRFCLOUD_MAX_ROWS : m - k;

			upload(&r, (enum nrfcloud_upload_kind)kind, idx + k, c, done, m);
			done += c;
			if (o->results != NULL && nrfca_ob_write_results(o->results, s, e) != 0) {
				rc = -1;
				r.stop = 1;
			}
		}
	}
	if (r.stop) {
		char msg[NRFCA_ERR_MSG_MAX + 20];

		snprintf(msg, sizeof(msg), "not sent: %s", sum->first.code ? sum->first.msg :
			 "the run stopped");
		mark_pending(&r, NRFCA_OB_NOT_SENT, msg);
	}
	for (i = 0; i < s->n; i++)
		sum->count[s->rows[i].result]++;
	if (rc == 0 && o->results != NULL && nrfca_ob_write_results(o->results, s, e) != 0)
		rc = -1;
	free(idx);
	return rc;
}

/* ---- the queue ---- */

static int lock_file(const char *queue, const char *suffix, int nonblock, int *fd,
		     struct nrfca_err *e)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s%s", queue, suffix) >= sizeof(path))
		return nrfca_err_set(e, NRFCA_E_IO, "queue path %.100s is too long", queue);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
	while (flock(*fd, LOCK_EX | (nonblock ? LOCK_NB : 0)) != 0) {
		if (errno == EINTR)
			continue;
		if (nonblock && errno == EWOULDBLOCK) {
			close(*fd);
			*fd = -1;
			return 0;
		}
		nrfca_err_set(e, NRFCA_E_IO, "cannot lock %s: %s", path, strerror(errno));
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

static void unlock_file(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Read the queue (a missing file is an empty queue). */
static int queue_read(const char *queue, struct nrfca_ob_set *s, struct nrfca_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int found = 0, rc;

	memset(s, 0, sizeof(*s));
	if (nrfca_read_small(queue, NRFCA_OB_FILE_MAX, &text, &len, &found, e) != 0)
		return -1;
	if (!found)
		return 0;
	rc = nrfca_ob_parse(queue, text, len, -1, s, e);
	free(text);
	return rc;
}

static int queue_write(const char *queue, const struct nrfca_ob_set *s, const char *extra,
		       struct nrfca_err *e)
{
	size_t len = extra ? strlen(extra) : 0, i, at = 0;
	char *buf;
	int rc;

	for (i = 0; i < s->n; i++)
		len += s->rows[i].text_len;
	buf = malloc(len + 1);
	if (buf == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	for (i = 0; i < s->n; i++) {
		memcpy(buf + at, s->rows[i].text, s->rows[i].text_len);
		at += s->rows[i].text_len;
	}
	if (extra != NULL)
		memcpy(buf + at, extra, strlen(extra));
	rc = nrfca_write_atomic(queue, buf, len, 0600, e);
	free(buf);
	return rc;
}

/* Drop row i from s (its strings freed). */
static void drop_row(struct nrfca_ob_set *s, size_t i)
{
	free(s->rows[i].id);
	free(s->rows[i].text);
	free(s->rows[i].message);
	memmove(&s->rows[i], &s->rows[i + 1], (s->n - i - 1) * sizeof(s->rows[0]));
	s->n--;
}

int nrfca_ob_queue_add(const char *queue, const char *row, struct nrfca_err *e)
{
	struct nrfca_ob_set s, one;
	size_t i;
	int fd = -1, rc = -1;

	if (nrfca_ob_parse("the new queue row", row, strlen(row), -1, &one, e) != 0)
		return -1;
	if (one.n != 1) {
		nrfca_ob_set_clear(&one);
		return nrfca_err_set(e, NRFCA_E_INTERNAL, "a queue row must hold one device");
	}
	if (lock_file(queue, ".lock", 0, &fd, e) != 0) {
		nrfca_ob_set_clear(&one);
		return -1;
	}
	if (queue_read(queue, &s, e) == 0) {
		for (i = 0; i < s.n; i++)
			if (strcmp(s.rows[i].id, one.rows[0].id) == 0)
				drop_row(&s, i--);   /* re-provisioned: the newer row wins */
		rc = queue_write(queue, &s, one.rows[0].text, e);
		nrfca_ob_set_clear(&s);
	}
	unlock_file(fd);
	nrfca_ob_set_clear(&one);
	return rc;
}

static int same_row(const struct nrfca_ob_row *a, const struct nrfca_ob_row *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->text, b->text) == 0;
}

static int handled(const struct nrfca_ob_set *all, const struct nrfca_ob_row *r)
{
	size_t i;

	for (i = 0; i < all->n; i++)
		if (same_row(&all->rows[i], r))
			return 1;
	return 0;
}

static int append_refused(const char *queue, const struct nrfca_ob_set *s, struct nrfca_err *e)
{
	char path[PATH_MAX];
	size_t i;
	int fd, rc = 0;

	for (i = 0; i < s->n && s->rows[i].result != NRFCA_OB_ERROR; i++)
		;
	if (i == s->n)
		return 0;
	snprintf(path, sizeof(path), "%s.refused", queue);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
	for (i = 0; i < s->n && rc == 0; i++)
		if (s->rows[i].result == NRFCA_OB_ERROR &&
		    write(fd, s->rows[i].text, s->rows[i].text_len) != (ssize_t)s->rows[i].text_len)
			rc = nrfca_err_set(e, NRFCA_E_IO, "cannot write %s: %s", path,
					   strerror(errno));
	if (fsync(fd) != 0 && rc == 0)
		rc = nrfca_err_set(e, NRFCA_E_IO, "cannot sync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Remove the rows this round settled (OK, EXISTS, ERROR) from the queue;
 * refused rows go to .refused.  Rows added meanwhile stay. */
static int settle(const char *queue, const struct nrfca_ob_set *done, struct nrfca_err *e)
{
	struct nrfca_ob_set q;
	size_t i, j;
	int fd = -1, rc = -1, changed = 0;

	if (lock_file(queue, ".lock", 0, &fd, e) != 0)
		return -1;
	if (queue_read(queue, &q, e) != 0)
		goto out;
	for (i = 0; i < q.n; i++)
		for (j = 0; j < done->n; j++) {
			enum nrfca_ob_result res = done->rows[j].result;

			if ((res == NRFCA_OB_OK || res == NRFCA_OB_EXISTS || res == NRFCA_OB_ERROR) &&
			    same_row(&q.rows[i], &done->rows[j])) {
				drop_row(&q, i--);
				changed = 1;
				break;
			}
		}
	rc = append_refused(queue, done, e);
	if (rc == 0 && changed)
		rc = queue_write(queue, &q, NULL, e);
	nrfca_ob_set_clear(&q);
out:
	unlock_file(fd);
	return rc;
}

/* Move the rows of src to the end of dst (src is emptied). */
static int take_rows(struct nrfca_ob_set *dst, struct nrfca_ob_set *src, struct nrfca_err *e)
{
	struct nrfca_ob_row *nv;

	if (src->n == 0)
		return 0;
	nv = realloc(dst->rows, (dst->n + src->n) * sizeof(*nv));
	if (nv == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	dst->rows = nv;
	memcpy(dst->rows + dst->n, src->rows, src->n * sizeof(*nv));
	dst->n += src->n;
	free(src->rows);
	memset(src, 0, sizeof(*src));
	return 0;
}

static void add_summary(struct nrfca_ob_summary *to, const struct nrfca_ob_summary *from)
{
	int i;

	for (i = 0; i < NRFCA_OB_RESULT_MAX; i++)
		to->count[i] += from->count[i];
	to->uploads += from->uploads;
	to->auth_failed |= from->auth_failed;
	to->unreachable |= from->unreachable;
	if (to->first.code == NRFCA_OK)
		to->first = from->first;
}

int nrfca_ob_queue_drain(const char *queue, const struct nrfca_ob_opts *o,
			 struct nrfca_ob_summary *sum, int *busy, struct nrfca_ob_set *handled_out,
			 struct nrfca_err *e)
{
	struct nrfca_ob_opts ro = *o;
	struct nrfca_ob_set all = { 0 };
	int rc = 0, tries, rounds, fd = -1;

	memset(sum, 0, sizeof(*sum));
	*busy = 0;
	ro.check = 1;       /* a queued device may be in nRF Cloud already */
	ro.results = NULL;
	for (tries = 0; tries < 3 && rc == 0; tries++) {
		struct nrfca_ob_set q;
		size_t i, fresh = 0;

		if (lock_file(queue, ".drain", 1, &fd, e) != 0)
			return -1;
		if (fd < 0) {
			/* Another process drains; it picks up our rows (it looks again after
			 * releasing the lock). */
			*busy = tries == 0;
			break;
		}
		for (rounds = 0; rounds < 4 && rc == 0; rounds++) {
			struct nrfca_ob_summary s1;
			int qfd = -1;

			if (lock_file(queue, ".lock", 0, &qfd, e) != 0 ||
			    (rc = queue_read(queue, &q, e)) != 0) {
				unlock_file(qfd);
				rc = -1;
				break;
			}
			unlock_file(qfd);
			for (i = 0; i < q.n; i++)
				if (handled(&all, &q.rows[i]))
					drop_row(&q, i--);
			if (q.n == 0) {
				nrfca_ob_set_clear(&q);
				break;
			}
			rc = nrfca_ob_run(&ro, &q, &s1, e);
			add_summary(sum, &s1);
			if (rc == 0)
				rc = settle(queue, &q, e);
			if (take_rows(&all, &q, e) != 0)
				rc = -1;
			nrfca_ob_set_clear(&q);
			if (s1.auth_failed || s1.unreachable)
				break;
		}
		unlock_file(fd);
		fd = -1;
		if (rc != 0 || sum->auth_failed || sum->unreachable)
			break;
		/* Rows queued while we held the drain lock by a process that then
		 * found it busy: look once more. */
		if (queue_read(queue, &q, e) != 0) {
			rc = -1;
			break;
		}
		for (i = 0; i < q.n; i++)
			fresh += !handled(&all, &q.rows[i]);
		nrfca_ob_set_clear(&q);
		if (fresh == 0)
			break;
	}
	if (o->results != NULL && all.n > 0 && nrfca_ob_write_results(o->results, &all, e) != 0)
		rc = -1;
	if (handled_out != NULL)
		*handled_out = all;
	else
		nrfca_ob_set_clear(&all);
	return rc;
}
