/* Unit tests: strict base64url, hex, and the bounded CBOR reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"
#include "cbor.h"
#include "modem_out.h"
#include "vectors.h"

static void test_b64url_roundtrip(void **state)
{
	unsigned char in[70], out[70];
	char enc[100];
	size_t n, i, got;
	struct nrfca_err err = { 0 };

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		assert_int_equal(nrfca_b64url_encode(in, n, enc, sizeof(enc)), 0);
		assert_int_equal(strlen(enc), nrfca_b64url_encoded_len(n));
		assert_null(strchr(enc, '='));
		assert_int_equal(nrfca_b64url_decode("x", enc, strlen(enc), out, sizeof(out), &got, &err), 0);
		assert_int_equal(got, n);
		assert_memory_equal(in, out, n);
		assert_int_equal(nrfca_b64url_decoded_max(strlen(enc)), n);
	}
	/* Known values, including both url-safe characters. */
	assert_int_equal(nrfca_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc, sizeof(enc)), 0);
	assert_string_equal(enc, "-_8");
	assert_int_equal(nrfca_b64url_decode(NULL, "-_8", 3, out, sizeof(out), &got, &err), 0);
	assert_int_equal(got, 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	/* Encode refuses a short buffer. */
	assert_int_equal(nrfca_b64url_encode(in, 3, enc, 4), -1);
}

static void expect_b64_error(const char *s, const char *needle)
{
	unsigned char out[64];
	size_t got = 12345;
	struct nrfca_err err = { 0 };

	assert_int_equal(nrfca_b64url_decode("part 2", s, strlen(s), out, sizeof(out), &got, &err), -1);
	assert_int_equal(got, 12345);
	assert_int_not_equal(err.code, NRFCA_OK);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_non_null(strstr(err.msg, "part 2"));
}

static void test_b64url_rejects(void **state)
{
	unsigned char out[8];
	size_t got;
	struct nrfca_err err = { 0 };

	(void)state;
	expect_b64_error("QUI=", "character 4: '='");
	expect_b64_error("QQ==", "character 3: '='");
	expect_b64_error("ab+d", "character 3: '+'");
	expect_b64_error("ab/d", "character 3: '/'");
	expect_b64_error("ab d", "character 3");
	expect_b64_error("ab\nd", "white space");
	expect_b64_error("ab\rd", "white space");
	expect_b64_error("ab\"d", "quote");
	expect_b64_error("QUJDR", "impossible length");
	expect_b64_error("Q", "impossible length");
	expect_b64_error("QR", "unused low bits");   /* 'R' leaves non-zero bits */
	expect_b64_error("QUJ", "unused low bits");  /* 'J' leaves non-zero bits */
	expect_b64_error("ab\xc3\xa9", "character 3: byte 0xc3");
	/* Embedded NUL. */
	assert_int_equal(nrfca_b64url_decode(NULL, "ab\0d", 4, out, sizeof(out), &got, &err), -1);
	assert_non_null(strstr(err.msg, "the input"));
	/* Too small an output buffer is a size error, never an overflow. */
	assert_int_equal(nrfca_b64url_decode(NULL, "QUJDREVGR0hJSktM", 16, out, sizeof(out), &got, &err), -1);
	assert_int_equal(err.code, NRFCA_E_TOO_LARGE);
	/* Empty input decodes to nothing. */
	assert_int_equal(nrfca_b64url_decode(NULL, "", 0, out, sizeof(out), &got, &err), 0);
	assert_int_equal(got, 0);
}

static void test_hex(void **state)
{
	unsigned char b[3];
	char s[7];

	(void)state;
	nrfca_hex_encode((const unsigned char *)"\x00\xab\xff", 3, s);
	assert_string_equal(s, "00abff");
	assert_int_equal(nrfca_hex_decode("00ABff", 6, b, 3), 0);
	assert_memory_equal(b, "\x00\xab\xff", 3);
	assert_int_equal(nrfca_hex_decode("00ABf", 5, b, 3), -1);
	assert_int_equal(nrfca_hex_decode("00ABfg", 6, b, 3), -1);
}

