/* caclient.c - libcurl client to nrfca-server with retries and bounded answers. */
#include "caclient.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

struct nrfca_ca {
	char *url;
	char *auth;        /* "Authorization: Bearer <secret>" (wiped) */
	size_t auth_len;
	char *ca_bundle;
	long connect_timeout_ms, timeout_ms;
	unsigned attempts, backoff_ms, max_wait_ms;
	unsigned long budget_ms;
	void (*notify)(void *ctx, const char *msg);
	void *notify_ctx;
};

struct body_buf {
	char *data;
	size_t len;
	int over;
	long retry_after;
};

static const char *const outcome_names[NRFCA_CA_OUTCOME_MAX] = {
	[NRFCA_CA_OK] = "ok", [NRFCA_CA_REFUSED] = "refused",
	[NRFCA_CA_UNREACHABLE] = "unreachable", [NRFCA_CA_BAD_ANSWER] = "bad-answer",
};

const char *nrfca_ca_outcome_name(enum nrfca_ca_outcome o)
{
	return (unsigned)o < NRFCA_CA_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

long nrfca_ca_parse_retry_after(const char *v)
{
	long n = 0;
	size_t i = 0;

	if (v == NULL)
		return -1;
	while (v[i] == ' ' || v[i] == '\t')
		i++;
	if (!isdigit((unsigned char)v[i]))
		return -1;
	for (; isdigit((unsigned char)v[i]); i++) {
		if (n > 100000)
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	while (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')
		i++;
	return v[i] == '\0' ? n : -1;
}

static int read_token(const char *path, char **out, size_t *outlen, struct nrfca_err *e)
{
	char buf[NRFCA_CA_MAX_TOKEN + 2];
	struct stat st;
	size_t n = 0, a, b, i;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open the token file %s: %s", path,
				     strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		nrfca_err_set(e, NRFCA_E_IO, "token file %s is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot read the token file %s: %s", path,
				      strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > NRFCA_CA_MAX_TOKEN) {
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "token file %s is over %u bytes", path,
				      NRFCA_CA_MAX_TOKEN);
			goto out;
		}
	}
	buf[n] = '\0';
	for (a = 0; a < n && isspace((unsigned char)buf[a]); a++)
		;
	for (b = n; b > a && isspace((unsigned char)buf[b - 1]); b--)
		;
	if (a == b) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "token file %s is empty", path);
		goto out;
	}
	for (i = a; i < b; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "token file %s holds more than one "
				      "printable word (white space or control characters inside)",
				      path);
			goto out;
		}
	*out = malloc(b - a + 32);
	if (*out == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	*outlen = (size_t)snprintf(*out, b - a + 32, "Authorization: Bearer %.*s",
				   (int)(b - a), buf + a);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int nrfca_ca_token_check(const char *path, struct nrfca_err *e)
{
	char *auth = NULL;
	size_t len = 0;

	if (read_token(path, &auth, &len, e) != 0)
		return -1;
	OPENSSL_cleanse(auth, len);
	free(auth);
	return 0;
}

int nrfca_ca_create(const struct nrfca_ca_opts *o, struct nrfca_ca **out, struct nrfca_err *e)
{
	static int curl_ready;
	struct nrfca_ca *ca;
	size_t ul;

	if (o->url == NULL || o->url[0] == '\0')
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no CA server URL (--server or "
				     "server= in the station config)");
	if (strncmp(o->url, "https://", 8) != 0 && strncmp(o->url, "http://", 7) != 0)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "CA server URL '%.100s' must start with "
				     "https:// (or http:// for a server on this machine)", o->url);
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return nrfca_err_set(e, NRFCA_E_INTERNAL, "libcurl failed to initialise");
		curl_ready = 1;
	}
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	ca->url = strdup(o->url);
	if (ca->url == NULL)
		goto nomem;
	ul = strlen(ca->url);
	while (ul > 0 && ca->url[ul - 1] == '/')
		ca->url[--ul] = '\0';
	if (o->ca_bundle != NULL && (ca->ca_bundle = strdup(o->ca_bundle)) == NULL)
		goto nomem;
	if (o->token_file != NULL && read_token(o->token_file, &ca->auth, &ca->auth_len, e) != 0) {
		nrfca_ca_free(ca);
		return -1;
	}
	ca->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	ca->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
	ca->attempts = o->attempts > 0 ? o->attempts : 10;
	ca->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 500;
	ca->max_wait_ms = o->max_wait_ms > 0 ? o->max_wait_ms : 8000;
	ca->budget_ms = o->budget_ms > 0 ? o->budget_ms : 120000;
	ca->notify = o->notify;
	ca->notify_ctx = o->notify_ctx;
	*out = ca;
	return 0;
