/*
 * identity.c - ask nRF Cloud's Identity Service whether a modem signed its
 * attestation (identity.h says what and why).
 */
#include "identity.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "secretfile.h"

#define DEFAULT_TIMEOUT_MS 3000u
#define MAX_TIMEOUT_MS 30000u
#define DEFAULT_CACHE_ENTRIES 4096u
#define MAX_CACHE_ENTRIES (1u << 20)
#define DEFAULT_CACHE_SECONDS 3600u
#define DEFAULT_BACKOFF_SECONDS 5u
#define ANSWER_DEPTH_MAX 8
#define REASON_MAX 120

struct slot {
	unsigned char key[32];      /* SHA-256 of the token */
	enum nrfca_identity_verdict verdict;
	char uuid[37];
	uint64_t expires;           /* monotonic seconds; 0 = empty */
};

struct identity {
	char *url;
	char *ca_file;
	char key[IDENTITY_KEY_MAX + 1];
	unsigned timeout_ms, cache_seconds, backoff_seconds;

	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

	pthread_mutex_t mu;         /* cache, back-off, stats */
	struct slot *cache;
	size_t n_slots;
	uint64_t down_until;        /* monotonic seconds */
	int down;                   /* last exchange failed (for one log line per outage) */
	struct identity_stats stats;
};

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* ------------------------------------------------------------------ */
/* the answer (untrusted) */

/* Nesting depth of JSON text, strings skipped; -1 when over the limit. */
static int json_depth_ok(const char *b, size_t len)
{
	size_t i;
	int depth = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		char c = b[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > ANSWER_DEPTH_MAX)
				return 0;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 1;
}

/* A short printable copy of an untrusted string for messages. */
static void printable(const char *s, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && n + 4 < cap && i < REASON_MAX; i++)
		out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0' && n + 4 <= cap) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static unsigned parse_retry_after(const char *h)
{
	unsigned long v = 0;
	size_t i;

	if (h == NULL)
		return 0;
	while (*h == ' ')
		h++;
	for (i = 0; h[i] >= '0' && h[i] <= '9'; i++) {
		if (i == 4)
			return 0;
		v = v * 10 + (unsigned long)(h[i] - '0');
	}
	if (i == 0 || (h[i] != '\0' && h[i] != ' ' && h[i] != '\r'))
		return 0;
	return v > 300 ? 300 : (unsigned)v;
}

