/* nrfcloud.c - nRF Cloud REST calls (onboarding, public keys, bulk ops) and answer parsers. */
#include "nrfcloud.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "httpc.h"

struct nrfcloud {
	char *endpoint;   /* without a trailing slash */
	int plain_http;   /* endpoint is http:// (a loopback test server) */
	char *auth;       /* "Authorization: Bearer <key>" (wiped) */
	struct nrfca_http *http;
};

static const char *const status_names[NRFCLOUD_STATUS_MAX] = {
	[NRFCLOUD_PENDING] = "PENDING", [NRFCLOUD_IN_PROGRESS] = "IN_PROGRESS",
	[NRFCLOUD_SUCCEEDED] = "SUCCEEDED", [NRFCLOUD_FAILED] = "FAILED",
};

static const char *const outcome_names[NRFCLOUD_OUTCOME_MAX] = {
	[NRFCLOUD_OK] = "ok", [NRFCLOUD_REFUSED] = "refused", [NRFCLOUD_AUTH] = "auth",
	[NRFCLOUD_UNREACHABLE] = "unreachable", [NRFCLOUD_BAD_ANSWER] = "bad-answer",
	[NRFCLOUD_CONFIG] = "config",
};

static const struct {
	const char *path;        /* under /v1 */
	const char *what;
} uploads[NRFCLOUD_UPLOAD_KIND_MAX] = {
	[NRFCLOUD_ONBOARD_DEVICES] = { "/v1/devices", "onboarding" },
	[NRFCLOUD_REGISTER_PUBLIC_KEYS] = { "/v1/devices/public-keys", "public key registration" },
};

static const struct {
	const char *stage, *url;
} stages[] = {
	{ "prod", "https://api.nrfcloud.com" },
	{ "beta", "https://api.beta.nrfcloud.com" },
	{ "dev", "https://api.dev.nrfcloud.com" },
};

const char *nrfcloud_status_name(enum nrfcloud_status s)
{
	return (unsigned)s < NRFCLOUD_STATUS_MAX ? status_names[s] : "UNKNOWN";
}