nomem:
	nrfca_ca_free(ca);
	return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
}

void nrfca_ca_free(struct nrfca_ca *ca)
{
	if (ca == NULL)
		return;
	if (ca->auth != NULL) {
		OPENSSL_cleanse(ca->auth, ca->auth_len);
		free(ca->auth);
	}
	free(ca->url);
	free(ca->ca_bundle);
	free(ca);
}

void nrfca_ca_answer_clear(struct nrfca_ca_answer *a)
{
	json_decref(a->body);
	memset(a, 0, sizeof(*a));
	a->sec_tag = -1;
	a->error = a->detail = a->rule = "";
}

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct body_buf *b = ctx;
	size_t len = sz * n;
	char *nd;

	if (b->len + len > NRFCA_CA_MAX_RESPONSE) {
		b->over = 1;
		return 0;
	}
	nd = realloc(b->data, b->len + len + 1);
	if (nd == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
	struct body_buf *b = ctx;
	size_t len = sz * n;
	char v[64];

	if (len > 12 && len < 12 + sizeof(v) && strncasecmp(p, "Retry-After:", 12) == 0) {
		memcpy(v, p + 12, len - 12);
		v[len - 12] = '\0';
		b->retry_after = nrfca_ca_parse_retry_after(v);
	}
	return len;
}

static const char *str_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One exchange.  Returns the curl code; *status, body filled. */
static CURLcode exchange(struct nrfca_ca *ca, const char *path, const char *payload,
			 long *status, struct body_buf *b, char *cerr)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL, *h2;
	char url[1024];
	CURLcode rc;

	*status = 0;
	if (c == NULL)
		return CURLE_OUT_OF_MEMORY;
	snprintf(url, sizeof(url), "%s%s", ca->url, path);
	if (payload != NULL && (h2 = curl_slist_append(h, "Content-Type: application/json")) != NULL)
		h = h2;
	h2 = curl_slist_append(h, "Accept: application/json");
	if (h2 != NULL)
		h = h2;
	if (ca->auth != NULL && (h2 = curl_slist_append(h, ca->auth)) != NULL)
		h = h2;
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (payload != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ca->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ca->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca->ca_bundle != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca->ca_bundle);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cerr[0] == '\0')
		snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* One request with retries; payload NULL = GET. */
