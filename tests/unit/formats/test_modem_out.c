/* Unit tests: %KEYGEN / %ATTESTTOKEN decoding, binding and COSE signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "cbor.h"
#include "csr.h"
#include "modem_out.h"
#include "vectors.h"

/* Parse from an exact-size heap copy, so that ASan catches reads past the end. */
static int parse_exact(const char *text, size_t len, struct nrfca_modem_out **m,
		       struct nrfca_err *err)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, text, len);
	rc = nrfca_modem_out_parse(copy, len, m, err);
	free(copy);
	if (rc != 0) {
		assert_null(*m);
		assert_int_not_equal(err->code, NRFCA_OK);
		assert_int_not_equal(err->msg[0], '\0');
		assert_null(strchr(err->msg, '\n'));
	} else {
		assert_non_null(*m);
	}
	return rc;
}

static void hex_of(const unsigned char *b, size_t n, char *out)
{
	nrfca_hex_encode(b, n, out);
}

static void check_vector(const struct vector *v, const struct nrfca_modem_out *m)
{
	char hex[65];
	struct nrfca_csr *csr = NULL;
	struct nrfca_err err = { 0 };
	unsigned char h[32];
	int present = 0;

	assert_string_equal(nrfca_modem_kind_name(m->kind), v->kind);
	assert_int_equal(m->payload_id, v->payload_id);
	assert_string_equal(m->device_uuid_str, v->uuid);
	if (v->sec_tag >= 0) {
		assert_true(m->has_sec_tag);
		assert_int_equal(m->sec_tag, (unsigned long)v->sec_tag);
	} else {
		assert_false(m->has_sec_tag);
	}
	if (v->sha256 != NULL) {
		hex_of(m->part1_sha256, 32, hex);
		assert_string_equal(hex, v->sha256);
		hex_of(m->digest, 32, hex);
		assert_string_equal(hex, v->sha256);
	}
	if (v->nonce != NULL) {
		hex_of(m->nonce, 16, hex);
		assert_string_equal(hex, v->nonce);
	}
	assert_true(m->binding_ok);
	assert_true(m->has_kid);
	assert_int_equal(m->kid_len, 1);
	assert_int_equal(m->kid[0], 0x21);
	if (m->kind == NRFCA_MODEM_ATTEST_TOKEN) {
		assert_int_equal(m->device_type, 3);
		assert_int_equal(strlen(m->fw_uuid_str), 36);
	} else {
		assert_int_equal(m->device_type, -1);
	}
	if (v->cn != NULL) {
		assert_int_equal(nrfca_csr_from_der(m->part1, m->part1_len, &csr, &err), 0);
		assert_string_equal(nrfca_csr_cn(csr), v->cn);
		assert_string_equal(nrfca_csr_key_desc(csr), "EC P-256");
		assert_int_equal(nrfca_csr_key_usage(csr, &present),
				 NRFCA_KU_DIGITAL_SIGNATURE | NRFCA_KU_NON_REPUDIATION |
				 NRFCA_KU_KEY_ENCIPHERMENT | NRFCA_KU_KEY_AGREEMENT);
		assert_true(present);
		nrfca_csr_sha256(csr, h);
		assert_memory_equal(h, m->part1_sha256, 32);
		nrfca_csr_free(csr);
	}
}

static void test_all_vectors(void **state)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	char *text;
	size_t i, len;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		text = vector_read(test_vectors[i].file, &len);
		if (parse_exact(text, len, &m, &err) != 0)
			fail_msg("%s: %s", test_vectors[i].file, err.msg);
		check_vector(&test_vectors[i], m);
		nrfca_modem_out_free(m);
		m = NULL;
		free(text);
	}
}

/* Everything that must be equal between two decodings of the same output. */
static void assert_same(const struct nrfca_modem_out *a, const struct nrfca_modem_out *b)
{
	/* the bare payload text is the same whatever the envelope */
	assert_int_equal(a->payload_len, b->payload_len);
	assert_memory_equal(a->payload, b->payload, a->payload_len);
	assert_int_equal(strlen(a->payload), a->payload_len);
	assert_non_null(strchr(a->payload, '.'));
	assert_int_not_equal(a->payload[0], '"');
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->part1_len, b->part1_len);
	assert_memory_equal(a->part1, b->part1, a->part1_len);
	assert_int_equal(a->payload_id, b->payload_id);
	assert_string_equal(a->device_uuid_str, b->device_uuid_str);
	assert_int_equal(a->has_sec_tag, b->has_sec_tag);
	assert_int_equal(a->sec_tag, b->sec_tag);
	assert_memory_equal(a->digest, b->digest, 32);
	assert_memory_equal(a->nonce, b->nonce, 16);
	assert_memory_equal(a->signature, b->signature, 64);
	assert_int_equal(a->sig_structure_len, b->sig_structure_len);
	assert_memory_equal(a->sig_structure, b->sig_structure, a->sig_structure_len);
}

