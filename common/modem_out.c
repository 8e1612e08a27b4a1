#include "modem_out.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include "b64url.h"
#include "cbor.h"
#include "digest.h"

#define CBOR_TAG_COSE_SIGN1 18
#define CBOR_TAG_SELF_DESCRIBED 55799
#define COSE_HDR_ALG 1
#define COSE_HDR_KID 4
#define COSE_ALG_ES256 (-7)
#define COSE_HDR_MAX_PAIRS 16     /* more header parameters than this is refused */
#define SEC_TAG_BSTR_MAX 9        /* a CBOR unsigned integer is at most 9 bytes */

static const char *const kind_names[NRFCA_MODEM_KIND_MAX] = {
	[NRFCA_MODEM_CSR] = "csr",
	[NRFCA_MODEM_PUBLIC_KEY] = "public_key",
	[NRFCA_MODEM_ATTEST_TOKEN] = "attestation_token",
};

const char *nrfca_modem_kind_name(enum nrfca_modem_kind k)
{
	if ((unsigned)k >= NRFCA_MODEM_KIND_MAX)
		return "unknown";
	return kind_names[k];
}

void nrfca_uuid_format(const unsigned char u[16], char out[37])
{
	char hex[33];

	nrfca_hex_encode(u, 16, hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
}

void nrfca_modem_out_free(struct nrfca_modem_out *m)
{
	if (m == NULL)
		return;
	free(m->part1);
	free(m->payload);
	free(m->sig_structure);
	free(m);
}

/* What the text says it is, from its "%KEYGEN:" / "%ATTESTTOKEN:" prefix. */
enum text_form { FORM_UNKNOWN, FORM_KEYGEN, FORM_ATTEST };

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Strip the envelope: white space, an optional trailing "OK" line, the
 * response prefix and the quotes.  Leaves [*b, *e) on "<part1>.<part2>".
 */
static int unwrap_text(const char *text, size_t len, const char **b, const char **e,
		       enum text_form *form, struct nrfca_err *err)
{
	const char *s = text, *t = text + len, *q;

	while (s < t && is_space(*s))
		s++;
	while (t > s && is_space(t[-1]))
		t--;
	/* A whole response pasted with its final result line. */
	if (t - s >= 3 && t[-1] == 'K' && t[-2] == 'O' && (t[-3] == '\n' || t[-3] == '\r')) {
		t -= 2;
		while (t > s && is_space(t[-1]))
			t--;
	}
	if (s == t)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the input is empty");
	*form = FORM_UNKNOWN;
	if ((size_t)(t - s) >= 8 && memcmp(s, "%KEYGEN:", 8) == 0) {
		*form = FORM_KEYGEN;
		s += 8;
	} else if ((size_t)(t - s) >= 13 && memcmp(s, "%ATTESTTOKEN:", 13) == 0) {
		*form = FORM_ATTEST;
		s += 13;
	} else if (*s == '%' || (*s >= 'A' && *s <= 'Z' && (q = memchr(s, ':', (size_t)(t - s))) != NULL &&
				 q - s < 16 && memchr(s, '.', (size_t)(q - s)) == NULL)) {
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the input starts with \"%.*s\"; expected %%KEYGEN: or %%ATTESTTOKEN: "
				     "output (the whole line, the quoted string or the bare payload)",
				     (int)((t - s) < 16 ? (t - s) : 16), s);
	}
	while (s < t && (*s == ' ' || *s == '\t'))
		s++;
	if (s < t && *s == '"') {
		if (t - s < 2 || t[-1] != '"')
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "the string has an opening quote but no closing quote: "
					     "it is probably truncated");
		s++;
		t--;
	} else if (s < t && t[-1] == '"') {
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the string has a closing quote but no opening quote");
	}
	if (s == t)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the quoted string is empty");
	*b = s;
	*e = t;
	return 0;
}

/* Read a bstr of exactly n bytes into out. */
static int expect_fixed_bstr(struct nrfca_cbor *c, unsigned char *out, size_t n,
			     const char *what, struct nrfca_err *err)
{
	const uint8_t *d;
	size_t len;

	if (nrfca_cbor_expect_bstr(c, &d, &len, what, err) != 0)
		return -1;
	if (len != n)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s: expected %zu bytes, found %zu%s",
				     what, n, len, len < n ? " (the data is truncated?)" : "");
	memcpy(out, d, n);
	return 0;
}

