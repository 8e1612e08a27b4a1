/* httpc.c - libcurl requests with bounded answers, retries and secret files. */
#include "httpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

struct nrfca_http {
	CURL *c;
	char *ca_bundle;
	char *client_cert, *client_key;
	struct nrfca_http_opts o;
};

struct sink {
	char *data;
	size_t len, max;
	int over;
	long retry_after;
};

struct xfer {
	const struct nrfca_http_req *rq;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

long nrfca_http_parse_retry_after(const char *v)
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

/* ---- secret files ---- */

int nrfca_http_read_bearer(const char *path, const char *what, int require_private,
			   char **header, struct nrfca_err *e)
{
	char buf[NRFCA_HTTP_MAX_SECRET + 2];
	struct stat st;
	size_t n = 0, a, b, i, cap;
	int fd, rc = -1;

	*header = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open the %s %s: %s", what, path,
				     strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		nrfca_err_set(e, NRFCA_E_IO, "%s %s is not a regular file", what, path);
		goto out;
	}
	if (require_private && (st.st_mode & 077) != 0) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "%s %s has mode %04o: it holds a secret and "
			      "must be readable by its owner only (chmod 600 %s)", what, path,
			      (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot read the %s %s: %s", what, path,
				      strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > NRFCA_HTTP_MAX_SECRET) {
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s %s is over %u bytes", what, path,
				      NRFCA_HTTP_MAX_SECRET);
			goto out;
		}
	}
	buf[n] = '\0';
	for (a = 0; a < n && isspace((unsigned char)buf[a]); a++)
		;
	for (b = n; b > a && isspace((unsigned char)buf[b - 1]); b--)
		;
	if (a == b) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "%s %s is empty", what, path);
		goto out;
	}
	for (i = a; i < b; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "%s %s holds more than one printable word "
				      "(white space or control characters inside)", what, path);
			goto out;
		}
	cap = b - a + 32;
	*header = malloc(cap);
	if (*header == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(*header, cap, "Authorization: Bearer %.*s", (int)(b - a), buf + a);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

void nrfca_http_secret_free(char *header)
{
	if (header == NULL)
		return;
	OPENSSL_cleanse(header, strlen(header));
	free(header);
}

/* ---- URLs ---- */

int nrfca_http_url_safe(const char *url, char *why, size_t cap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	why[0] = '\0';
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, cap, "'%.100s' is not a URL", url);
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0) {
		ok = 1;
	} else if (strcasecmp(scheme, "http") == 0) {
		ok = strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
		     strncmp(host, "127.", 4) == 0;
		if (!ok)
			snprintf(why, cap, "http:// to %.100s would send secrets in the clear; use "
				 "https:// (http:// only for a server on this machine)", host);
	} else {
		snprintf(why, cap, "'%.100s' is not an http(s) URL", url);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* ---- handle ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == 0;
}

int nrfca_http_create(const struct nrfca_http_opts *o, struct nrfca_http **out,
		      struct nrfca_err *e)
{
	struct nrfca_http *h;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_ready)
		return nrfca_err_set(e, NRFCA_E_INTERNAL, "libcurl failed to initialise");
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	h->o = *o;
	h->o.ca_bundle = h->o.client_cert = h->o.client_key = NULL;
	h->c = curl_easy_init();
	if (h->c == NULL || (o->ca_bundle != NULL && (h->ca_bundle = strdup(o->ca_bundle)) == NULL)) {
		nrfca_http_free(h);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	if (o->client_cert != NULL) {
		const char *key = o->client_key ? o->client_key : o->client_cert;

		if (access(o->client_cert, R_OK) != 0 || access(key, R_OK) != 0) {
			nrfca_http_free(h);
			return nrfca_err_set(e, NRFCA_E_IO, "cannot read the client certificate %s "
					     "or its key %s", o->client_cert, key);
		}
		if ((h->client_cert = strdup(o->client_cert)) == NULL ||
		    (h->client_key = strdup(key)) == NULL) {
			nrfca_http_free(h);
			return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		}
	}
	if (h->o.connect_timeout_ms <= 0)
		h->o.connect_timeout_ms = 5000;
	if (h->o.timeout_ms <= 0)
		h->o.timeout_ms = 30000;
	if (h->o.attempts == 0)
		h->o.attempts = 10;
	if (h->o.backoff_ms == 0)
		h->o.backoff_ms = 500;
	if (h->o.max_wait_ms == 0)
		h->o.max_wait_ms = 8000;
	if (h->o.budget_ms == 0)
		h->o.budget_ms = 120000;
	*out = h;
	return 0;
}

void nrfca_http_free(struct nrfca_http *h)
{
	if (h == NULL)
		return;
	if (h->c != NULL)
		curl_easy_cleanup(h->c);
	free(h->ca_bundle);
	free(h->client_cert);
	free(h->client_key);
	free(h);
}

