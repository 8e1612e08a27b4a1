/*
 * The Identity Service client (ca-server/identity.h): the answer mapping for
 * every kind of answer, the configuration checks (URL scheme, API key file
 * mode and content), and the exchange against a loopback server in this
 * process: the request it sends, the cache, the back-off after a failure,
 * the timeout, an answer over the size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "identity.h"

#define UUID "50363953-3234-4723-80b9-1503d88271bf"
#define TOKEN "MIIBCTCBsAIBADAvMS0wKwYDVQQDDCQ1MDM2Mzk1My0zMjM0LTQ3MjMtODBi.0oRDoQEmoQRBIVhQ2dn3hQlQUDY"
#define KEY "nrfcloud-api-key-0123456789abcdef"

static char dir[512];

static const char *tmpfile_path(const char *name)
{
	static char p[4][700];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	const char *p = tmpfile_path(name);
	FILE *f;

	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

/* ---- the answer mapping ---- */

struct arow {
	long status;
	const char *body;
	const char *retry;
	enum nrfca_identity_verdict want;
	unsigned want_retry;
	const char *detail_has;
};

static void test_parse_answer(void **state)
{
	static const struct arow rows[] = {
		{ 200, "{\"verified\": true, \"uuid\": \"" UUID "\"}", NULL, NRFCA_IDENTITY_GENUINE, 0, "verified" },
		{ 200, "{\"verified\": true}", NULL, NRFCA_IDENTITY_GENUINE, 0, NULL },
		{ 200, "{\"verified\": true, \"uuid\": \"50363953-3234-4723-80B9-1503D88271BF\"}", NULL,
		  NRFCA_IDENTITY_GENUINE, 0, NULL },
		{ 200, "{\"verified\": false, \"uuid\": \"" UUID "\", \"reason\": \"bad sig\"}", NULL,
		  NRFCA_IDENTITY_FORGED, 0, "bad sig" },
		{ 200, "{\"verified\": true, \"uuid\": \"11111111-2222-4333-8444-555555555555\"}", NULL,
		  NRFCA_IDENTITY_FORGED, 0, "attributes the token to device '11111111-" },
		{ 200, "{\"verified\": \"yes\"}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "not a verdict" },
		{ 200, "{\"verified\": true, \"uuid\": 7}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "not a verdict" },
		{ 200, "[true]", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "not a verdict" },
		{ 200, "", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 200, "<html>", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 200, "{\"verified\": true, \"verified\": false}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 200, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", NULL,
		  NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 200, "{\"reason\": \"\\u0001\\u0002\", \"verified\": false}", NULL, NRFCA_IDENTITY_FORGED, 0, "??" },
		{ 404, "{\"reason\": \"unknown device\"}", NULL, NRFCA_IDENTITY_UNKNOWN_DEVICE, 0, "unknown device" },
		{ 404, "{}", NULL, NRFCA_IDENTITY_UNKNOWN_DEVICE, 0, NULL },
		{ 404, "Not Found", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "identity_service.url" },
		{ 400, "{\"reason\": \"malformed token\"}", NULL, NRFCA_IDENTITY_FORGED, 0, "malformed token" },
		{ 422, "", NULL, NRFCA_IDENTITY_FORGED, 0, "HTTP 422" },
		{ 401, "{}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "API key" },
		{ 403, "{}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "API key" },
		{ 429, "{}", "17", NRFCA_IDENTITY_UNAVAILABLE, 17, "rate limiting" },
		{ 429, "{}", "99999", NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 429, "{}", "Wed, 21 Oct 2015 07:28:00 GMT", NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
		{ 503, "{}", "250", NRFCA_IDENTITY_UNAVAILABLE, 250, "HTTP 503" },
		{ 503, "{}", "301", NRFCA_IDENTITY_UNAVAILABLE, 300, NULL },
		{ 500, "{\"verified\": true}", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "HTTP 500" },
		{ 302, "", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, "HTTP 302" },
		{ 0, "", NULL, NRFCA_IDENTITY_UNAVAILABLE, 0, NULL },
	};
	char detail[256];
	unsigned retry;
	size_t i, fails = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum nrfca_identity_verdict v;

		detail[0] = '\0';
		v = identity_parse_answer(rows[i].status, rows[i].body, strlen(rows[i].body),
					  rows[i].retry, UUID, detail, sizeof(detail), &retry);
		if (v != rows[i].want || retry != rows[i].want_retry || detail[0] == '\0' ||
		    (rows[i].detail_has != NULL && strstr(detail, rows[i].detail_has) == NULL)) {
			fprintf(stderr, "row %zu (HTTP %ld %s): got %s retry %u '%s'\n", i,
				rows[i].status, rows[i].body, nrfca_identity_verdict_name(v), retry,
				detail);
			fails++;
		}
	}
	/* over the size limit: never parsed */
	{
		size_t n = IDENTITY_ANSWER_MAX + 1;
		char *big = malloc(n);

		memset(big, ' ', n);
		memcpy(big, "{\"verified\": true}", 18);
		assert_int_equal(identity_parse_answer(200, big, n, NULL, UUID, detail,
						       sizeof(detail), &retry),
				 NRFCA_IDENTITY_UNAVAILABLE);
		assert_non_null(strstr(detail, "over"));
		free(big);
	}
	assert_int_equal(fails, 0);
}

/* ---- configuration ---- */

static void expect_open_error(const struct identity_config *c, const char *has)
{
	struct identity *s = NULL;
	struct nrfca_err e = { 0 };

	if (identity_open(c, &s, &e) == 0) {
		identity_free(s);
		fail_msg("accepted, expected '%s'", has);
	}
	if (strstr(e.msg, has) == NULL)
		fail_msg("got '%s', expected '%s'", e.msg, has);
	assert_null(strstr(e.msg, KEY));
}

static void test_config(void **state)
{
	struct identity_config c = { 0 };
	struct identity *s = NULL;
	struct nrfca_err e = { 0 };

	(void)state;
	c.url = "https://identity.example/v1/verify";
	c.api_key_file = write_file("key", KEY "\n", 0600);
	assert_int_equal(identity_open(&c, &s, &e), 0);
	identity_free(s);
	s = NULL;
	c.url = "http://127.0.0.1:9/verify";
	assert_int_equal(identity_open(&c, &s, &e), 0);
	identity_free(s);
	s = NULL;

	c.url = "http://identity.example/v1/verify";
	expect_open_error(&c, "must be https://");
	c.url = "ftp://127.0.0.1/x";
	expect_open_error(&c, "must be https://");
	c.url = "not a url";
	expect_open_error(&c, "is not a URL");
	c.url = NULL;
	expect_open_error(&c, "identity_service.url is required");
	c.url = "https://identity.example/v1/verify";
	c.timeout_ms = 60000;
	expect_open_error(&c, "timeout_ms is at most");
	c.timeout_ms = 0;
	c.api_key_file = write_file("key-open", KEY "\n", 0644);
	expect_open_error(&c, "is accessible by group or others (mode 0644)");
	c.allow_insecure_key_file = 1;
	assert_int_equal(identity_open(&c, &s, &e), 0);
	identity_free(s);
	s = NULL;
	c.allow_insecure_key_file = 0;
	c.api_key_file = write_file("key-empty", "\n", 0600);
	expect_open_error(&c, "identity_service.api_key_file is empty");
	c.api_key_file = write_file("key-space", "two words\n", 0600);
	expect_open_error(&c, "position 4");
	c.api_key_file = tmpfile_path("no-such-key");
	expect_open_error(&c, "No such file");
	c.api_key_file = NULL;
	expect_open_error(&c, "api_key_file is required");
}

/* ---- the exchange, against a loopback server in this process ---- */

static struct {
	unsigned status;
	const char *body;
	unsigned delay_ms;
	int hits;
	char auth[256];
	char got[1024];
	size_t got_len;
} srv;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_len, void **con_cls)
{
	struct MHD_Response *r;
	const char *a;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	if (*con_cls == NULL) {
		*con_cls = &srv;
		srv.got_len = 0;
		return MHD_YES;
	}
	if (*upload_len > 0) {
		if (srv.got_len + *upload_len < sizeof(srv.got)) {
			memcpy(srv.got + srv.got_len, upload, *upload_len);
			srv.got_len += *upload_len;
			srv.got[srv.got_len] = '\0';
		}
		*upload_len = 0;
		return MHD_YES;
	}
	srv.hits++;
	a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(srv.auth, sizeof(srv.auth), "%s", a ? a : "");
	if (srv.delay_ms) {
		struct timespec ts = { srv.delay_ms / 1000, (srv.delay_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	r = MHD_create_response_from_buffer(strlen(srv.body), (void *)srv.body,
					    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, srv.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void test_exchange(void **state)
{
	static char big[IDENTITY_ANSWER_MAX + 100];
	struct identity_config c = { 0 };
	struct identity_stats st;
	struct identity *s = NULL;
	struct nrfca_err e = { 0 };
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	char url[128], detail[256];
	unsigned retry;
	int cached;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_END);
	assert_non_null(d);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/verify",
		 (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	c.url = url;
	c.api_key_file = write_file("key", KEY "\n", 0600);
	c.timeout_ms = 400;
	c.backoff_seconds = 1;
	c.cache_entries = 8;
	assert_int_equal(identity_open(&c, &s, &e), 0);

	/* genuine: the request carries the key and the token; the verdict is cached */
	srv.status = 200;
	srv.body = "{\"verified\": true, \"uuid\": \"" UUID "\"}";
	assert_int_equal(identity_verify(s, TOKEN, strlen(TOKEN), UUID, detail, sizeof(detail),
					 &retry, &cached), NRFCA_IDENTITY_GENUINE);
	assert_int_equal(cached, 0);
	assert_int_equal(srv.hits, 1);
	assert_string_equal(srv.auth, "Bearer " KEY);
	assert_string_equal(srv.got, "{\"token\":\"" TOKEN "\"}");
	assert_int_equal(identity_verify(s, TOKEN, strlen(TOKEN), UUID, detail, sizeof(detail),
					 &retry, &cached), NRFCA_IDENTITY_GENUINE);
	assert_int_equal(cached, 1);
	assert_int_equal(srv.hits, 1);
	/* the cache is keyed by token and UUID: another UUID asks again */
	srv.body = "{\"verified\": false}";
	assert_int_equal(identity_verify(s, TOKEN, strlen(TOKEN), "11111111-2222-4333-8444-555555555555",
					 detail, sizeof(detail), &retry, &cached),
			 NRFCA_IDENTITY_FORGED);
	assert_int_equal(srv.hits, 2);
	/* a token that is not a %KEYGEN payload is never sent */
	assert_int_equal(identity_verify(s, "a\"b.c", 5, UUID, detail, sizeof(detail), &retry, NULL),
			 NRFCA_IDENTITY_FORGED);
	assert_int_equal(srv.hits, 2);

	/* 503: unavailable, announced Retry-After is the back-off; then no request at all */
	srv.status = 503;
	srv.body = "{}";
	assert_int_equal(identity_verify(s, "x.y", 3, UUID, detail, sizeof(detail), &retry, NULL),
			 NRFCA_IDENTITY_UNAVAILABLE);
	assert_int_equal(srv.hits, 3);
	assert_int_equal(retry, 1);
	assert_non_null(strstr(detail, "HTTP 503"));
	assert_null(strstr(detail, KEY));
	assert_int_equal(identity_verify(s, "x.y", 3, UUID, detail, sizeof(detail), &retry, NULL),
			 NRFCA_IDENTITY_UNAVAILABLE);
	assert_int_equal(srv.hits, 3);
	assert_int_equal(retry, 1);
	/* a cached verdict is still served during the back-off */
	assert_int_equal(identity_verify(s, TOKEN, strlen(TOKEN), UUID, detail, sizeof(detail),
					 &retry, &cached), NRFCA_IDENTITY_GENUINE);
	assert_int_equal(cached, 1);
	sleep(2);

	/* timeout: unavailable within about the timeout, not the server's delay */
	srv.status = 200;
	srv.body = "{\"verified\": true}";
	srv.delay_ms = 1500;
	{
		struct timespec t0, t1;
		double el;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(identity_verify(s, "t.o", 3, UUID, detail, sizeof(detail), &retry,
						 NULL), NRFCA_IDENTITY_UNAVAILABLE);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		assert_true(el < 1.4);
		assert_non_null(strstr(detail, "within 400 ms"));
	}
	srv.delay_ms = 0;
	sleep(2);

	/* an answer over the limit */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	srv.body = big;
	assert_int_equal(identity_verify(s, "b.g", 3, UUID, detail, sizeof(detail), &retry, NULL),
			 NRFCA_IDENTITY_UNAVAILABLE);
	if (strstr(detail, "over") == NULL)
		fail_msg("big answer: '%s'", detail);
	sleep(2);

	/* unknown device is cached too */
	srv.status = 404;
	srv.body = "{\"reason\": \"unknown device\"}";
	assert_int_equal(identity_verify(s, "u.d", 3, UUID, detail, sizeof(detail), &retry, NULL),
			 NRFCA_IDENTITY_UNKNOWN_DEVICE);
	assert_int_equal(identity_verify(s, "u.d", 3, UUID, detail, sizeof(detail), &retry, &cached),
			 NRFCA_IDENTITY_UNKNOWN_DEVICE);
	assert_int_equal(cached, 1);

	identity_get_stats(s, &st);
	if (st.fast_fails != 1)
		fail_msg("fast fails %llu, last detail '%s'", st.fast_fails, detail);
	assert_true(st.cache_hits >= 3);
	identity_free(s);

	/* nothing listening: unavailable with the reason */
	c.url = "http://127.0.0.1:1/v1/verify";
	assert_int_equal(identity_open(&c, &s, &e), 0);
	assert_int_equal(identity_verify(s, TOKEN, strlen(TOKEN), UUID, detail, sizeof(detail),
					 &retry, NULL), NRFCA_IDENTITY_UNAVAILABLE);
	assert_non_null(strstr(detail, "cannot reach"));
	identity_free(s);
	MHD_stop_daemon(d);
}

static int setup(void **state)
{
	const char *t = getenv("NRFCA_TEST_TMP");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/identity-test.XXXXXX", t ? t : ".");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[700];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_exchange),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