const char *nrfcloud_outcome_name(enum nrfcloud_outcome o)
{
	return (unsigned)o < NRFCLOUD_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

const char *nrfcloud_stage_endpoint(const char *stage)
{
	size_t i;

	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (strcmp(stage, stages[i].stage) == 0)
			return stages[i].url;
	return NULL;
}

int nrfcloud_create(const struct nrfcloud_opts *o, struct nrfcloud **out, struct nrfca_err *e)
{
	struct nrfca_http_opts ho = {
		.ca_bundle = o->ca_bundle, .connect_timeout_ms = 10000, .timeout_ms = 120000,
		.attempts = o->attempts ? o->attempts : 8,
		.backoff_ms = o->backoff_ms ? o->backoff_ms : 1000,
		.max_wait_ms = o->max_wait_ms ? o->max_wait_ms : 30000,
		.budget_ms = 600000, .notify = o->notify, .notify_ctx = o->notify_ctx,
	};
	const char *ep = o->endpoint ? o->endpoint : NRFCLOUD_DEFAULT_ENDPOINT;
	struct nrfcloud *c;
	char why[300];
	size_t n;

	if (o->api_key_file == NULL)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no nRF Cloud API key file (--api-key-file)");
	if (strlen(ep) > 512 || !nrfca_http_url_safe(ep, why, sizeof(why)))
		return nrfca_err_set(e, NRFCA_E_CONFIG, "nRF Cloud endpoint: %s",
				     why[0] ? why : "URL too long");
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->endpoint = strdup(ep)) == NULL) {
		free(c);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	if (n >= 3 && strcmp(c->endpoint + n - 3, "/v1") == 0) {
		nrfcloud_free(c);
		return nrfca_err_set(e, NRFCA_E_CONFIG, "nRF Cloud endpoint %s: give the base URL "
				     "without /v1 (e.g. %s)", ep, NRFCLOUD_DEFAULT_ENDPOINT);
	}
	c->plain_http = strncasecmp(c->endpoint, "http://", 7) == 0;
	if (nrfca_http_read_bearer(o->api_key_file, "API key file", 1, &c->auth, e) != 0 ||
	    nrfca_http_create(&ho, &c->http, e) != 0) {
		nrfcloud_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void nrfcloud_free(struct nrfcloud *c)
{
	if (c == NULL)
		return;
	nrfca_http_secret_free(c->auth);
	nrfca_http_free(c->http);
	free(c->endpoint);
	free(c);
}

const char *nrfcloud_endpoint(const struct nrfcloud *c)
{
	return c->endpoint;
}

/* ---- parsers ---- */

static json_t *load_object(const char *body, size_t len, const char *what, struct nrfca_err *e)
{
	json_error_t je;
	json_t *j;

	if (body == NULL || len == 0) {
		nrfca_err_set(e, NRFCA_E_INPUT, "%s is empty", what);
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "%s is not a JSON object%s%.80s", what,
			      j == NULL ? ": " : "", j == NULL ? je.text : "");
		json_decref(j);
		return NULL;
	}
	return j;
}

int nrfcloud_parse_accepted(const char *body, size_t len, char id[NRFCLOUD_ID_MAX + 1],
			    struct nrfca_err *e)
{
	json_t *j = load_object(body, len, "nRF Cloud's 202 answer", e), *v;
	const char *s;
	size_t n, i;
	int rc = -1;

	if (j == NULL)
		return -1;
	v = json_object_get(j, "bulkOpsRequestId");
	if (!json_is_string(v)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's 202 answer has no bulkOpsRequestId");
		goto out;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > NRFCLOUD_ID_MAX) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's bulkOpsRequestId has %zu characters "
			      "(1..%u expected)", n, NRFCLOUD_ID_MAX);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') {
			nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's bulkOpsRequestId holds a "
				      "character other than letters, digits, '-' and '_'");
			goto out;
		}
	memcpy(id, s, n);
	id[n] = '\0';
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void nrfcloud_bulk_clear(struct nrfcloud_bulk *b)
{
	free(b->error_summary_url);
	memset(b, 0, sizeof(*b));
}

int nrfcloud_parse_bulk(const char *body, size_t len, struct nrfcloud_bulk *b,
			struct nrfca_err *e)
{
	json_t *j = load_object(body, len, "nRF Cloud's bulk operation status", e), *v;
	const char *s;
	size_t n, i;
	int st, rc = -1;

	memset(b, 0, sizeof(*b));
	if (j == NULL)
		return -1;
	v = json_object_get(j, "status");
	if (!json_is_string(v)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's bulk operation status has no status");
		goto out;
	}
	for (st = 0; st < NRFCLOUD_STATUS_MAX; st++)
		if (strcmp(json_string_value(v), status_names[st]) == 0)
			break;
	if (st == NRFCLOUD_STATUS_MAX) {
		char shown[40];

		snprintf(shown, sizeof(shown), "%s", json_string_value(v));
		for (i = 0; shown[i]; i++)
			if (!isprint((unsigned char)shown[i]))
				shown[i] = '?';
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud reports an unknown bulk operation "
			      "status '%s'", shown);
		goto out;
	}
	b->status = (enum nrfcloud_status)st;
	v = json_object_get(j, "errorSummaryUrl");
	if (b->status == NRFCLOUD_FAILED && json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		if (n == 0 || n > NRFCLOUD_MAX_URL) {
			nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's errorSummaryUrl has %zu "
				      "characters (1..%u expected)", n, NRFCLOUD_MAX_URL);
			goto out;
		}
		for (i = 0; i < n; i++)
			if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
				nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's errorSummaryUrl holds "
					      "white space or non-ASCII characters");
				goto out;
			}
		b->error_summary_url = strdup(s);
		if (b->error_summary_url == NULL) {
			nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

long nrfcloud_error_row(long index, size_t rows)
{
	return index >= 0 && (size_t)index < rows ? index : -1;
}

/* A printable copy of s (control characters become spaces, ends trimmed). */
static char *printable(const char *s, size_t n)
{
	char *out;
	size_t a = 0, b = n, i;

	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	out = malloc(b - a + 1);
	if (out == NULL)
		return NULL;
	for (i = a; i < b; i++)
		out[i - a] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[b - a] = '\0';
	return out;
}

/* "[<index>]: <message>" -> index and the offset of the message; -1 otherwise. */
static int split_entry(const char *s, size_t n, long *index, size_t *msg)
{
	size_t i = 0, digits = 0;
	long v = 0;

	if (n == 0 || s[0] != '[')
		return -1;
	for (i = 1; i < n && s[i] == ' '; i++)
		;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (++digits > 9)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	while (i < n && s[i] == ' ')
		i++;
	if (digits == 0 || i + 1 >= n || s[i] != ']' || s[i + 1] != ':')
		return -1;
	*index = v;
	*msg = i + 2;
	return 0;
}

void nrfcloud_row_errors_free(struct nrfcloud_row_error *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].message);
	free(v);
}