static void test_input_forms(void **state)
{
	static const char *const forms[] = {
		"%s", "\"%s\"", "%%P: \"%s\"", "%%P:\"%s\"", "  %s  ", "\r\n%s\r\n", "\t\"%s\"\n",
		"%%P: \"%s\"\r\n", "\r\n%%P: \"%s\"\r\nOK\r\n", "%%P: \"%s\"\nOK", "%%P: %s",
	};
	struct nrfca_modem_out *ref = NULL, *m = NULL;
	struct nrfca_err err = { 0 };
	char *payload, *text, fmt[64];
	const char *prefix;
	size_t i, f;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		payload = vector_payload(test_vectors[i].file);
		prefix = strcmp(test_vectors[i].kind, "attestation_token") == 0 ? "%ATTESTTOKEN" : "%KEYGEN";
		assert_int_equal(parse_exact(payload, strlen(payload), &ref, &err), 0);
		check_vector(&test_vectors[i], ref);
		text = malloc(strlen(payload) + 64);
		for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			/* Expand "%P" into the response prefix, then "%s" into the payload. */
			const char *src = forms[f];
			char *dst = fmt;

			while (*src) {
				if (src[0] == '%' && src[1] == '%' && src[2] == 'P') {
					dst += sprintf(dst, "%s", prefix);
					src += 3;
				} else {
					*dst++ = *src++;
				}
			}
			*dst = '\0';
			/* fmt now holds exactly one "%s". */
			{
				char *s = strstr(fmt, "%s");

				*s = '\0';
				sprintf(text, "%s%s%s", fmt, payload, s + 2);
			}
			if (parse_exact(text, strlen(text), &m, &err) != 0)
				fail_msg("%s form %zu (%s): %s", test_vectors[i].file, f, forms[f], err.msg);
			assert_same(ref, m);
			nrfca_modem_out_free(m);
			m = NULL;
		}
		/* The wrong prefix is refused. */
		sprintf(text, "%s: \"%s\"", prefix[1] == 'K' ? "%ATTESTTOKEN" : "%KEYGEN", payload);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
		sprintf(text, "%%XMODEMUUID: \"%s\"", payload);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
		/* Unbalanced quotes. */
		sprintf(text, "\"%s", payload);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
		assert_non_null(strstr(err.msg, "no closing quote"));
		sprintf(text, "%s\"", payload);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
		/* Split over two lines. */
		sprintf(text, "%.100s\r\n%s", payload, payload + 100);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
		if (strstr(err.msg, "white space") == NULL)
			fail_msg("%s split: %s", test_vectors[i].file, err.msg);
		nrfca_modem_out_free(ref);
		ref = NULL;
		free(text);
		free(payload);
	}
}

static void test_truncations(void **state)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	char *text;
	size_t i, n, len;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		text = vector_read(test_vectors[i].file, &len);
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--; /* removing only the final line break is no truncation */
		for (n = 0; n < len; n++)
			if (parse_exact(text, n, &m, &err) == 0)
				fail_msg("%s truncated to %zu characters was accepted", test_vectors[i].file, n);
		free(text);
		/* The bare payload, truncated at both ends. */
		text = vector_payload(test_vectors[i].file);
		len = strlen(text);
		for (n = 0; n < len; n++) {
			assert_int_equal(parse_exact(text, n, &m, &err), -1);
			assert_int_equal(parse_exact(text + len - n, n, &m, &err), -1);
		}
		free(text);
	}
}