/* A header map key: an integer (returned in *label) or a text string (*label = INT64_MIN). */
static int header_label(struct nrfca_cbor *c, int64_t *label, const char *what,
			struct nrfca_err *err)
{
	struct nrfca_cbor_item it;
	char found[64];

	if (nrfca_cbor_read(c, &it, err) != 0) {
		nrfca_err_prefix(err, "%s", what);
		return -1;
	}
	if (it.type == NRFCA_CBOR_TSTR) {
		*label = INT64_MIN;
		return 0;
	}
	if ((it.type == NRFCA_CBOR_UINT || it.type == NRFCA_CBOR_NINT) && it.u <= INT64_MAX) {
		*label = it.type == NRFCA_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
		return 0;
	}
	nrfca_cbor_describe(&it, found, sizeof(found));
	return nrfca_err_set(err, NRFCA_E_INPUT, "%s: a header label must be an integer or text, "
			     "found %s", what, found);
}

/* Protected header: a bstr holding a map with {1: -7}. */
static int parse_protected(const uint8_t *d, size_t n, struct nrfca_err *err)
{
	static const char what[] = "COSE protected header";
	struct nrfca_cbor c;
	uint64_t pairs, i;
	int64_t label, alg;
	int have_alg = 0;

	if (n == 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE protected header is empty; expected {1: -7} (ES256)");
	nrfca_cbor_init(&c, d, n);
	if (nrfca_cbor_expect_map(&c, &pairs, what, err) != 0)
		return -1;
	if (pairs > COSE_HDR_MAX_PAIRS)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s has %" PRIu64 " entries, more than %d",
				     what, pairs, COSE_HDR_MAX_PAIRS);
	for (i = 0; i < pairs; i++) {
		if (header_label(&c, &label, what, err) != 0)
			return -1;
		if (label == COSE_HDR_ALG) {
			if (have_alg)
				return nrfca_err_set(err, NRFCA_E_INPUT, "%s names the algorithm twice", what);
			if (nrfca_cbor_expect_int(&c, &alg, "COSE algorithm", err) != 0)
				return -1;
			if (alg != COSE_ALG_ES256)
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "COSE algorithm is %" PRId64 ", only ES256 (-7) is accepted",
						     alg);
			have_alg = 1;
		} else if (nrfca_cbor_skip(&c, err) != 0) {
			nrfca_err_prefix(err, "%s", what);
			return -1;
		}
	}
	if (!nrfca_cbor_at_end(&c))
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s has %zu unexpected bytes after the map",
				     what, nrfca_cbor_remaining(&c));
	if (!have_alg)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s names no algorithm; expected {1: -7} (ES256)",
				     what);
	return 0;
}

/* Unprotected header: a bounded map; the key id (4) is kept when it fits. */
static int parse_unprotected(struct nrfca_cbor *c, struct nrfca_modem_out *m,
			     struct nrfca_err *err)
{
	static const char what[] = "COSE unprotected header";
	uint64_t pairs, i;
	int64_t label;
	const uint8_t *d;
	size_t n;

	if (nrfca_cbor_expect_map(c, &pairs, what, err) != 0)
		return -1;
	if (pairs > COSE_HDR_MAX_PAIRS)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s has %" PRIu64 " entries, more than %d",
				     what, pairs, COSE_HDR_MAX_PAIRS);
	for (i = 0; i < pairs; i++) {
		if (header_label(c, &label, what, err) != 0)
			return -1;
		if (label == COSE_HDR_KID) {
			if (m->has_kid)
				return nrfca_err_set(err, NRFCA_E_INPUT, "%s names the key id twice", what);
			if (nrfca_cbor_expect_bstr(c, &d, &n, "COSE key id", err) != 0)
				return -1;
			if (n > sizeof(m->kid))
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "COSE key id is %zu bytes, more than %zu", n,
						     sizeof(m->kid));
			memcpy(m->kid, d, n);
			m->kid_len = n;
			m->has_kid = 1;
		} else if (nrfca_cbor_skip(c, err) != 0) {
			nrfca_err_prefix(err, "%s", what);
			return -1;
		}
	}
	return 0;
}

/* %KEYGEN payload: 55799([id, uuid, bstr(sec_tag), digest, nonce]). */
static int parse_keygen_payload(const uint8_t *d, size_t n, struct nrfca_modem_out *m,
				struct nrfca_err *err)
{
	struct nrfca_cbor c, st;
	uint64_t count, id, tag;
	const uint8_t *sd;
	size_t sn;