static void set_detail(char *detail, size_t dlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_detail(char *detail, size_t dlen, const char *fmt, ...)
{
	va_list ap;

	if (detail == NULL || dlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
}

/* "reason" of an answer object, printable, or "" */
static void reason_of(json_t *o, char *out, size_t cap)
{
	json_t *r = json_is_object(o) ? json_object_get(o, "reason") : NULL;

	out[0] = '\0';
	if (json_is_string(r))
		printable(json_string_value(r), out, cap);
}

enum nrfca_identity_verdict identity_parse_answer(long status, const char *body, size_t len,
						  const char *retry_header, const char *uuid,
						  char *detail, size_t dlen,
						  unsigned *retry_after)
{
	enum nrfca_identity_verdict v = NRFCA_IDENTITY_UNAVAILABLE;
	char reason[REASON_MAX + 8] = "", shown[REASON_MAX + 8];
	json_error_t je;
	json_t *o = NULL, *ver, *u;

	*retry_after = 0;
	if (len > IDENTITY_ANSWER_MAX) {
		set_detail(detail, dlen, "the Identity Service's answer is over %u bytes",
			   IDENTITY_ANSWER_MAX);
		return v;
	}
	if (body != NULL && len > 0 && json_depth_ok(body, len))
		o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	reason_of(o, reason, sizeof(reason));
	switch (status) {
	case 200:
		ver = o != NULL ? json_object_get(o, "verified") : NULL;
		u = o != NULL ? json_object_get(o, "uuid") : NULL;
		if (!json_is_boolean(ver) || (u != NULL && !json_is_string(u))) {
			set_detail(detail, dlen, "the Identity Service's answer is not a verdict "
				   "(a JSON object with \"verified\": true or false)");
			break;
		}
		if (u != NULL && (uuid == NULL || strcasecmp(json_string_value(u), uuid) != 0)) {
			printable(json_string_value(u), shown, sizeof(shown));
			set_detail(detail, dlen, "the Identity Service attributes the token to device "
				   "'%s'", shown);
			v = NRFCA_IDENTITY_FORGED;
			break;
		}
		if (json_is_true(ver)) {
			v = NRFCA_IDENTITY_GENUINE;
			set_detail(detail, dlen, "verified by the Identity Service");
		} else {
			v = NRFCA_IDENTITY_FORGED;
			set_detail(detail, dlen, "the signature does not verify with the device's "
				   "identity key%s%s", reason[0] ? ": " : "", reason);
		}
		break;
	case 404:
		if (o == NULL) {
			set_detail(detail, dlen, "the Identity Service answered HTTP 404 without a "
				   "verdict (is identity_service.url right?)");
			break;
		}
		v = NRFCA_IDENTITY_UNKNOWN_DEVICE;
		set_detail(detail, dlen, "unknown device%s%s", reason[0] ? ": " : "", reason);
		break;
	case 400:
	case 422:
		v = NRFCA_IDENTITY_FORGED;
		set_detail(detail, dlen, "the Identity Service refuses the token (HTTP %ld)%s%s",
			   status, reason[0] ? ": " : "", reason);
		break;
	case 401:
	case 403:
		set_detail(detail, dlen, "the Identity Service refuses nrfca's API key (HTTP %ld): "
			   "check identity_service.api_key_file", status);
		break;
	case 429:
		*retry_after = parse_retry_after(retry_header);
		set_detail(detail, dlen, "the Identity Service is rate limiting nrfca (HTTP 429)");
		break;
	default:
		*retry_after = status == 503 ? parse_retry_after(retry_header) : 0;
		set_detail(detail, dlen, "the Identity Service answered HTTP %ld", status);
		break;
	}
	json_decref(o);
	return v;
}

/* ------------------------------------------------------------------ */
/* configuration */

static int loopback_host(const char *h)
{
	return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 ||
	       strcmp(h, "[::1]") == 0 || strcmp(h, "::1") == 0;
}

static int check_url(const char *url, struct nrfca_err *err)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (url == NULL || url[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.url is required");
	if (strlen(url) > IDENTITY_URL_MAX)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.url is longer than %d "
				     "characters", IDENTITY_URL_MAX);
	u = curl_url();
	if (u == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.url is not a URL");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && loopback_host(host))) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.url must be https:// (plain http "
			      "only to a loopback host)");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int read_key(const char *path, int allow_insecure, char key[IDENTITY_KEY_MAX + 1],
		    struct nrfca_err *err)
{
	size_t n, i;

	if (path == NULL || path[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.api_key_file is required");
	if (nrfca_secret_file_read(path, "identity_service.api_key_file", allow_insecure, NULL, key,
				   IDENTITY_KEY_MAX + 1, &n, err) != 0) {
		if (err != NULL)
			err->code = NRFCA_E_CONFIG;
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f) {
			OPENSSL_cleanse(key, IDENTITY_KEY_MAX + 1);
			return nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.api_key_file %s: the "
					     "API key holds a space or a non-printable character "
					     "(position %zu)", path, i + 1);
		}
	return 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *arg)
{
	struct identity *s = arg;

	(void)h;
	(void)a;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct identity *s = arg;

	(void)h;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->share_mu[data]);
}

int identity_open(const struct identity_config *c, struct identity **out, struct nrfca_err *err)
{
	struct identity *s;
	int i;

	if (check_url(c->url, err) != 0)
		return -1;
	if (c->timeout_ms > MAX_TIMEOUT_MS)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "identity_service.timeout_ms is at most %u",
				     MAX_TIMEOUT_MS);
	if (c->cache_entries > MAX_CACHE_ENTRIES)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "identity_service.cache_entries is at most %u", MAX_CACHE_ENTRIES);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "libcurl cannot be initialised");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->share_mu[i], NULL);
	s->timeout_ms = c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
	s->cache_seconds = c->cache_seconds ? c->cache_seconds : DEFAULT_CACHE_SECONDS;
	s->backoff_seconds = c->backoff_seconds ? c->backoff_seconds : DEFAULT_BACKOFF_SECONDS;
	s->n_slots = c->cache_entries ? c->cache_entries : DEFAULT_CACHE_ENTRIES;
	s->url = strdup(c->url);
	s->ca_file = c->ca_file != NULL ? strdup(c->ca_file) : NULL;
	s->cache = calloc(s->n_slots, sizeof(*s->cache));
	s->share = curl_share_init();
	if (s->url == NULL || (c->ca_file != NULL && s->ca_file == NULL) || s->cache == NULL ||
	    s->share == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto fail;
	}
	if (read_key(c->api_key_file, c->allow_insecure_key_file, s->key, err) != 0)
		goto fail;
	curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = s;
	return 0;