/* Checks on a decoding of an altered vector that was accepted anyway. */
static void check_consistent(const struct nrfca_modem_out *orig, const struct nrfca_modem_out *m)
{
	unsigned char h[32];

	assert_true(m->binding_ok);
	assert_int_equal(EVP_Digest(m->part1, m->part1_len, h, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(h, m->part1_sha256, 32);
	if (m->kind != NRFCA_MODEM_ATTEST_TOKEN) {
		assert_memory_equal(m->digest, m->part1_sha256, 32);
		/* KEYGEN: part 1 is bound by its digest, so it cannot have changed. */
		assert_int_equal(m->part1_len, orig->part1_len);
		assert_memory_equal(m->part1, orig->part1, orig->part1_len);
	}
	assert_true(m->payload_id == 9 || m->payload_id == 8 || m->payload_id == 1);
	assert_non_null(m->sig_structure);
}

/* Every single-bit flip of the text: an error or a consistent result. */
static void test_bitflips_text(void **state)
{
	struct nrfca_modem_out *orig = NULL, *m = NULL;
	struct nrfca_err err = { 0 };
	char *text;
	size_t i, pos, len, accepted;
	int bit;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		text = vector_read(test_vectors[i].file, &len);
		assert_int_equal(parse_exact(text, len, &orig, &err), 0);
		accepted = 0;
		for (pos = 0; pos < len; pos++) {
			for (bit = 0; bit < 8; bit++) {
				text[pos] ^= (char)(1 << bit);
				if (parse_exact(text, len, &m, &err) == 0) {
					check_consistent(orig, m);
					nrfca_modem_out_free(m);
					m = NULL;
					accepted++;
				}
				text[pos] ^= (char)(1 << bit);
			}
		}
		/* Some flips land in the signature or nonce and stay valid; most do not. */
		assert_true(accepted < len * 8 / 2);
		nrfca_modem_out_free(orig);
		orig = NULL;
		free(text);
	}
}

/* Every single-bit flip of the decoded bytes of part 1 and part 2. */
static void test_bitflips_bytes(void **state)
{
	struct nrfca_modem_out *orig = NULL, *m = NULL;
	struct nrfca_err err = { 0 };
	char *payload, *dot, *text, *b1, *b2;
	unsigned char p1[4096], p2[4096];
	size_t i, n1, n2, pos;
	int bit, part;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		payload = vector_payload(test_vectors[i].file);
		assert_int_equal(parse_exact(payload, strlen(payload), &orig, &err), 0);
		dot = strchr(payload, '.');
		assert_int_equal(nrfca_b64url_decode(NULL, payload, (size_t)(dot - payload), p1,
						     sizeof(p1), &n1, &err), 0);
		assert_int_equal(nrfca_b64url_decode(NULL, dot + 1, strlen(dot + 1), p2, sizeof(p2),
						     &n2, &err), 0);
		for (part = 1; part <= 2; part++) {
			unsigned char *p = part == 1 ? p1 : p2;
			size_t n = part == 1 ? n1 : n2;

			for (pos = 0; pos < n; pos++) {
				for (bit = 0; bit < 8; bit++) {
					p[pos] ^= (unsigned char)(1 << bit);
					b1 = nrfca_b64url_encode_alloc(p1, n1);
					b2 = nrfca_b64url_encode_alloc(p2, n2);
					text = malloc(strlen(b1) + strlen(b2) + 2);
					sprintf(text, "%s.%s", b1, b2);
					if (parse_exact(text, strlen(text), &m, &err) == 0) {
						/* KEYGEN part 1 is bound by the digest: never accepted. */
						if (part == 1 && orig->kind != NRFCA_MODEM_ATTEST_TOKEN)
							fail_msg("%s: flip of part 1 byte %zu bit %d accepted",
								 test_vectors[i].file, pos, bit);
						check_consistent(orig, m);
						nrfca_modem_out_free(m);
						m = NULL;
					} else if (part == 1 && orig->kind != NRFCA_MODEM_ATTEST_TOKEN) {
						assert_int_equal(err.code, NRFCA_E_BINDING);
						assert_non_null(strstr(err.msg, "attestation digest does not match"));
					}
					free(text);
					free(b1);
					free(b2);
					p[pos] ^= (unsigned char)(1 << bit);
				}
			}
		}
		nrfca_modem_out_free(orig);
		orig = NULL;
		free(payload);
	}
}