	nrfca_cbor_init(&c, d, n);
	if (nrfca_cbor_expect_tag(&c, CBOR_TAG_SELF_DESCRIBED, "COSE payload", err) != 0)
		return -1;
	if (nrfca_cbor_expect_array(&c, &count, "COSE payload", err) != 0)
		return -1;
	if (count != 5)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE payload: expected an array of 5, found %" PRIu64 " items",
				     count);
	if (nrfca_cbor_expect_uint(&c, &id, "payload id", err) != 0)
		return -1;
	if (id != NRFCA_PAYLOAD_ID_CSR && id != NRFCA_PAYLOAD_ID_PUBKEY)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "payload id is %" PRIu64 "; expected 9 (CSR) or 8 (public key)", id);
	m->payload_id = (int)id;
	m->kind = id == NRFCA_PAYLOAD_ID_CSR ? NRFCA_MODEM_CSR : NRFCA_MODEM_PUBLIC_KEY;
	if (expect_fixed_bstr(&c, m->device_uuid, 16, "device UUID", err) != 0)
		return -1;
	if (nrfca_cbor_expect_bstr(&c, &sd, &sn, "sec_tag", err) != 0)
		return -1;
	if (sn == 0 || sn > SEC_TAG_BSTR_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "sec_tag: expected a byte string holding a CBOR unsigned integer, "
				     "found %zu bytes", sn);
	nrfca_cbor_init(&st, sd, sn);
	if (nrfca_cbor_expect_uint(&st, &tag, "sec_tag", err) != 0)
		return -1;
	if (!nrfca_cbor_at_end(&st))
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "sec_tag: unexpected bytes after the integer");
	if (tag > NRFCA_SEC_TAG_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "attested sec_tag %" PRIu64 " is outside the modem's range 0..%lu",
				     tag, NRFCA_SEC_TAG_MAX);
	m->sec_tag = (unsigned long)tag;
	m->has_sec_tag = 1;
	if (expect_fixed_bstr(&c, m->digest, 32, "attested SHA-256 digest", err) != 0)
		return -1;
	if (expect_fixed_bstr(&c, m->nonce, 16, "nonce", err) != 0)
		return -1;
	if (!nrfca_cbor_at_end(&c))
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE payload has %zu unexpected bytes after its array",
				     nrfca_cbor_remaining(&c));
	return 0;
}

/* %ATTESTTOKEN body (part 1): 55799([1, uuid, device type, fw uuid, nonce]). */
static int parse_attest_body(const uint8_t *d, size_t n, struct nrfca_modem_out *m,
			     struct nrfca_err *err)
{
	struct nrfca_cbor c;
	uint64_t count, id, type;

	nrfca_cbor_init(&c, d, n);
	if (nrfca_cbor_expect_tag(&c, CBOR_TAG_SELF_DESCRIBED, "attestation token body", err) != 0)
		return -1;
	if (nrfca_cbor_expect_array(&c, &count, "attestation token body", err) != 0)
		return -1;
	if (count != 5)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "attestation token body: expected an array of 5, found %" PRIu64
				     " items", count);
	if (nrfca_cbor_expect_uint(&c, &id, "attestation token type", err) != 0)
		return -1;
	if (id != NRFCA_PAYLOAD_ID_ATTEST)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "attestation token type is %" PRIu64 "; expected 1", id);
	m->payload_id = (int)id;
	if (expect_fixed_bstr(&c, m->device_uuid, 16, "device UUID", err) != 0)
		return -1;
	if (nrfca_cbor_expect_uint(&c, &type, "device type", err) != 0)
		return -1;
	if (type > INT_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "device type %" PRIu64 " is out of range", type);
	m->device_type = (int)type;
	if (expect_fixed_bstr(&c, m->fw_uuid, 16, "modem firmware UUID", err) != 0)
		return -1;
	if (expect_fixed_bstr(&c, m->nonce, 16, "nonce", err) != 0)
		return -1;
	if (!nrfca_cbor_at_end(&c))
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "attestation token body has %zu unexpected bytes after its array",
				     nrfca_cbor_remaining(&c));
	nrfca_uuid_format(m->fw_uuid, m->fw_uuid_str);
	return 0;
}

