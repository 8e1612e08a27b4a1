/* Unit tests of the RFC 7512 PKCS#11 URI parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p11uri.h"

static void valid_full(void **state)
{
	struct p11uri u;
	struct nrfca_err e = { 0 };

	(void)state;
	assert_int_equal(p11uri_parse("pkcs11:token=nrfca;serial=abc123;object=ca-key;type=private"
				      "?module-path=/usr/lib/softhsm/libsofthsm2.so"
				      "&pin-source=file:/etc/nrfca/pin", &u, &e), 0);
	assert_string_equal(u.token, "nrfca");
	assert_string_equal(u.serial, "abc123");
	assert_string_equal(u.object, "ca-key");
	assert_string_equal(u.type, "private");
	assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(u.pin_source, "file:/etc/nrfca/pin");
	assert_null(u.pin_value);
	assert_int_equal(u.id_len, 0);
	p11uri_clear(&u);
	assert_null(u.token);
}

static void percent_encoding(void **state)
{
	struct p11uri u;
	struct nrfca_err e = { 0 };

	(void)state;
	/* RFC 7512 example: spaces and an id of raw bytes */
	assert_int_equal(p11uri_parse("pkcs11:token=My%20token%25%3B;id=%01%02%ff%00", &u, &e), 0);
	assert_string_equal(u.token, "My token%;");
	assert_int_equal(u.id_len, 4);
	assert_memory_equal(u.id, "\x01\x02\xff\x00", 4);
	p11uri_clear(&u);
	/* query values may hold '/' and '?' */
	assert_int_equal(p11uri_parse("pkcs11:object=k?module-path=/a/b?c.so", &u, &e), 0);
	assert_string_equal(u.module_path, "/a/b?c.so");
	p11uri_clear(&u);
	/* an empty path is valid */
	assert_int_equal(p11uri_parse("pkcs11:", &u, &e), 0);
	p11uri_clear(&u);
}

/* RFC 7512 section 3 examples and corner cases of the encoding. */
static void rfc7512_cases(void **state)
{
	struct p11uri u;
	struct nrfca_err e = { 0 };

	(void)state;
	assert_int_equal(p11uri_parse("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
				      "manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;"
				      "type=cert;id=%69%95%3E%5C?pin-source=file:/etc/token_pin",
				      &u, &e), 0);
	assert_string_equal(u.token, "The Software PKCS#11 Softtoken");
	assert_string_equal(u.manufacturer, "Snake Oil, Inc.");
	assert_string_equal(u.model, "1.0");
	assert_string_equal(u.object, "my-certificate");
	assert_string_equal(u.type, "cert");
	assert_int_equal(u.id_len, 4);
	assert_memory_equal(u.id, "\x69\x95\x3e\x5c", 4);
	assert_string_equal(u.pin_source, "file:/etc/token_pin");
	p11uri_clear(&u);
	/* UTF-8 bytes, lower-case escapes, an encoded '/' in a label */
	assert_int_equal(p11uri_parse("pkcs11:token=Name%20with%20%c3%a1;object=a%2fb", &u, &e), 0);
	assert_string_equal(u.token, "Name with \xc3\xa1");
	assert_string_equal(u.object, "a/b");
	p11uri_clear(&u);
	/* query values: an encoded '&' stays in the value; module-name is kept */
	assert_int_equal(p11uri_parse("pkcs11:object=k;type=private?module-name=mypkcs11&"
				      "pin-source=file:/etc/a%26b&module-path=/opt/my%20hsm/lib.so",
				      &u, &e), 0);
	assert_string_equal(u.module_name, "mypkcs11");
	assert_string_equal(u.pin_source, "file:/etc/a&b");
	assert_string_equal(u.module_path, "/opt/my hsm/lib.so");
	assert_string_equal(u.type, "private");
	p11uri_clear(&u);
	/* a relative pin-source is kept as written (the signer resolves it) */
	assert_int_equal(p11uri_parse("pkcs11:token=t?pin-source=file:pin", &u, &e), 0);
	assert_string_equal(u.pin_source, "file:pin");
	p11uri_clear(&u);
	/* an inline PIN is parsed so the signer can refuse it by name */
	assert_int_equal(p11uri_parse("pkcs11:token=t?pin-value=1234", &u, &e), 0);
	assert_string_equal(u.pin_value, "1234");
	p11uri_clear(&u);
	/* exactly 32 bytes of label after decoding */
	assert_int_equal(p11uri_parse("pkcs11:token=0123456789012345678901234567890%31", &u, &e), 0);
	assert_int_equal(strlen(u.token), 32);
	p11uri_clear(&u);
	/* id may hold a zero byte; a label may not */
	assert_int_equal(p11uri_parse("pkcs11:id=%00", &u, &e), 0);
	assert_int_equal(u.id_len, 1);
	p11uri_clear(&u);
}