int nrfcloud_parse_error_summary(const char *body, size_t len, size_t rows,
				 struct nrfcloud_row_error **out, size_t *nout, struct nrfca_err *e)
{
	json_t *j = load_object(body, len, "nRF Cloud's error summary", e), *arr;
	struct nrfcloud_row_error *v = NULL;
	size_t n = 0, i;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	if (j == NULL)
		return -1;
	arr = json_object_get(j, "errors");
	if (!json_is_array(arr)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's error summary has no \"errors\" list");
		goto out;
	}
	n = json_array_size(arr);
	if (n > NRFCLOUD_MAX_ERRORS) {
		nrfca_err_set(e, NRFCA_E_TOO_LARGE, "nRF Cloud's error summary lists %zu errors "
			      "(at most %u are read)", n, NRFCLOUD_MAX_ERRORS);
		goto out;
	}
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *it = json_array_get(arr, i);
		const char *s;
		size_t sl, m = 0;
		long idx = -1;

		if (!json_is_string(it)) {
			nrfca_err_set(e, NRFCA_E_INPUT, "entry %zu of nRF Cloud's error summary is "
				      "not a string", i + 1);
			goto out;
		}
		s = json_string_value(it);
		sl = json_string_length(it);
		v[i].row = -1;
		if (split_entry(s, sl, &idx, &m) == 0)
			v[i].row = nrfcloud_error_row(idx, rows);
		else
			m = 0;
		if (sl - m > NRFCLOUD_MAX_MESSAGE) {
			char note[96];

			snprintf(note, sizeof(note), "nRF Cloud's message for this row is %zu bytes "
				 "long (over %u; not shown)", sl - m, NRFCLOUD_MAX_MESSAGE);
			v[i].message = strdup(note);
		} else {
			v[i].message = printable(s + m, sl - m);
		}
		if (v[i].message == NULL) {
			nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
			goto out;
		}
		if (v[i].message[0] == '\0') {
			free(v[i].message);
			if ((v[i].message = strdup("nRF Cloud gave no message")) == NULL) {
				nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
out:
	nrfcloud_row_errors_free(v, n);
	json_decref(j);
	return rc;
}

/* ---- calls ---- */

/* nRF Cloud's own message from an error answer ({"message": ...}), printable. */
static void cloud_message(const struct nrfca_http_answer *a, char *out, size_t cap)
{
	json_error_t je;
	json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
	json_t *m = json_object_get(j, "message");
	size_t i;

	snprintf(out, cap, "%s", json_is_string(m) ? json_string_value(m) : "no message given");
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	json_decref(j);
}

static enum nrfcloud_outcome from_http(enum nrfca_http_outcome ho)
{
	switch (ho) {
	case NRFCA_HTTP_ANSWERED:
		return NRFCLOUD_OK;
	case NRFCA_HTTP_CONFIG:
		return NRFCLOUD_CONFIG;
	case NRFCA_HTTP_TOO_LARGE:
		return NRFCLOUD_BAD_ANSWER;
	default:
		return NRFCLOUD_UNREACHABLE;
	}
}

/* A definitive answer that is not the expected status. */
static enum nrfcloud_outcome refused(const struct nrfca_http_answer *a, const char *what,
				     struct nrfca_err *e)
{
	char m[300];

	cloud_message(a, m, sizeof(m));
	if (a->status == 401 || a->status == 403) {
		nrfca_err_set(e, NRFCA_E_POLICY, "nRF Cloud refused the API key (HTTP %ld: %s) "
			      "for %s; check --api-key-file: it must hold the API key of the team "
			      "that is to own the devices", a->status, m, what);
		return NRFCLOUD_AUTH;
	}
	if (a->status >= 400 && a->status < 500) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud refused %s (HTTP %ld: %s)", what,
			      a->status, m);
		return NRFCLOUD_REFUSED;
	}
	nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud answered HTTP %ld to %s", a->status, what);
	return NRFCLOUD_BAD_ANSWER;
}

