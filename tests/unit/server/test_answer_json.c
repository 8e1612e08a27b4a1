/*
 * The enrollment answer written straight into a buffer (answer_json_write)
 * must be byte for byte what jansson writes for the same answer
 * (answer_json_tree, dumped with JSON_COMPACT, as the server answered
 * before): certificates and registrations, every PEM line length, with and
 * without sec_tag and trust bundle, and text that only jansson may write
 * (quotes, control characters, UTF-8, NUL in a trust bundle).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "answer_json.h"
#include "ledger.h"

static unsigned char der[2048];

static const char chain[] =
	"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUS2\nAbc+/=\n-----END CERTIFICATE-----\n"
	"-----BEGIN CERTIFICATE-----\nMIIBjTCCATOgAwIBAgIUF+/9\n-----END CERTIFICATE-----\n";

static void plain(struct cert_record *r, int kind, size_t der_len)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%032x", 0x5eed + (unsigned)der_len);
	snprintf(r->device_id, sizeof(r->device_id), "50363154-3931-44f0-8022-121a1e2b3c4d");
	snprintf(r->profile, sizeof(r->profile), "nrf-cloud-mqtt");
	r->sec_tag = 16842753;
	r->not_before = 1767225600LL;
	r->not_after = r->not_before + 3650LL * 86400;
	r->kind = kind;
	r->der = der;
	r->der_len = der_len;
}

/* jansson's answer, or NULL when it has none */
static char *reference(const char *ch, const char *tb, size_t tbl, const struct cert_record *r)
{
	json_t *o = answer_json_tree(ch, tb, tbl, r);
	char *txt = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return txt;
}

/* how the answer must be written: 0 directly, 1 through jansson */
static void same(const char *ch, const char *tb, size_t tbl, const struct cert_record *r,
		 int how)
{
	char *want = reference(ch, tb, tbl, r), *got = NULL;
	size_t len = 0;
	int rc = answer_json_write(ch, tb, tbl, r, &got, &len);

	if (want == NULL) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, how);
	assert_int_equal(strlen(got), len);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* Every PEM line length (a DER of 1 to 200 bytes and a few long ones),
 * both kinds, sec_tag set and not, with and without trust bundle. */
static void shapes(void **state)
{
	static const char tb[] = "-----BEGIN CERTIFICATE-----\nMIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF\n"
				 "-----END CERTIFICATE-----\n";
	struct cert_record r;
	size_t n;
	int kind;

	(void)state;
	for (kind = CERT_KIND_CERTIFICATE; kind <= CERT_KIND_PUBLIC_KEY; kind++) {
		for (n = 0; n <= 1100; n = n < 200 ? n + 1 : n + 97) {
			plain(&r, kind, n);
			same(chain, tb, strlen(tb), &r, 0);
			same(chain, NULL, 0, &r, 0);
			r.sec_tag = -1;
			same(chain, tb, strlen(tb), &r, 0);
			r.sec_tag = 9223372036854775807LL;
			r.not_before = 0;
			r.not_after = 253402300799LL;
			same(chain, NULL, 0, &r, 0);
		}
	}
}

/* 0 when the direct writer takes the text (printable ASCII but '"' and
 * '\\', CR, LF), 1 when jansson must write it */
static int direct(const char *s)
{
	for (; *s; s++)
		if (*s != '\r' && *s != '\n' &&
		    ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\'))
			return 1;
	return 0;
}

/* Text jansson escapes (or refuses) in every text member of the answer. */
static void texts(void **state)
{
	static const char *const odd[] = {
		"quoted \"x\"", "back\\slash", "tab\there", "cr\r\nlf\n", "bell\a", "del\x7f",
		"J\xc3\xbcrgen \xe2\x82\xac", "/slash/", "bad\xff", "cut\xc3", "", "\x01\x1f",
	};
	struct cert_record r;
	size_t i;
	int kind;

	(void)state;
	for (kind = CERT_KIND_CERTIFICATE; kind <= CERT_KIND_PUBLIC_KEY; kind++) {
		for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			plain(&r, kind, 300);
			same(odd[i], odd[i], strlen(odd[i]), &r, direct(odd[i]));
			snprintf(r.device_id, sizeof(r.device_id), "%s", odd[i]);
			same(chain, NULL, 0, &r, direct(odd[i]));
			plain(&r, kind, 300);
			snprintf(r.profile, sizeof(r.profile), "%s", odd[i]);
			same(chain, NULL, 0, &r, direct(odd[i]));
			plain(&r, kind, 300);
			snprintf(r.serial, sizeof(r.serial), "%s", odd[i]);
			same(chain, NULL, 0, &r, direct(odd[i]));
		}
		/* no chain: a certificate has no answer, a registration needs none */
		plain(&r, kind, 300);
		if (kind == CERT_KIND_PUBLIC_KEY)
			same(NULL, NULL, 0, &r, 0);
		else
			same(NULL, NULL, 0, &r, -1);
		/* a trust bundle with a NUL inside: jansson writes \u0000 */
		plain(&r, kind, 300);
		same(chain, "a\0b\r\n", 5, &r, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shapes),
		cmocka_unit_test(texts),
	};
	size_t i;

	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 131 + 7);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