void nrfca_http_answer_clear(struct nrfca_http_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* ---- one exchange ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct sink *b = ctx;
	size_t len = sz * n;
	char *nd;

	if (len > b->max || b->len > b->max - len) {
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
	struct sink *b = ctx;
	size_t len = sz * n;
	char v[64];

	if (len > 12 && len < 12 + sizeof(v) && strncasecmp(p, "Retry-After:", 12) == 0) {
		memcpy(v, p + 12, len - 12);
		v[len - 12] = '\0';
		b->retry_after = nrfca_http_parse_retry_after(v);
	}
	return len;
}

static int on_xfer(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		   curl_off_t ulnow)
{
	struct xfer *x = ctx;

	(void)dltotal;
	(void)dlnow;
	if (ultotal > 0)
		x->rq->progress(x->rq->progress_ctx, (size_t)ulnow, (size_t)ultotal);
	return 0;
}

static CURLcode exchange(struct nrfca_http *h, const struct nrfca_http_req *rq, long *status,
			 struct sink *b, char *cerr)
{
	struct curl_slist *hl = NULL, *h2;
	struct xfer x = { rq };
	char line[160];
	CURL *c = h->c;
	CURLcode rc;

	*status = 0;
	curl_easy_reset(c);
	if (rq->content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
		if ((h2 = curl_slist_append(hl, line)) != NULL)
			hl = h2;
	}
	if (rq->accept != NULL) {
		snprintf(line, sizeof(line), "Accept: %s", rq->accept);
		if ((h2 = curl_slist_append(hl, line)) != NULL)
			hl = h2;
	}
	/* No "Expect: 100-continue" round trip before large uploads. */
	if ((h2 = curl_slist_append(hl, "Expect:")) != NULL)
		hl = h2;
	if (rq->auth != NULL && (h2 = curl_slist_append(hl, rq->auth)) != NULL)
		hl = h2;
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body != NULL ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (rq->progress != NULL) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	if (h->client_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cerr[0] == '\0')
		snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	/* The header list holds the secret: nothing keeps a pointer past here. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return rc;
}

/* "HTTP 503" plus the answer's "detail" (nrfca) or "message" (nRF Cloud). */
static void describe_status(long st, const struct sink *b, char *why, size_t cap)
{
	json_error_t je;
	json_t *eb = b->data != NULL ? json_loadb(b->data, b->len, 0, &je) : NULL;
	json_t *d = json_object_get(eb, "detail");
	size_t i;

	if (!json_is_string(d))
		d = json_object_get(eb, "message");
	snprintf(why, cap, "HTTP %ld%s%.200s", st, json_is_string(d) ? ": " : "",
		 json_is_string(d) ? json_string_value(d) : "");
	for (i = 0; why[i]; i++)
		if ((unsigned char)why[i] < 0x20)
			why[i] = ' ';
	json_decref(eb);
}

enum nrfca_http_outcome nrfca_http_request_once(struct nrfca_http *h,
						const struct nrfca_http_req *rq,
						struct nrfca_http_answer *a, struct nrfca_err *e)
{
	struct nrfca_http_opts keep = h->o;
	enum nrfca_http_outcome r;

	h->o.attempts = 1;
	h->o.connect_timeout_ms = h->o.connect_timeout_ms < 5000 ? h->o.connect_timeout_ms : 5000;
	h->o.timeout_ms = h->o.timeout_ms < 5000 ? h->o.timeout_ms : 5000;
	r = nrfca_http_request(h, rq, a, e);
	h->o = keep;
	return r;
}

enum nrfca_http_outcome nrfca_http_request(struct nrfca_http *h, const struct nrfca_http_req *rq,
					   struct nrfca_http_answer *a, struct nrfca_err *e)
{
	char cerr[CURL_ERROR_SIZE + 1];
	double t0 = now_ms();
	unsigned wait = h->o.backoff_ms, i;
	const char *peer = rq->peer != NULL ? rq->peer : "the server";

	memset(a, 0, sizeof(*a));
	for (i = 0; i < h->o.attempts; i++) {
		struct sink b = { NULL, 0, rq->max_answer, 0, -1 };
		char why[400];
		unsigned long this_wait;
		CURLcode cc;
		long st;

		a->attempts = i + 1;
		cc = exchange(h, rq, &st, &b, cerr);
		a->status = st;
		if (cc == CURLE_WRITE_ERROR && b.over) {
			free(b.data);
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s's answer (HTTP %ld) is over %zu bytes",
				      peer, st, rq->max_answer);
			return NRFCA_HTTP_TOO_LARGE;
		}
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
			free(b.data);
			nrfca_err_set(e, NRFCA_E_CONFIG, "cannot talk to %s: %s", peer, cerr);
			return NRFCA_HTTP_CONFIG;
		}
		if (cc == CURLE_OK && st != 429 && st < 500) {
			a->body = b.data;
			a->len = b.len;
			return NRFCA_HTTP_ANSWERED;
		}
		if (cc != CURLE_OK)
			snprintf(why, sizeof(why), "%s", cerr);
		else
			describe_status(st, &b, why, sizeof(why));
		free(b.data);
		this_wait = wait;
		if (b.retry_after >= 0)
			this_wait = (unsigned long)b.retry_after * 1000ul;
		if (this_wait > h->o.max_wait_ms)
			this_wait = h->o.max_wait_ms;
		if (i + 1 >= h->o.attempts ||
		    now_ms() - t0 + (double)this_wait > (double)h->o.budget_ms) {
			nrfca_err_set(e, NRFCA_E_IO, "%s not reachable after %u attempts in %.0f s: %s",
				      peer, i + 1, (now_ms() - t0) / 1000.0, why);
			return NRFCA_HTTP_UNREACHABLE;
		}
		if (h->o.notify != NULL) {
			char msg[520];

			snprintf(msg, sizeof(msg), "retrying in %.1f s, attempt %u of %u: %s not "
				 "available (%s)", (double)this_wait / 1000.0, i + 2, h->o.attempts,
				 peer, why);
			h->o.notify(h->o.notify_ctx, msg);
		}
		usleep((useconds_t)(this_wait * 1000ul));
		wait = wait * 2 > h->o.max_wait_ms ? h->o.max_wait_ms : wait * 2;
	}
	nrfca_err_set(e, NRFCA_E_IO, "%s not reachable", peer);
	return NRFCA_HTTP_UNREACHABLE;
}