/* The Content-Type of an upload.  nRF Cloud's documentation of OnboardDevices
 * and RegisterPublicKeys names the type "RestApiPayloadContentTypeWithCsv"
 * without listing its values where we could read it, shows curl with
 * application/octet-stream and says the CSV may be sent as text: text/csv,
 * as Nordic's nrf_cloud_onboard sends it, is an assumption kept here only
 * (docs/ONBOARDING.md, "Details the sources do not settle"). */
static const char *upload_content_type(enum nrfcloud_upload_kind kind)
{
	(void)kind;
	return "text/csv";
}

enum nrfcloud_outcome nrfcloud_upload(struct nrfcloud *c, enum nrfcloud_upload_kind kind,
				      const char *csv, size_t len,
				      void (*progress)(void *ctx, size_t sent, size_t total),
				      void *progress_ctx, char id[NRFCLOUD_ID_MAX + 1],
				      struct nrfca_err *e)
{
	struct nrfca_http_answer a;
	struct nrfca_http_req rq = {
		.method = "POST", .auth = c->auth, .content_type = upload_content_type(kind),
		.accept = "application/json", .body = csv, .body_len = len,
		.max_answer = NRFCLOUD_MAX_ANSWER, .peer = "nRF Cloud", .progress = progress,
		.progress_ctx = progress_ctx,
	};
	enum nrfcloud_outcome r;
	char url[640];

	snprintf(url, sizeof(url), "%s%s", c->endpoint, uploads[kind].path);
	rq.url = url;
	r = from_http(nrfca_http_request(c->http, &rq, &a, e));
	if (r == NRFCLOUD_OK && a.status != 202)
		r = refused(&a, uploads[kind].what, e);
	if (r == NRFCLOUD_OK && nrfcloud_parse_accepted(a.body, a.len, id, e) != 0)
		r = NRFCLOUD_BAD_ANSWER;
	nrfca_http_answer_clear(&a);
	return r;
}

enum nrfcloud_outcome nrfcloud_bulk_status(struct nrfcloud *c, const char *id,
					   struct nrfcloud_bulk *b, struct nrfca_err *e)
{
	struct nrfca_http_answer a;
	struct nrfca_http_req rq = {
		.method = "GET", .auth = c->auth, .accept = "application/json",
		.max_answer = NRFCLOUD_MAX_ANSWER, .peer = "nRF Cloud",
	};
	enum nrfcloud_outcome r;
	char url[640];

	memset(b, 0, sizeof(*b));
	snprintf(url, sizeof(url), "%s/v1/bulk-ops-requests/%s", c->endpoint, id);
	rq.url = url;
	r = from_http(nrfca_http_request(c->http, &rq, &a, e));
	if (r == NRFCLOUD_OK && a.status != 200)
		r = refused(&a, "the bulk operation status request", e);
	if (r == NRFCLOUD_OK && nrfcloud_parse_bulk(a.body, a.len, b, e) != 0)
		r = NRFCLOUD_BAD_ANSWER;
	nrfca_http_answer_clear(&a);
	return r;
}