/* Sig_structure = ["Signature1", protected, h'', payload] (RFC 9052 section 4.4). */
static int build_sig_structure(struct nrfca_modem_out *m, const uint8_t *prot, size_t prot_len,
			       const uint8_t *payload, size_t payload_len, struct nrfca_err *err)
{
	static const char ctx[] = "Signature1";
	size_t cap = 1 + 9 + (sizeof(ctx) - 1) + 9 + prot_len + 1 + 9 + payload_len, o = 0;
	uint8_t *s = malloc(cap);

	if (s == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	o += nrfca_cbor_put_head(s + o, 4, 4);
	o += nrfca_cbor_put_head(s + o, 3, sizeof(ctx) - 1);
	memcpy(s + o, ctx, sizeof(ctx) - 1);
	o += sizeof(ctx) - 1;
	o += nrfca_cbor_put_head(s + o, 2, prot_len);
	memcpy(s + o, prot, prot_len);
	o += prot_len;
	o += nrfca_cbor_put_head(s + o, 2, 0);
	o += nrfca_cbor_put_head(s + o, 2, payload_len);
	if (payload_len > 0)
		memcpy(s + o, payload, payload_len);
	o += payload_len;
	m->sig_structure = s;
	m->sig_structure_len = o;
	return 0;
}

/* Decode the COSE_Sign1 of part 2 and everything it carries. */
static int parse_cose(const uint8_t *d, size_t n, enum text_form form, struct nrfca_modem_out *m,
		      struct nrfca_err *err)
{
	struct nrfca_cbor c;
	struct nrfca_cbor_item it;
	uint64_t count;
	const uint8_t *prot, *payload = NULL;
	size_t prot_len, payload_len = 0;
	char found[64];

	nrfca_cbor_init(&c, d, n);
	if (nrfca_cbor_read(&c, &it, err) != 0) {
		nrfca_err_prefix(err, "COSE");
		return -1;
	}
	if (it.type != NRFCA_CBOR_TAG || it.u != CBOR_TAG_COSE_SIGN1) {
		nrfca_cbor_describe(&it, found, sizeof(found));
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE: expected tag 18 (COSE_Sign1), found %s", found);
	}
	if (nrfca_cbor_expect_array(&c, &count, "COSE_Sign1", err) != 0)
		return -1;
	if (count != 4)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE_Sign1: expected an array of 4, found %" PRIu64 " items", count);
	if (nrfca_cbor_expect_bstr(&c, &prot, &prot_len, "COSE protected header", err) != 0)
		return -1;
	if (parse_protected(prot, prot_len, err) != 0)
		return -1;
	if (parse_unprotected(&c, m, err) != 0)
		return -1;
	if (nrfca_cbor_read(&c, &it, err) != 0) {
		nrfca_err_prefix(err, "COSE payload");
		return -1;
	}
	if (it.type == NRFCA_CBOR_BSTR) {
		payload = it.data;
		payload_len = it.len;
	} else if (!(it.type == NRFCA_CBOR_SIMPLE && it.u == NRFCA_CBOR_SIMPLE_NULL)) {
		nrfca_cbor_describe(&it, found, sizeof(found));
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE payload: expected a byte string or nil, found %s", found);
	}
	if (expect_fixed_bstr(&c, m->signature, 64, "COSE signature", err) != 0)
		return -1;
	if (!nrfca_cbor_at_end(&c))
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "COSE: %zu unexpected bytes after the COSE_Sign1 (pasted twice?)",
				     nrfca_cbor_remaining(&c));

	if (payload == NULL) {
		if (form == FORM_KEYGEN)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "the line says %%KEYGEN but its COSE payload is nil, as in "
					     "%%ATTESTTOKEN output");
		m->kind = NRFCA_MODEM_ATTEST_TOKEN;
		if (parse_attest_body(m->part1, m->part1_len, m, err) != 0)
			return -1;
		/* Detached payload: the signature covers the token body (part 1). */
		return build_sig_structure(m, prot, prot_len, m->part1, m->part1_len, err);
	}
	if (form == FORM_ATTEST)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the line says %%ATTESTTOKEN but its COSE payload is not nil, as in "
				     "%%KEYGEN output");
	if (parse_keygen_payload(payload, payload_len, m, err) != 0)
		return -1;
	return build_sig_structure(m, prot, prot_len, payload, payload_len, err);
}

int nrfca_modem_out_parse(const char *text, size_t len, struct nrfca_modem_out **out,
			  struct nrfca_err *err)
{
	struct nrfca_modem_out *m = NULL;
	const char *b = NULL, *e = NULL, *dot;
	enum text_form form = FORM_UNKNOWN;
	unsigned char *p2 = NULL;
	size_t len1, len2, cap1, cap2, n2 = 0;
	int rc = -1;

