/* Unit tests of the configuration loader: defaults, path resolution, and a
 * clear refusal naming the JSON path for every kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[1024];

static void write_cfg(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void defaults_and_paths(void **state)
{
	struct nrfca_config *c = NULL;
	struct nrfca_err e = { 0 };
	char want[1100];

	(void)state;
	unsetenv("NRFCA_PORT");
	write_cfg("{\"token\": {\"uri\": \"pkcs11:token=a\"}, \"ca\": {\"chain\": \"ca.pem\"},"
		  " \"database\": \"sqlite:db/x.db\"}");
	assert_int_equal(nrfca_config_load(path, &c, &e), 0);
	assert_string_equal(c->listen_address, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_int_equal(c->max_body, 65536);
	assert_int_equal(c->max_json_depth, 8);
	assert_int_equal(c->max_connections_per_ip, 64);
	assert_int_equal(c->receive_timeout, 10);
	snprintf(want, sizeof(want), "%.*s/ca.pem", (int)(strrchr(path, '/') - path), path);
	assert_string_equal(c->ca_chain, want);
	snprintf(want, sizeof(want), "sqlite:%.*s/db/x.db", (int)(strrchr(path, '/') - path), path);
	assert_string_equal(c->database, want);
	nrfca_config_free(c);
	setenv("NRFCA_PORT", "9191", 1);
	assert_int_equal(nrfca_config_load(path, &c, &e), 0);
	assert_int_equal(c->listen_port, 9191);
	nrfca_config_free(c);
	setenv("NRFCA_PORT", "99999", 1);
	assert_int_equal(nrfca_config_load(path, &c, &e), -1);
	assert_non_null(strstr(e.msg, "NRFCA_PORT"));
	unsetenv("NRFCA_PORT");
}

struct bad {
	const char *text;
	const char *msg;
};

static const struct bad bads[] = {
	{ "{", "line 1" },
	{ "[]", "must be a JSON object" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"colour\": 1}", "$.colour: unknown key" },
	{ "{\"token\": {\"uri\": \"x\", \"pin\": \"1234\"}, \"ca\": {\"chain\": \"c\"}}", "$.token.pin: unknown key" },
	{ "{\"token\": {\"uri\": 5}, \"ca\": {\"chain\": \"c\"}}", "$.token.uri must be a string" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"listen\": {\"port\": 70000}}", "$.listen.port is 70000" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"listen\": {\"allow_plain_http\": 1}}", "must be true or false" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"database\": \"mysql:x\"}", "$.database must be sqlite:PATH" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"tls\": {\"certificate\": \"a\"}}", "both certificate and key" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"tls\": {\"client_ca\": \"a\"}}", "needs $.tls.certificate" },
	{ "{\"ca\": {\"chain\": \"c\"}}", "$.token.uri is required" },
	{ "{\"token\": {\"uri\": \"x\"}}", "$.ca.chain is required" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"limits\": {\"max_body\": 10}}", "$.limits.max_body is 10" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"limits\": {\"receive_timeout\": 0}}", "$.limits.receive_timeout is 0" },
	{ "{\"token\": {\"uri\": \"x\"}, \"ca\": {\"chain\": \"c\"}, \"limits\": {\"max_connections_per_ip\": -1}}", "$.limits.max_connections_per_ip is -1" },
	{ "{\"token\": \"x\"}", "$.token must be an object" },
	{ "{\"token\": {\"uri\": \"x\"}, \"token\": {\"uri\": \"y\"}, \"ca\": {\"chain\": \"c\"}}", "duplicate" },
};

static void refusals(void **state)
{
	struct nrfca_config *c = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct nrfca_err e = { 0 };

		write_cfg(bads[i].text);
		if (nrfca_config_load(path, &c, &e) == 0)
			fail_msg("'%s' was accepted", bads[i].text);
		if (strstr(e.msg, bads[i].msg) == NULL || strstr(e.msg, path) == NULL)
			fail_msg("'%s': message '%s' lacks '%s' or the file name", bads[i].text, e.msg,
				 bads[i].msg);
	}
	{
		struct nrfca_err e = { 0 };

		assert_int_equal(nrfca_config_load("/nonexistent/nrfca.json", &c, &e), -1);
		assert_non_null(strstr(e.msg, "/nonexistent/nrfca.json"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_and_paths),
		cmocka_unit_test(refusals),
	};
	const char *t = getenv("NRFCA_TEST_TMP");
	int rc;

	snprintf(path, sizeof(path), "%s/config-test-%d.json", t ? t : ".", (int)getpid());
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