static void expect_error(const char *text, enum nrfca_errc code, const char *needle)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };

	assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
	if (code != NRFCA_OK)
		assert_int_equal(err.code, code);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* Encode "<b64(p1)>.<b64(p2)>" (malloc'd). */
static char *join(const unsigned char *p1, size_t n1, const unsigned char *p2, size_t n2)
{
	char *b1 = nrfca_b64url_encode_alloc(p1, n1), *b2 = nrfca_b64url_encode_alloc(p2, n2);
	char *t = malloc(strlen(b1) + strlen(b2) + 2);

	sprintf(t, "%s.%s", b1, b2);
	free(b1);
	free(b2);
	return t;
}

static void test_messages(void **state)
{
	char *payload, *text;
	size_t len;
	unsigned char p2[512];
	size_t n2;
	struct nrfca_err err = { 0 };
	char *dot;

	(void)state;
	payload = vector_payload("keygen-csr-sectag17.txt");
	len = strlen(payload);
	dot = strchr(payload, '.');
	text = malloc(len + 16);

	/* Padding where part 2 has character 37. */
	strcpy(text, payload);
	text[(size_t)(dot - payload) + 37] = '=';
	expect_error(text, NRFCA_E_INPUT, "part 2 is not valid base64url at character 37: '='");
	/* A standard-base64 character in part 1. */
	strcpy(text, payload);
	text[5] = '+';
	expect_error(text, NRFCA_E_INPUT, "part 1 is not valid base64url at character 6: '+'");
	/* Digest mismatch: change one CSR character (keeping valid base64url). */
	strcpy(text, payload);
	text[40] = text[40] == 'A' ? 'B' : 'A';
	expect_error(text, NRFCA_E_BINDING,
		     "attestation digest does not match the CSR: the string is probably truncated or altered");
	/* No dot, two dots, empty parts, empty input. */
	strcpy(text, payload);
	text[dot - payload] = 'A';
	expect_error(text, NRFCA_E_INPUT, "no '.'");
	sprintf(text, "%s.AAAA", payload);
	expect_error(text, NRFCA_E_INPUT, "more than one '.'");
	expect_error(".AAAA", NRFCA_E_INPUT, "part 1 is empty");
	expect_error("AAAA.", NRFCA_E_INPUT, "part 2 is empty");
	expect_error(" \r\n ", NRFCA_E_INPUT, "empty");
	expect_error("\"\"", NRFCA_E_INPUT, "empty");

	/* Another tag than 18. */
	assert_int_equal(nrfca_b64url_decode(NULL, dot + 1, strlen(dot + 1), p2, sizeof(p2), &n2, &err), 0);
	p2[0] = 0xd1; /* tag 17 */
	free(text);
	text = join((const unsigned char *)"\x30\x00", 2, p2, n2);
	expect_error(text, NRFCA_E_INPUT, "COSE: expected tag 18 (COSE_Sign1), found tag 17");
	free(text);
	p2[0] = 0x84; /* untagged array */
	text = join((const unsigned char *)"\x30\x00", 2, p2, n2);
	expect_error(text, NRFCA_E_INPUT, "COSE: expected tag 18 (COSE_Sign1), found an array of 4");
	free(text);
	/* Algorithm -35 (ES384) instead of -7. */
	assert_int_equal(nrfca_b64url_decode(NULL, dot + 1, strlen(dot + 1), p2, sizeof(p2), &n2, &err), 0);
	assert_int_equal(p2[5], 0x26);
	p2[5] = 0x22; /* -3 */
	text = join((const unsigned char *)"\x30\x00", 2, p2, n2);
	expect_error(text, NRFCA_E_INPUT, "COSE algorithm is -3, only ES256 (-7) is accepted");
	free(text);
	free(payload);
}

static void test_size_limit(void **state)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	char *payload = vector_payload("keygen-csr-sectag17.txt");
	char *big = malloc(NRFCA_MODEM_OUT_MAX + 2);
	size_t len = strlen(payload);

	(void)state;
	/* Exactly at the limit (payload padded with white space): accepted. */
	memset(big, ' ', NRFCA_MODEM_OUT_MAX + 1);
	memcpy(big + 10, payload, len);
	assert_int_equal(parse_exact(big, NRFCA_MODEM_OUT_MAX, &m, &err), 0);
	nrfca_modem_out_free(m);
	m = NULL;
	/* One byte more: refused as too large, not truncated. */
	assert_int_equal(parse_exact(big, NRFCA_MODEM_OUT_MAX + 1, &m, &err), -1);
	assert_int_equal(err.code, NRFCA_E_TOO_LARGE);
	free(big);
	free(payload);
}

/* ---- COSE signatures made here with fresh keys ---- */

static void sign_raw(EVP_PKEY *key, const unsigned char *msg, size_t len, unsigned char rs[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *sig;
	const BIGNUM *r, *s;

	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &der_len, msg, len), 1);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
	assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
}

/* Append a bstr (head + bytes). */
static size_t put_bstr(unsigned char *out, const unsigned char *d, size_t n)
{
	size_t o = nrfca_cbor_put_head(out, 2, n);

	memcpy(out + o, d, n);
	return o + n;
}