static enum nrfca_ca_outcome request(struct nrfca_ca *ca, const char *path, const char *payload,
				     struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	char cerr[CURL_ERROR_SIZE + 1];
	double t0 = now_ms();
	unsigned wait = ca->backoff_ms, i;
	enum nrfca_ca_outcome res = NRFCA_CA_UNREACHABLE;

	a->body = NULL;
	nrfca_ca_answer_clear(a);
	for (i = 0; i < ca->attempts; i++) {
		struct body_buf b = { NULL, 0, 0, -1 };
		json_error_t je;
		CURLcode cc;
		long st;
		char why[400];
		unsigned long this_wait;

		a->attempts = i + 1;
		cc = exchange(ca, path, payload, &st, &b, cerr);
		a->status = st;
		if (cc == CURLE_WRITE_ERROR && b.over) {
			free(b.data);
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "the CA's answer to %s is over %u bytes",
				      path, NRFCA_CA_MAX_RESPONSE);
			res = NRFCA_CA_BAD_ANSWER;
			goto out;
		}
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
			/* Not something waiting fixes. */
			free(b.data);
			nrfca_err_set(e, NRFCA_E_CONFIG, "cannot talk to the CA at %s: %s", ca->url,
				      cerr);
			res = NRFCA_CA_UNREACHABLE;
			goto out;
		}
		if (cc != CURLE_OK || st >= 500 || st == 429) {
			if (cc != CURLE_OK)
				snprintf(why, sizeof(why), "%s", cerr);
			else {
				json_t *eb = b.data ? json_loadb(b.data, b.len, 0, &je) : NULL;
				const char *d = eb ? str_field(eb, "detail") : NULL;

				snprintf(why, sizeof(why), "HTTP %ld%s%.200s", st, d ? ": " : "",
					 d ? d : "");
				json_decref(eb);
			}
			free(b.data);
			this_wait = wait;
			if (b.retry_after >= 0)
				this_wait = (unsigned long)b.retry_after * 1000ul;
			if (this_wait > ca->max_wait_ms)
				this_wait = ca->max_wait_ms;
			if (i + 1 >= ca->attempts ||
			    now_ms() - t0 + (double)this_wait > (double)ca->budget_ms) {
				nrfca_err_set(e, NRFCA_E_IO, "CA at %s not reachable after %u "
					      "attempts in %.0f s: %s", ca->url, i + 1,
					      (now_ms() - t0) / 1000.0, why);
				res = NRFCA_CA_UNREACHABLE;
				goto out;
			}
			if (ca->notify != NULL) {
				char msg[520];

				snprintf(msg, sizeof(msg), "retrying in %.1f s, attempt %u of %u: CA "
					 "not available (%s)", (double)this_wait / 1000.0, i + 2,
					 ca->attempts, why);
				ca->notify(ca->notify_ctx, msg);
			}
			usleep((useconds_t)(this_wait * 1000ul));
			wait = wait * 2 > ca->max_wait_ms ? ca->max_wait_ms : wait * 2;
			continue;
		}
		/* A definitive answer. */
		a->body = b.data ? json_loadb(b.data, b.len, 0, &je) : NULL;
		free(b.data);
		if (!json_is_object(a->body)) {
			nrfca_err_set(e, NRFCA_E_INPUT, "the CA answered HTTP %ld to %s without a "
				      "JSON object", st, path);
			res = NRFCA_CA_BAD_ANSWER;
			goto out;
		}
		if (st >= 200 && st < 300) {
			json_t *t = json_object_get(a->body, "sec_tag");

			a->serial = str_field(a->body, "serial");
			a->device_id = str_field(a->body, "device_id");
			a->profile = str_field(a->body, "profile");
			a->certificate = str_field(a->body, "certificate");
			a->chain = str_field(a->body, "chain");
			a->trust_bundle = str_field(a->body, "trust_bundle");
			a->not_before = str_field(a->body, "not_before");
			a->not_after = str_field(a->body, "not_after");
			a->sec_tag = json_is_integer(t) ? json_integer_value(t) : -1;
			res = NRFCA_CA_OK;
			goto out;
		}
		a->error = str_field(a->body, "error") ? str_field(a->body, "error") : "";
		a->detail = str_field(a->body, "detail") ? str_field(a->body, "detail") : "";
		a->rule = str_field(a->body, "rule") ? str_field(a->body, "rule") : "";
		a->credential = st == 401 || (st == 403 && strcmp(a->error, "forbidden") == 0);
		if (a->credential)
			nrfca_err_set(e, NRFCA_E_CONFIG, "the CA refused this station's credential "
				      "(HTTP %ld %.40s): %.200s; check the token file", st,
				      a->error[0] ? a->error : "error",
				      a->detail[0] ? a->detail : "no detail given");
		else
			nrfca_err_set(e, st == 403 || st == 409 ? NRFCA_E_POLICY : NRFCA_E_INPUT,
				      "CA refused (HTTP %ld %.40s): %.200s%s%.60s%s", st,
				      a->error[0] ? a->error : "error",
				      a->detail[0] ? a->detail : "no detail given",
				      a->rule[0] ? " [rule " : "", a->rule, a->rule[0] ? "]" : "");
		res = NRFCA_CA_REFUSED;
		goto out;
	}
out:
	return res;
}

enum nrfca_ca_outcome nrfca_ca_post(struct nrfca_ca *ca, const char *path, json_t *body,
				    struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	char *payload = json_dumps(body, JSON_COMPACT);
	enum nrfca_ca_outcome r;

	if (payload == NULL) {
		a->body = NULL;
		nrfca_ca_answer_clear(a);
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		return NRFCA_CA_BAD_ANSWER;
	}
	r = request(ca, path, payload, a, e);
	free(payload);
	return r;
}

enum nrfca_ca_outcome nrfca_ca_get(struct nrfca_ca *ca, const char *path,
				   struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	return request(ca, path, NULL, a, e);
}

enum nrfca_ca_outcome nrfca_ca_enroll(struct nrfca_ca *ca, json_t *body,
				      struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	enum nrfca_ca_outcome r = nrfca_ca_post(ca, "/v1/enroll", body, a, e);

	if (r != NRFCA_CA_OK)
		return r;
	if (a->serial == NULL || a->device_id == NULL || a->certificate == NULL ||
	    a->chain == NULL) {
		nrfca_err_set(e, NRFCA_E_INPUT, "the CA's enrollment answer (HTTP %ld) lacks "
			      "serial, device_id, certificate or chain", a->status);
		return NRFCA_CA_BAD_ANSWER;
	}
	return NRFCA_CA_OK;
}