enum nrfcloud_outcome nrfcloud_error_summary(struct nrfcloud *c, const char *url, size_t rows,
					     struct nrfcloud_row_error **v, size_t *n,
					     struct nrfca_err *e)
{
	struct nrfca_http_answer a;
	struct nrfca_http_req rq = {
		.method = "GET", .url = url, .auth = NULL, .accept = "application/json",
		.max_answer = NRFCLOUD_MAX_SUMMARY, .peer = "nRF Cloud's error summary host",
	};
	enum nrfcloud_outcome r;
	char why[300];

	*v = NULL;
	*n = 0;
	/* An https API only ever sends us to https; http only in tests on loopback. */
	if (!nrfca_http_url_safe(url, why, sizeof(why)) ||
	    (!c->plain_http && strncasecmp(url, "https://", 8) != 0)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "nRF Cloud's errorSummaryUrl is refused: %s",
			      why[0] ? why : "not https://");
		return NRFCLOUD_BAD_ANSWER;
	}
	r = from_http(nrfca_http_request(c->http, &rq, &a, e));
	if (r == NRFCLOUD_OK && a.status != 200) {
		nrfca_err_set(e, NRFCA_E_INPUT, "the error summary could not be read (HTTP %ld)",
			      a.status);
		r = NRFCLOUD_BAD_ANSWER;
	}
	if (r == NRFCLOUD_OK && nrfcloud_parse_error_summary(a.body, a.len, rows, v, n, e) != 0)
		r = NRFCLOUD_BAD_ANSWER;
	nrfca_http_answer_clear(&a);
	return r;
}

enum nrfcloud_outcome nrfcloud_check_key(struct nrfcloud *c, struct nrfca_err *e)
{
	struct nrfca_http_answer a;
	struct nrfca_http_req rq = {
		.method = "GET", .auth = c->auth, .accept = "application/json",
		.max_answer = NRFCLOUD_MAX_ANSWER, .peer = "nRF Cloud",
	};
	enum nrfcloud_outcome r;
	char url[640];

	snprintf(url, sizeof(url), "%s/v1/account", c->endpoint);
	rq.url = url;
	r = from_http(nrfca_http_request_once(c->http, &rq, &a, e));
	if (r == NRFCLOUD_OK && a.status != 200)
		r = refused(&a, "the API key check (GET /v1/account)", e);
	nrfca_http_answer_clear(&a);
	return r;
}

enum nrfcloud_outcome nrfcloud_device_exists(struct nrfcloud *c, const char *device_id,
					     int *exists, struct nrfca_err *e)
{
	struct nrfca_http_answer a;
	struct nrfca_http_req rq = {
		.method = "GET", .auth = c->auth, .accept = "application/json",
		.max_answer = NRFCLOUD_MAX_ANSWER, .peer = "nRF Cloud",
	};
	enum nrfcloud_outcome r;
	char url[640];
	size_t i, n = strlen(device_id);

	*exists = 0;
	if (n == 0 || n > NRFCLOUD_DEVICE_ID_MAX)
		return nrfca_err_set(e, NRFCA_E_INPUT, "device id of %zu characters", n),
		       NRFCLOUD_BAD_ANSWER;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)device_id[i]) && device_id[i] != ':' &&
		    device_id[i] != '_' && device_id[i] != '-')
			return nrfca_err_set(e, NRFCA_E_INPUT, "device id '%.64s' is not "
					     "[A-Za-z0-9:_-]", device_id), NRFCLOUD_BAD_ANSWER;
	snprintf(url, sizeof(url), "%s/v1/devices/%s", c->endpoint, device_id);
	rq.url = url;
	r = from_http(nrfca_http_request(c->http, &rq, &a, e));
	if (r == NRFCLOUD_OK) {
		if (a.status == 200)
			*exists = 1;
		else if (a.status != 404)
			r = refused(&a, "the device check (GET /v1/devices/{id})", e);
	}
	nrfca_http_answer_clear(&a);
	return r;
}
