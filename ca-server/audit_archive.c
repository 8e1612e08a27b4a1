#include "audit_archive.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "b64url.h"
#include "timefmt.h"

#define FORMAT_NAME "nrfca-audit-archive"
#define FORMAT_VERSION 1

struct audit_archive_writer {
	FILE *out;
	long long after_id;
	char *by;
	int header_done;
	long long entries, last_id;
	unsigned char last_hash[32];
};

static int put_line(FILE *out, json_t *o, struct nrfca_err *err)
{
	char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	int rc = 0;

	if (txt == NULL)
		rc = nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	else if (fprintf(out, "%s\n", txt) < 0)
		rc = nrfca_err_set(err, NRFCA_E_IO, "cannot write the archive");
	free(txt);
	json_decref(o);
	return rc;
}

static json_t *hex_or_null(int has, const unsigned char h[32])
{
	char hex[65];

	if (!has)
		return json_null();
	nrfca_hex_encode(h, 32, hex);
	return json_string(hex);
}

static int header(struct audit_archive_writer *w, int has_prev, const unsigned char prev[32],
		  struct nrfca_err *err)
{
	char now[NRFCA_TIME_ISO_LEN];

	w->header_done = 1;
	nrfca_time_iso((long long)time(NULL), now);
	return put_line(w->out, json_pack("{s:s, s:i, s:s, s:s, s:I, s:o}", "format", FORMAT_NAME,
					  "version", FORMAT_VERSION, "exported_at", now,
					  "exported_by", w->by, "after_id", (json_int_t)w->after_id,
					  "first_prev_hash", hex_or_null(has_prev, prev)), err);
}

struct audit_archive_writer *audit_archive_begin(FILE *out, long long after_id,
						 const char *exported_by)
{
	struct audit_archive_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->out = out;
	w->after_id = after_id;
	w->by = strdup(exported_by ? exported_by : "");
	if (w->by == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

int audit_archive_entry(struct audit_archive_writer *w, const struct ledger_audit_entry *e,
			struct nrfca_err *err)
{
	char t[NRFCA_TIME_ISO_LEN], ph[65], h[65];

	if (!w->header_done && header(w, 1, e->prev_hash, err) != 0)
		return -1;
	nrfca_time_iso(e->at, t);
	nrfca_hex_encode(e->prev_hash, 32, ph);
	nrfca_hex_encode(e->hash, 32, h);
	if (put_line(w->out, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
				       (json_int_t)e->id, "at", (json_int_t)e->at, "time", t,
				       "actor", e->actor, "event", e->event, "detail", e->detail,
				       "prev_hash", ph, "hash", h), err) != 0)
		return -1;
	w->entries++;
	w->last_id = e->id;
	memcpy(w->last_hash, e->hash, 32);
	return 0;
}

int audit_archive_end(struct audit_archive_writer *w, long long *entries, long long *last_id,
		      unsigned char last_hash[32], struct nrfca_err *err)
{
	int rc = 0;

	if (!w->header_done)
		rc = header(w, 0, NULL, err);
	if (rc == 0)
		rc = put_line(w->out, json_pack("{s:I, s:I, s:o}", "entries", (json_int_t)w->entries,
						"last_id", (json_int_t)w->last_id, "last_hash",
						hex_or_null(w->entries > 0, w->last_hash)), err);
	if (rc == 0 && fflush(w->out) != 0)
		rc = nrfca_err_set(err, NRFCA_E_IO, "cannot write the archive");
	if (entries)
		*entries = w->entries;
	if (last_id)
		*last_id = w->last_id;
	if (last_hash)
		memcpy(last_hash, w->last_hash, 32);
	free(w->by);
	free(w);
	return rc;
}

/* ---- verification ---- */

enum vstate { V_HEADER, V_BODY, V_DONE };

struct verifier {
	enum vstate st;
	struct audit_archive_result *r;
	int has_prev;                   /* prev: what the next entry's prev_hash must be */
	unsigned char prev[32];
	long long next_id;
};

static int broken(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int broken(struct verifier *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->r->why, sizeof(v->r->why), fmt, ap);
	va_end(ap);
	return 1;
}

/* A 64-hex-digit string into 32 bytes; -1 otherwise. */
static int get_hash(json_t *o, const char *key, unsigned char out[32])
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) != 64 || nrfca_hex_decode(s, 64, out, 32) != 0)
		return -1;
	return 0;
}