	if (text == NULL) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the input is empty");
		goto out;
	}
	if (len > NRFCA_MODEM_OUT_MAX) {
		nrfca_err_set(err, NRFCA_E_TOO_LARGE,
			      "the input is %zu bytes, more than the %d allowed for modem output",
			      len, NRFCA_MODEM_OUT_MAX);
		goto out;
	}
	if (unwrap_text(text, len, &b, &e, &form, err) != 0)
		goto out;
	dot = memchr(b, '.', (size_t)(e - b));
	if (dot == NULL) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "no '.' separating the two parts: the string is probably truncated "
			      "or only one part was copied");
		goto out;
	}
	if (memchr(dot + 1, '.', (size_t)(e - dot - 1)) != NULL) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "more than one '.': expected exactly two parts <part1>.<part2>");
		goto out;
	}
	len1 = (size_t)(dot - b);
	len2 = (size_t)(e - dot - 1);
	if (len1 == 0 || len2 == 0) {
		nrfca_err_set(err, NRFCA_E_INPUT, "part %d is empty", len1 == 0 ? 1 : 2);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	cap1 = nrfca_b64url_decoded_max(len1);
	cap2 = nrfca_b64url_decoded_max(len2);
	if (m == NULL || (m->part1 = malloc(cap1 ? cap1 : 1)) == NULL ||
	    (p2 = malloc(cap2 ? cap2 : 1)) == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	m->device_type = -1;
	m->payload_len = (size_t)(e - b);
	m->payload = malloc(m->payload_len + 1);   /* the input is not NUL-terminated */
	if (m->payload == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(m->payload, b, m->payload_len);
	m->payload[m->payload_len] = '\0';
	if (nrfca_b64url_decode("part 1", b, len1, m->part1, cap1, &m->part1_len, err) != 0)
		goto out;
	if (nrfca_b64url_decode("part 2", dot + 1, len2, p2, cap2, &n2, err) != 0)
		goto out;
	if (nrfca_sha256(m->part1, m->part1_len, m->part1_sha256) != 0) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if (parse_cose(p2, n2, form, m, err) != 0)
		goto out;
	nrfca_uuid_format(m->device_uuid, m->device_uuid_str);
	if (m->kind == NRFCA_MODEM_ATTEST_TOKEN) {
		m->binding_ok = 1;
	} else {
		m->binding_ok = CRYPTO_memcmp(m->digest, m->part1_sha256, 32) == 0;
		if (!m->binding_ok) {
			nrfca_err_set(err, NRFCA_E_BINDING,
				      "attestation digest does not match the %s: the string is probably "
				      "truncated or altered",
				      m->kind == NRFCA_MODEM_CSR ? "CSR" : "public key");
			goto out;
		}
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	free(p2);
	nrfca_modem_out_free(m);
	return rc;
}

static int is_p256(const EVP_PKEY *pk)
{
	char name[64];
	size_t n = 0;

	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC)
		return 0;
	if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &n) != 1)
		return 0;
	return OBJ_txt2nid(name) == NID_X9_62_prime256v1;
}

int nrfca_modem_out_verify_signature(const struct nrfca_modem_out *m, EVP_PKEY *identity_pub,
				     struct nrfca_err *err)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	int der_len, v, rc = -1;

	if (m == NULL || m->sig_structure == NULL || identity_pub == NULL) {
		nrfca_err_set(err, NRFCA_E_INTERNAL, "no decoded output or no identity key to verify with");
		goto out;
	}
	if (!is_p256(identity_pub)) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "the identity public key is not EC P-256, so it cannot verify ES256");
		goto out;
	}
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(m->signature, 32, NULL);
	s = BN_bin2bn(m->signature + 32, 32, NULL);
	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		nrfca_err_ssl(err, NRFCA_E_NOMEM, "cannot prepare the signature");
		goto out;
	}
	r = s = NULL; /* owned by sig now */
	der_len = i2d_ECDSA_SIG(sig, &der);
	if (der_len <= 0) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot encode the signature");
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, nrfca_md_sha256(), NULL, identity_pub) != 1) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot start signature verification");
		goto out;
	}
	v = EVP_DigestVerify(ctx, der, (size_t)der_len, m->sig_structure, m->sig_structure_len);
	if (v != 1) {
		nrfca_err_ssl(err, NRFCA_E_BINDING,
			      "the COSE signature does not verify with the given identity key "
			      "(another device's key, or the output was altered)");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}