struct bad {
	const char *uri;
	const char *msg;
};

static const struct bad bads[] = {
	{ "http://token=x", "must start with 'pkcs11:'" },
	{ "pkcs11:token=a;token=b", "'token' is given twice" },
	{ "pkcs11:slot-id=1", "unknown attribute 'slot-id'" },
	{ "pkcs11:token", "has no '=value'" },
	{ "pkcs11:token=a;;object=b", "empty attribute" },
	{ "pkcs11:token=a;", "trailing ';'" },
	{ "pkcs11:token=a%2", "incomplete %-escape" },
	{ "pkcs11:token=a%g1", "invalid %-escape" },
	{ "pkcs11:token=a b", "must be %-encoded" },
	{ "pkcs11:token=a%00b", "encoded NUL" },
	{ "pkcs11:module-path=/x", "belongs in the query" },
	{ "pkcs11:?token=x", "belongs in the path" },
	{ "pkcs11:token=0123456789012345678901234567890123", "at most 32" },
	{ "pkcs11:id=", "'id' is empty" },
	{ "pkcs11:id=%01;id=%02", "'id' is given twice" },
	{ "pkcs11:?pin-source=a&&module-path=b", "empty attribute" },
	{ "pkcs11:slot-id=1", "never by slot" },
	{ "pkcs11:slot-description=Sun%20Metaslot", "never by slot" },
	{ "pkcs11:library-version=1.23", "module-path" },
	{ "pkcs11:token=t;vendor-aaa=value-a", "unknown attribute 'vendor-aaa'" },
	{ "pkcs11:token=t?vendor-bbb=value-b", "unknown attribute 'vendor-bbb'" },
	{ "pkcs11:token=t?pinfile=/p", "unknown attribute 'pinfile'" },
	{ "pkcs11:type=secret", "'type' is 'secret'" },
	{ "pkcs11:token=t?module-path=/a b.so", "'module-path' contains a space, which must be %-encoded as %20" },
	{ "pkcs11:token=t?pin-source=file:/a%00b", "'pin-source' contains an encoded NUL" },
	{ "pkcs11:object=k?module-path=/x&module-path=/y", "'module-path' is given twice" },
	{ "pkcs11:serial=01234567890123456", "'serial' is 17 bytes long; at most 16" },
	{ "pkcs11:token=t\tx", "must be %-encoded" },
	{ "pkcs11:token=a%2", "'token' has an incomplete %-escape" },
};

static void malformed(void **state)
{
	struct p11uri u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct nrfca_err e = { 0 };

		memset(&u, 0, sizeof(u));
		if (p11uri_parse(bads[i].uri, &u, &e) == 0)
			fail_msg("'%s' was accepted", bads[i].uri);
		assert_int_equal(e.code, NRFCA_E_INPUT);
		if (strstr(e.msg, bads[i].msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bads[i].uri, e.msg, bads[i].msg);
	}
}

static void too_long(void **state)
{
	char buf[NRFCA_P11URI_MAX + 64];
	struct p11uri u;
	struct nrfca_err e = { 0 };

	(void)state;
	strcpy(buf, "pkcs11:object=");
	memset(buf + 14, 'a', sizeof(buf) - 15);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(p11uri_parse(buf, &u, &e), -1);
	assert_non_null(strstr(e.msg, "longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_full),
		cmocka_unit_test(percent_encoding),
		cmocka_unit_test(rfc7512_cases),
		cmocka_unit_test(malformed),
		cmocka_unit_test(too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