/*
 * Build "<b64(part1)>.<b64(COSE_Sign1)>" signed by `key`.  With `detached`
 * the COSE payload is nil and the signature covers part 1 (ATTESTTOKEN).
 * The Sig_structure is written out by hand here, independently of the parser.
 */
static char *make_signed_tag(EVP_PKEY *key, const unsigned char *part1, size_t n1, int detached,
			     const unsigned char *tag, size_t tag_len)
{
	static const unsigned char prot[] = { 0xa1, 0x01, 0x26 };
	static const unsigned char uuid[16] = { 0x50, 0x36, 0x31, 0x54, 0x39, 0x31, 0x44, 0xf0,
						0x80, 0x22, 0x12, 0x1b, 0x64, 0x01, 0x62, 0x7d };
	unsigned char payload[128], tbs[4096], cose[4096], rs[64], digest[32];
	size_t np = 0, nt = 0, nc = 0;

	/* 55799([9, uuid, h'1834', digest, nonce]) */
	assert_int_equal(EVP_Digest(part1, n1, digest, NULL, EVP_sha256(), NULL), 1);
	memcpy(payload, "\xd9\xd9\xf7\x85\x09", 5);
	np = 5;
	np += put_bstr(payload + np, uuid, 16);
	np += put_bstr(payload + np, tag, tag_len);
	np += put_bstr(payload + np, digest, 32);
	np += put_bstr(payload + np, (const unsigned char *)"0123456789abcdef", 16);

	memcpy(tbs, "\x84\x6aSignature1", 12);
	nt = 12;
	nt += put_bstr(tbs + nt, prot, sizeof(prot));
	tbs[nt++] = 0x40;
	if (detached)
		nt += put_bstr(tbs + nt, part1, n1);
	else
		nt += put_bstr(tbs + nt, payload, np);
	sign_raw(key, tbs, nt, rs);

	memcpy(cose, "\xd2\x84", 2);
	nc = 2;
	nc += put_bstr(cose + nc, prot, sizeof(prot));
	memcpy(cose + nc, "\xa1\x04\x41\x21", 4);
	nc += 4;
	if (detached)
		cose[nc++] = 0xf6;
	else
		nc += put_bstr(cose + nc, payload, np);
	nc += put_bstr(cose + nc, rs, 64);
	return join(part1, n1, cose, nc);
}

static char *make_signed(EVP_PKEY *key, const unsigned char *part1, size_t n1, int detached)
{
	return make_signed_tag(key, part1, n1, detached, (const unsigned char *)"\x18\x34", 2);
}

static void check_signature(EVP_PKEY *key, EVP_PKEY *other, const unsigned char *p1, size_t n1,
			    int detached, enum nrfca_modem_kind kind)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	char *text = make_signed(key, p1, n1, detached);
	char *dot;
	unsigned char cose[4096];
	size_t nc;
	char *altered;

	if (parse_exact(text, strlen(text), &m, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m->kind, kind);
	assert_int_equal(nrfca_modem_out_verify_signature(m, key, &err), 0);
	assert_int_equal(nrfca_modem_out_verify_signature(m, other, &err), -1);
	assert_int_equal(err.code, NRFCA_E_BINDING);
	assert_non_null(strstr(err.msg, "does not verify"));
	nrfca_modem_out_free(m);
	m = NULL;

	/* Flip one bit in the last signature byte: still decodes, no longer verifies. */
	dot = strchr(text, '.');
	assert_int_equal(nrfca_b64url_decode(NULL, dot + 1, strlen(dot + 1), cose, sizeof(cose), &nc, &err), 0);
	cose[nc - 1] ^= 0x01;
	altered = join(p1, n1, cose, nc);
	assert_int_equal(parse_exact(altered, strlen(altered), &m, &err), 0);
	assert_int_equal(nrfca_modem_out_verify_signature(m, key, &err), -1);
	nrfca_modem_out_free(m);
	m = NULL;
	free(altered);
	/* A flip in the nonce (signed content): decodes, does not verify. */
	if (!detached) {
		cose[nc - 1] ^= 0x01;
		cose[nc - 64 - 2 - 3] ^= 0x80;
		altered = join(p1, n1, cose, nc);
		assert_int_equal(parse_exact(altered, strlen(altered), &m, &err), 0);
		assert_int_equal(nrfca_modem_out_verify_signature(m, key, &err), -1);
		nrfca_modem_out_free(m);
		free(altered);
	}
	free(text);
}