fail:
	identity_free(s);
	return -1;
}

void identity_free(struct identity *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->share != NULL)
		curl_share_cleanup(s->share);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s->url);
	free(s->ca_file);
	free(s->cache);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->share_mu[i]);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void identity_get_stats(struct identity *s, struct identity_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ */
/* the exchange */

struct answer {
	char buf[IDENTITY_ANSWER_MAX];
	size_t len;
	int over;
	char retry[16];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t k = size * n;

	if (k > sizeof(a->buf) - a->len) {
		a->over = 1;
		return 0;   /* abort: the answer is over the limit */
	}
	memcpy(a->buf + a->len, p, k);
	a->len += k;
	return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t k = size * n, i;

	if (k > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		for (i = 12; i < k && p[i] == ' '; i++)
			;
		snprintf(a->retry, sizeof(a->retry), "%.*s", (int)(k - i < 15 ? k - i : 15), p + i);
	}
	return k;
}

static struct slot *slot_of(struct identity *s, const unsigned char key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &s->cache[h % s->n_slots];
}

/* SHA-256 of the UUID the attestation names, then the token. */
static int cache_key(const char *uuid, const char *token, size_t len, unsigned char key[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, uuid, 36) == 1 && EVP_DigestUpdate(c, token, len) == 1 &&
		 EVP_DigestFinal_ex(c, key, NULL) == 1;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

/* JSON body {"token": "..."}: the token is base64url and '.', no escaping needed. */
static int token_ok(const char *t, size_t len)
{
	size_t i;

	if (len == 0 || len > IDENTITY_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_' && t[i] != '.')
			return 0;
	return 1;
}

enum nrfca_identity_verdict identity_verify(struct identity *s, const char *token, size_t len,
					    const char *uuid, char *detail, size_t dlen,
					    unsigned *retry_after, int *cached)
{
	static const char *const extra[] = { "Content-Type: application/json",
					     "Accept: application/json", "Expect:" };
	enum nrfca_identity_verdict v = NRFCA_IDENTITY_UNAVAILABLE;
	struct curl_slist *hdr = NULL;
	struct answer *a = NULL;
	unsigned char key[32];
	char *body = NULL, auth[IDENTITY_KEY_MAX + 32], errbuf[CURL_ERROR_SIZE] = "";
	struct slot *sl;
	uint64_t now = now_s();
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	size_t blen, i;

	*retry_after = 0;
	if (cached != NULL)
		*cached = 0;
	if (!token_ok(token, len) || uuid == NULL || !nrfca_is_uuid_lower(uuid)) {
		set_detail(detail, dlen, "the token cannot be sent to the Identity Service (not a "
			   "%%KEYGEN payload of at most %d characters)", IDENTITY_TOKEN_MAX);
		return NRFCA_IDENTITY_FORGED;
	}
	if (cache_key(uuid, token, len, key) != 0) {
		set_detail(detail, dlen, "out of memory");
		return NRFCA_IDENTITY_UNAVAILABLE;
	}

	pthread_mutex_lock(&s->mu);
	sl = slot_of(s, key);
	if (sl->expires > now && memcmp(sl->key, key, 32) == 0 && strcmp(sl->uuid, uuid) == 0) {
		v = sl->verdict;
		s->stats.cache_hits++;
		pthread_mutex_unlock(&s->mu);
		if (cached != NULL)
			*cached = 1;
		set_detail(detail, dlen, "%s (cached verdict of the Identity Service)",
			   nrfca_identity_verdict_name(v));
		return v;
	}
	if (s->down_until > now) {
		*retry_after = (unsigned)(s->down_until - now);
		s->stats.fast_fails++;
		pthread_mutex_unlock(&s->mu);
		set_detail(detail, dlen, "the Identity Service failed moments ago; not asked again "
			   "for %u s", *retry_after);
		return NRFCA_IDENTITY_UNAVAILABLE;
	}
	s->stats.asked++;
	pthread_mutex_unlock(&s->mu);

	a = calloc(1, sizeof(*a));
	blen = len + 16;
	body = malloc(blen);
	h = curl_easy_init();
	if (a == NULL || body == NULL || h == NULL) {
		set_detail(detail, dlen, "out of memory");
		goto out;
	}
	snprintf(body, blen, "{\"token\":\"%.*s\"}", (int)len, token);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->key);
	hdr = curl_slist_append(NULL, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	for (i = 0; hdr != NULL && i < sizeof(extra) / sizeof(extra[0]); i++) {
		struct curl_slist *t = curl_slist_append(hdr, extra[i]);

		if (t == NULL)
			break;
		hdr = t;
	}
	if (hdr == NULL || i < sizeof(extra) / sizeof(extra[0])) {
		set_detail(detail, dlen, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, s->url);
	curl_easy_setopt(h, CURLOPT_SHARE, s->share);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nrfca-server");
	if (s->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
	cc = curl_easy_perform(h);
	if (cc == CURLE_WRITE_ERROR && a->over) {
		set_detail(detail, dlen, "the Identity Service's answer is over %u bytes",
			   IDENTITY_ANSWER_MAX);
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		set_detail(detail, dlen, "no answer from the Identity Service within %u ms",
			   s->timeout_ms);
	} else if (cc != CURLE_OK) {
		set_detail(detail, dlen, "cannot reach the Identity Service: %s",
			   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		v = identity_parse_answer(status, a->buf, a->len, a->retry[0] ? a->retry : NULL,
					  uuid, detail, dlen, retry_after);
	}
out:
	pthread_mutex_lock(&s->mu);
	now = now_s();
	if (v == NRFCA_IDENTITY_UNAVAILABLE) {
		if (*retry_after == 0)
			*retry_after = s->backoff_seconds;
		s->down_until = now + *retry_after;
		if (!s->down) {
			s->down = 1;
			pthread_mutex_unlock(&s->mu);
			nlog(NLOG_ERROR, "identity_service_unavailable", "detail",
			     detail != NULL ? detail : "", NULL);
			pthread_mutex_lock(&s->mu);
		}
	} else {
		sl = slot_of(s, key);
		memcpy(sl->key, key, 32);
		snprintf(sl->uuid, sizeof(sl->uuid), "%s", uuid);
		sl->verdict = v;
		sl->expires = now + s->cache_seconds;
		if (s->down) {
			s->down = 0;
			pthread_mutex_unlock(&s->mu);
			nlog(NLOG_INFO, "identity_service_ok", "detail", "the Identity Service "
			     "answers again", NULL);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (hdr != NULL)   /* the first entry is a copy of the Authorization header */
		OPENSSL_cleanse(hdr->data, strlen(hdr->data));
	curl_slist_free_all(hdr);
	if (h != NULL)
		curl_easy_cleanup(h);
	free(body);
	free(a);
	return v;
}