static int only_keys(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *val;
	size_t i;

	json_object_foreach(o, k, val) {
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (keys[i] == NULL)
			return 0;
	}
	return 1;
}

static int v_header(struct verifier *v, json_t *o)
{
	static const char *const keys[] = { "format", "version", "exported_at", "exported_by",
					    "after_id", "first_prev_hash", NULL };
	json_t *fp = json_object_get(o, "first_prev_hash");
	json_t *aid = json_object_get(o, "after_id");

	if (!json_is_string(json_object_get(o, "format")) ||
	    strcmp(json_string_value(json_object_get(o, "format")), FORMAT_NAME) != 0)
		return broken(v, "not an nrfca audit archive (the first line has no \"format\": \""
			      FORMAT_NAME "\")");
	if (json_integer_value(json_object_get(o, "version")) != FORMAT_VERSION ||
	    !json_is_integer(json_object_get(o, "version")))
		return broken(v, "archive format version %lld; this program reads version %d",
			      (long long)json_integer_value(json_object_get(o, "version")),
			      FORMAT_VERSION);
	if (!only_keys(o, keys))
		return broken(v, "the header has an unknown key");
	if (!json_is_integer(aid) || json_integer_value(aid) < 0 ||
	    json_integer_value(aid) > (json_int_t)1 << 62)
		return broken(v, "the header's after_id is not a whole number >= 0");
	v->r->after_id = (long long)json_integer_value(aid);
	v->next_id = v->r->after_id + 1;
	if (fp == NULL || json_is_null(fp)) {
		v->has_prev = 0;
	} else if (get_hash(o, "first_prev_hash", v->prev) == 0) {
		v->has_prev = 1;
	} else {
		return broken(v, "the header's first_prev_hash is not 64 hex digits");
	}
	if (v->r->after_id == 0) {
		static const unsigned char zero[32];

		if (v->has_prev && memcmp(v->prev, zero, 32) != 0)
			return broken(v, "an archive from the first entry must start from 32 zero bytes");
		memset(v->prev, 0, 32);
		v->has_prev = 1;
	}
	v->r->has_first_prev = v->has_prev;
	memcpy(v->r->first_prev, v->prev, 32);
	v->st = V_BODY;
	return 0;
}

static int v_trailer(struct verifier *v, json_t *o)
{
	static const char *const keys[] = { "entries", "last_id", "last_hash", NULL };
	unsigned char lh[32];
	json_t *h = json_object_get(o, "last_hash");

	if (!only_keys(o, keys) || !json_is_integer(json_object_get(o, "entries")) ||
	    !json_is_integer(json_object_get(o, "last_id")))
		return broken(v, "malformed trailer");
	if (json_integer_value(json_object_get(o, "entries")) != v->r->entries)
		return broken(v, "the trailer counts %lld entries, the archive holds %lld",
			      (long long)json_integer_value(json_object_get(o, "entries")),
			      v->r->entries);
	if (v->r->entries > 0 &&
	    (json_integer_value(json_object_get(o, "last_id")) != v->r->last_id ||
	     get_hash(o, "last_hash", lh) != 0 || memcmp(lh, v->r->last_hash, 32) != 0))
		return broken(v, "the trailer does not name the last entry and its hash");
	if (v->r->entries == 0 && h != NULL && !json_is_null(h))
		return broken(v, "the trailer of an empty archive names a hash");
	v->st = V_DONE;
	return 0;
}