static void test_cbor_types(void **state)
{
	/* [0, 23, 24, 255, 65536, -1, -500, h'0102', "hi", {1: -7}, 18(null), true, 1.5 (half)] */
	static const uint8_t buf[] = {
		0x8d, 0x00, 0x17, 0x18, 0x18, 0x18, 0xff, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x20,
		0x39, 0x01, 0xf3, 0x42, 0x01, 0x02, 0x62, 'h', 'i', 0xa1, 0x01, 0x26,
		0xd2, 0xf6, 0xf5, 0xf9, 0x3e, 0x00,
	};
	struct nrfca_cbor c;
	struct nrfca_cbor_item it;
	struct nrfca_err err = { 0 };
	uint64_t n, u;
	int64_t v;
	const uint8_t *d;
	size_t len;
	char desc[64];

	(void)state;
	assert_int_equal(nrfca_cbor_validate(buf, sizeof(buf), &err), 0);
	nrfca_cbor_init(&c, buf, sizeof(buf));
	assert_int_equal(nrfca_cbor_expect_array(&c, &n, "t", &err), 0);
	assert_int_equal(n, 13);
	assert_int_equal(nrfca_cbor_expect_uint(&c, &u, "t", &err), 0);
	assert_int_equal(u, 0);
	assert_int_equal(nrfca_cbor_expect_uint(&c, &u, "t", &err), 0);
	assert_int_equal(u, 23);
	assert_int_equal(nrfca_cbor_expect_uint(&c, &u, "t", &err), 0);
	assert_int_equal(u, 24);
	assert_int_equal(nrfca_cbor_expect_int(&c, &v, "t", &err), 0);
	assert_int_equal(v, 255);
	assert_int_equal(nrfca_cbor_expect_uint(&c, &u, "t", &err), 0);
	assert_int_equal(u, 65536);
	assert_int_equal(nrfca_cbor_expect_int(&c, &v, "t", &err), 0);
	assert_int_equal(v, -1);
	assert_int_equal(nrfca_cbor_expect_int(&c, &v, "t", &err), 0);
	assert_int_equal(v, -500);
	assert_int_equal(nrfca_cbor_expect_bstr(&c, &d, &len, "t", &err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(d, "\x01\x02", 2);
	/* A text string where a bstr is expected: message names both. */
	assert_int_equal(nrfca_cbor_expect_bstr(&c, &d, &len, "field", &err), -1);
	assert_string_equal(err.msg, "field: expected a byte string, found a text string of 2 bytes");
	assert_int_equal(nrfca_cbor_expect_map(&c, &n, "t", &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nrfca_cbor_skip(&c, &err), 0);
	assert_int_equal(nrfca_cbor_skip(&c, &err), 0);
	assert_int_equal(nrfca_cbor_expect_tag(&c, 18, "t", &err), 0);
	assert_int_equal(nrfca_cbor_peek(&c, &it, &err), 0);
	nrfca_cbor_describe(&it, desc, sizeof(desc));
	assert_string_equal(desc, "null");
	assert_int_equal(nrfca_cbor_read(&c, &it, &err), 0);
	assert_int_equal(nrfca_cbor_read(&c, &it, &err), 0);
	assert_int_equal(it.type, NRFCA_CBOR_SIMPLE);
	assert_int_equal(it.u, NRFCA_CBOR_SIMPLE_TRUE);
	assert_int_equal(nrfca_cbor_read(&c, &it, &err), 0);
	assert_int_equal(it.type, NRFCA_CBOR_FLOAT);
	assert_true(nrfca_cbor_at_end(&c));
	assert_int_equal(nrfca_cbor_read(&c, &it, &err), -1);
	assert_non_null(strstr(err.msg, "ends early"));
}

static void test_cbor_truncations(void **state)
{
	static const uint8_t buf[] = {
		0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x04, 0x41, 0x21, 0x59, 0x00, 0x02, 0xaa, 0xbb,
		0x1b, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	struct nrfca_err err = { 0 };
	size_t n;

	(void)state;
	assert_int_equal(nrfca_cbor_validate(buf, sizeof(buf), &err), 0);
	for (n = 0; n < sizeof(buf); n++) {
		/* Exact-size heap copy so ASan sees any read past the end. */
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buf, n);
		assert_int_equal(nrfca_cbor_validate(copy, n, &err), -1);
		free(copy);
	}
	/* Trailing bytes. */
	assert_int_equal(nrfca_cbor_validate("\x01\x02", 2, &err), -1);
	assert_non_null(strstr(err.msg, "1 unexpected bytes"));
}

static void test_cbor_malformed(void **state)
{
	struct nrfca_err err = { 0 };

	(void)state;
	/* Indefinite-length array, stray break, reserved additional info. */
	assert_int_equal(nrfca_cbor_validate("\x9f\x01\xff", 3, &err), -1);
	assert_non_null(strstr(err.msg, "indefinite"));
	assert_int_equal(nrfca_cbor_validate("\xff", 1, &err), -1);
	assert_non_null(strstr(err.msg, "break"));
	assert_int_equal(nrfca_cbor_validate("\x1c", 1, &err), -1);
	assert_non_null(strstr(err.msg, "reserved"));
	/* Simple value encoded in two bytes below 32. */
	assert_int_equal(nrfca_cbor_validate("\xf8\x10", 2, &err), -1);
	/* A byte string that declares 2^64-1 bytes. */
	assert_int_equal(nrfca_cbor_validate("\x5b\xff\xff\xff\xff\xff\xff\xff\xff", 9, &err), -1);
	assert_non_null(strstr(err.msg, "declares"));
	/* A map that declares more pairs than bytes remain. */
	assert_int_equal(nrfca_cbor_validate("\xa2\x01\x02\x03", 4, &err), -1);
	assert_non_null(strstr(err.msg, "map"));
	/* A tag with nothing after it. */
	assert_int_equal(nrfca_cbor_validate("\xd2", 1, &err), -1);
	/* Integers out of int64 range. */
	{
		struct nrfca_cbor c;
		int64_t v;

		nrfca_cbor_init(&c, "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", 9);
		assert_int_equal(nrfca_cbor_expect_int(&c, &v, "n", &err), -1);
		nrfca_cbor_init(&c, "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
		assert_int_equal(nrfca_cbor_expect_int(&c, &v, "n", &err), 0);
		assert_true(v == INT64_MIN);
	}
}

static void test_cbor_depth(void **state)
{
	uint8_t buf[64];
	struct nrfca_err err = { 0 };
	size_t depth;

	(void)state;
	for (depth = 1; depth < 40; depth++) {
		/* depth-1 one-element arrays around a 0 */
		memset(buf, 0x81, depth - 1);
		buf[depth - 1] = 0x00;
		if (depth <= NRFCA_CBOR_MAX_DEPTH)
			assert_int_equal(nrfca_cbor_validate(buf, depth, &err), 0);
		else {
			assert_int_equal(nrfca_cbor_validate(buf, depth, &err), -1);
			assert_non_null(strstr(err.msg, "nested deeper"));
		}
	}
	/* Tags count as nesting too. */
	memset(buf, 0xc1, 40);
	buf[40] = 0;
	assert_int_equal(nrfca_cbor_validate(buf, 41, &err), -1);
}

static void test_cbor_put_head(void **state)
{
	static const uint64_t values[] = { 0, 23, 24, 255, 256, 65535, 65536, 0xffffffffu,
					   0x100000000ull, UINT64_MAX };
	uint8_t buf[9];
	size_t i, n;
	unsigned major;
	struct nrfca_cbor c;
	struct nrfca_cbor_item it;
	struct nrfca_err err = { 0 };

	(void)state;
	for (major = 0; major <= 1; major++) {
		for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			n = nrfca_cbor_put_head(buf, major, values[i]);
			nrfca_cbor_init(&c, buf, n);
			assert_int_equal(nrfca_cbor_read(&c, &it, &err), 0);
			assert_true(it.u == values[i]);
			assert_int_equal(it.type, major == 0 ? NRFCA_CBOR_UINT : NRFCA_CBOR_NINT);
			assert_true(nrfca_cbor_at_end(&c));
		}
	}
}

/* The two hostile vectors: rejected, and fast enough that 100k rejections finish. */
static void test_cbor_hostile(void **state)
{
	static const char *const names[] = { "cbor-dos-array-length.hex", "cbor-dos-nested.hex" };
	struct nrfca_err err = { 0 };
	struct nrfca_modem_out *m = NULL;
	unsigned char *bytes;
	char *b64, *text;
	size_t i, len, k;

	(void)state;
	for (i = 0; i < 2; i++) {
		bytes = vector_read_hex(names[i], &len);
		assert_int_equal(nrfca_cbor_validate(bytes, len, &err), -1);
		assert_int_not_equal(err.msg[0], '\0');
		for (k = 0; k < 100000; k++)
			assert_int_equal(nrfca_cbor_validate(bytes, len, NULL), -1);
		/* The same bytes as part 2 of a %KEYGEN string, and as an attestation body. */
		b64 = nrfca_b64url_encode_alloc(bytes, len);
		text = malloc(strlen(b64) * 2 + 16);
		sprintf(text, "MFkw.%s", b64);
		assert_int_equal(nrfca_modem_out_parse(text, strlen(text), &m, &err), -1);
		assert_null(m);
		sprintf(text, "%s.%s", b64, b64);
		for (k = 0; k < 100000; k++)
			assert_int_equal(nrfca_modem_out_parse(text, strlen(text), &m, &err), -1);
		free(text);
		free(b64);
		free(bytes);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_roundtrip),
		cmocka_unit_test(test_b64url_rejects),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_cbor_types),
		cmocka_unit_test(test_cbor_truncations),
		cmocka_unit_test(test_cbor_malformed),
		cmocka_unit_test(test_cbor_depth),
		cmocka_unit_test(test_cbor_put_head),
		cmocka_unit_test(test_cbor_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