static void test_signature(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	char *payload, *dot, *text;
	unsigned char p1[4096];
	size_t n1, i;

	(void)state;
	assert_non_null(key);
	assert_non_null(other);
	assert_non_null(p384);
	/* KEYGEN with a real CSR as part 1. */
	payload = vector_payload("keygen-csr-sectag17.txt");
	dot = strchr(payload, '.');
	assert_int_equal(nrfca_b64url_decode(NULL, payload, (size_t)(dot - payload), p1, sizeof(p1), &n1, &err), 0);
	check_signature(key, other, p1, n1, 0, NRFCA_MODEM_CSR);
	free(payload);
	/* ATTESTTOKEN with the real body, detached payload. */
	payload = vector_payload("attesttoken-line.txt");
	dot = strchr(payload, '.');
	assert_int_equal(nrfca_b64url_decode(NULL, payload, (size_t)(dot - payload), p1, sizeof(p1), &n1, &err), 0);
	check_signature(key, other, p1, n1, 1, NRFCA_MODEM_ATTEST_TOKEN);
	free(payload);

	/* The real vectors do not verify with an unrelated key; a non-P-256 key is refused. */
	for (i = 0; i < test_vectors_count; i++) {
		text = vector_read(test_vectors[i].file, NULL);
		assert_int_equal(parse_exact(text, strlen(text), &m, &err), 0);
		assert_int_equal(nrfca_modem_out_verify_signature(m, key, &err), -1);
		assert_int_equal(nrfca_modem_out_verify_signature(m, p384, &err), -1);
		assert_non_null(strstr(err.msg, "P-256"));
		nrfca_modem_out_free(m);
		m = NULL;
		free(text);
	}
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	EVP_PKEY_free(p384);
}

/*
 * The modem's sec_tags are 0..2147483647 (FORMATS.md); a larger attested
 * sec_tag is refused while parsing, never stored (2^63 used to come back
 * negative from the ledger).
 */
static void test_sec_tag_range(void **state)
{
	static const struct {
		const char *cbor;
		size_t len;
		int ok;
		const char *shown;
	} tags[] = {
		{ "\x00", 1, 1, "0" },
		{ "\x1a\x01\x01\x00\x01", 5, 1, "16842753" },
		{ "\x1a\x7f\xff\xff\xff", 5, 1, "2147483647" },
		{ "\x1a\x80\x00\x00\x00", 5, 0, "2147483648" },
		{ "\x1a\xff\xff\xff\xff", 5, 0, "4294967295" },
		{ "\x1b\x80\x00\x00\x00\x00\x00\x00\x00", 9, 0, "9223372036854775808" },
		{ "\x1b\xff\xff\xff\xff\xff\xff\xff\xff", 9, 0, "18446744073709551615" },
	};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err = { 0 };
	unsigned char p1[4096];
	char *payload, *dot, *text;
	size_t n1, i;

	(void)state;
	assert_non_null(key);
	payload = vector_payload("keygen-csr-sectag17.txt");
	dot = strchr(payload, '.');
	assert_int_equal(nrfca_b64url_decode(NULL, payload, (size_t)(dot - payload), p1, sizeof(p1), &n1, &err), 0);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		text = make_signed_tag(key, p1, n1, 0, (const unsigned char *)tags[i].cbor, tags[i].len);
		nrfca_err_clear(&err);
		if (tags[i].ok) {
			if (parse_exact(text, strlen(text), &m, &err) != 0)
				fail_msg("sec_tag %s: %s", tags[i].shown, err.msg);
			assert_int_equal(m->has_sec_tag, 1);
			assert_true(m->sec_tag <= NRFCA_SEC_TAG_MAX);
			nrfca_modem_out_free(m);
			m = NULL;
		} else {
			assert_int_equal(parse_exact(text, strlen(text), &m, &err), -1);
			assert_null(m);
			assert_int_equal(err.code, NRFCA_E_INPUT);
			if (strstr(err.msg, tags[i].shown) == NULL || strstr(err.msg, "0..2147483647") == NULL)
				fail_msg("sec_tag %s: message '%s' does not name the value and the range",
					 tags[i].shown, err.msg);
		}
		free(text);
	}
	free(payload);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_vectors),
		cmocka_unit_test(test_input_forms),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_bitflips_text),
		cmocka_unit_test(test_bitflips_bytes),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_sec_tag_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