static int v_entry(struct verifier *v, json_t *o)
{
	static const char *const keys[] = { "id", "at", "time", "actor", "event", "detail",
					    "prev_hash", "hash", NULL };
	struct ledger_audit_entry e;
	unsigned char want[32];

	memset(&e, 0, sizeof(e));
	if (json_object_get(o, "id") == NULL && json_object_get(o, "entries") != NULL)
		return v_trailer(v, o);
	if (!only_keys(o, keys) || !json_is_integer(json_object_get(o, "id")) ||
	    !json_is_integer(json_object_get(o, "at")) ||
	    !json_is_string(json_object_get(o, "actor")) ||
	    !json_is_string(json_object_get(o, "event")) ||
	    !json_is_string(json_object_get(o, "detail")) || get_hash(o, "prev_hash", e.prev_hash) ||
	    get_hash(o, "hash", e.hash))
		return broken(v, "malformed entry (id, at, actor, event, detail, prev_hash, hash)");
	e.id = (long long)json_integer_value(json_object_get(o, "id"));
	e.at = (long long)json_integer_value(json_object_get(o, "at"));
	e.actor = json_string_value(json_object_get(o, "actor"));
	e.event = json_string_value(json_object_get(o, "event"));
	e.detail = json_string_value(json_object_get(o, "detail"));
	if (strlen(e.actor) != json_string_length(json_object_get(o, "actor")) ||
	    strlen(e.event) != json_string_length(json_object_get(o, "event")) ||
	    strlen(e.detail) != json_string_length(json_object_get(o, "detail")))
		return broken(v, "entry %lld holds a NUL character", e.id);
	if (e.id != v->next_id)
		return broken(v, "entry %lld where entry %lld was expected (an entry is missing or "
			      "out of order)", e.id, v->next_id);
	if (v->has_prev && memcmp(e.prev_hash, v->prev, 32) != 0)
		return broken(v, "entry %lld does not link to the entry before it (prev_hash)", e.id);
	if (ledger_audit_entry_hash(&e, want) != 0)
		return broken(v, "cannot compute a hash");
	if (memcmp(want, e.hash, 32) != 0)
		return broken(v, "entry %lld: hash does not match its contents", e.id);
	if (v->r->entries == 0)
		v->r->first_id = e.id;
	v->r->entries++;
	v->r->last_id = e.id;
	v->r->has_last = 1;
	memcpy(v->r->last_hash, e.hash, 32);
	memcpy(v->prev, e.hash, 32);
	v->has_prev = 1;
	v->next_id = e.id + 1;
	return 0;
}

/* One line (without its LF).  0 go on, 1 broken. */
static int v_line(struct verifier *v, const char *line, size_t len)
{
	json_error_t je;
	json_t *o;
	int rc;

	v->r->line++;
	if (v->st == V_DONE)
		return broken(v, "text after the trailer");
	if (len > AUDIT_ARCHIVE_LINE_MAX)
		return broken(v, "a line longer than %u bytes", AUDIT_ARCHIVE_LINE_MAX);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return broken(v, "not a JSON object: %s", o ? "" : je.text);
	}
	rc = v->st == V_HEADER ? v_header(v, o) : v_entry(v, o);
	json_decref(o);
	return rc;
}

static int v_finish(struct verifier *v)
{
	if (v->st == V_HEADER)
		return broken(v, "empty archive (no header)");
	if (v->st != V_DONE) {
		v->r->line++;
		return broken(v, "the archive ends without its trailer (truncated?)");
	}
	v->r->line = 0;
	v->r->why[0] = '\0';
	return 0;
}

int audit_archive_verify_buf(const char *buf, size_t len, struct audit_archive_result *r)
{
	struct verifier v = { V_HEADER, r, 0, { 0 }, 0 };
	const char *p = buf, *end = buf + len, *nl;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			r->line++;
			return broken(&v, "the last line has no line feed (truncated?)");
		}
		if (v_line(&v, p, (size_t)(nl - p)) != 0)
			return 1;
		p = nl + 1;
	}
	return v_finish(&v);
}

int audit_archive_verify(FILE *in, struct audit_archive_result *r, struct nrfca_err *err)
{
	struct verifier v = { V_HEADER, r, 0, { 0 }, 0 };
	char *line = malloc(AUDIT_ARCHIVE_LINE_MAX + 2);
	size_t n;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (line == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	while (rc == 0 && fgets(line, AUDIT_ARCHIVE_LINE_MAX + 2, in) != NULL) {
		n = strlen(line);
		if (n == 0 || line[n - 1] != '\n') {
			r->line++;
			if (feof(in))
				rc = broken(&v, "the last line has no line feed (truncated?)");
			else
				rc = broken(&v, "a line longer than %u bytes, or a NUL byte",
					    AUDIT_ARCHIVE_LINE_MAX);
			break;
		}
		rc = v_line(&v, line, n - 1);
	}
	if (rc == 0 && ferror(in))
		rc = nrfca_err_set(err, NRFCA_E_IO, "cannot read the archive");
	else if (rc == 0)
		rc = v_finish(&v);
	free(line);
	return rc;
}
