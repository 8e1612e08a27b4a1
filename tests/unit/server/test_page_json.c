/*
 * The page of GET /v1/certificates written straight into a buffer
 * (page_json) must be byte for byte what the server wrote before with a
 * jansson tree: every record as ca_record_json without "certificate", the
 * array, then "next", dumped with JSON_COMPACT.  The reference below is that
 * former code; every record shape and every character class a record's text
 * may hold is compared, including those that make jansson escape, omit a
 * member or refuse the record (text that is not UTF-8 ended the page).
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

#include "ca.h"
#include "ledger.h"
#include "page_json.h"

#define NREC 48

static unsigned char der[300];

/* The page as h_certs built it before page_json: stops at the first record
 * ca_record_json cannot make, as list_cb did. */
static char *reference(const struct cert_record *rs, size_t n, int limit)
{
	json_t *arr = json_array(), *o;
	char last[LEDGER_SERIAL_MAX + 1] = "";
	char *txt;
	size_t i;
	int cnt = 0;

	for (i = 0; i < n; i++) {
		o = ca_record_json(NULL, &rs[i]);
		if (o == NULL)
			break;
		json_object_del(o, "certificate");
		json_array_append_new(arr, o);
		snprintf(last, sizeof(last), "%s", rs[i].serial);
		cnt++;
	}
	o = json_pack("{s:o}", "certificates", arr);
	json_object_set_new(o, "next", cnt == limit ? json_string(last) : json_null());
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return txt;
}

/* The page as h_certs builds it now. */
static char *written(const struct cert_record *rs, size_t n, int limit)
{
	struct page_json *p = page_json_new(NULL);
	char last[LEDGER_SERIAL_MAX + 1] = "", *body = NULL;
	size_t i, len = 0;
	int cnt = 0;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		if (page_json_add(p, &rs[i]) != 0)
			break;
		snprintf(last, sizeof(last), "%s", rs[i].serial);
		cnt++;
	}
	assert_int_equal(page_json_finish(p, cnt == limit ? last : NULL, &body, &len), 0);
	assert_int_equal(strlen(body), len);
	return body;
}

static void same(const struct cert_record *rs, size_t n, int limit)
{
	char *want = reference(rs, n, limit), *got = written(rs, n, limit);

	assert_non_null(want);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void plain(struct cert_record *r, int i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%032x", 0x1000 + i);
	snprintf(r->device_id, sizeof(r->device_id), "50363154-3931-44f0-8022-12%010d", i);
	snprintf(r->uuid, sizeof(r->uuid), "%.36s", r->device_id);
	snprintf(r->imei, sizeof(r->imei), "352656109480783");
	snprintf(r->profile, sizeof(r->profile), "nrf-cloud-mqtt");
	snprintf(r->station, sizeof(r->station), "line-%02d", i % 7);
	r->sec_tag = 16842753;
	memset(r->csr_sha256, 0xa5 ^ i, sizeof(r->csr_sha256));
	r->csr_sha256[0] = (unsigned char)i;
	snprintf(r->subject, sizeof(r->subject), "CN=%s,O=Nordic/Line 3", r->device_id);
	r->not_before = 1767225600LL + i * 3600;
	r->not_after = r->not_before + 3650LL * 86400;
	r->issued_at = r->not_before + 300;
	r->status = CERT_ACTIVE;
	r->revocation_reason = -1;
	snprintf(r->request_id, sizeof(r->request_id), "req-%d", i);
	r->kind = CERT_KIND_CERTIFICATE;
	r->one_active = 1;
	r->der = der;
	r->der_len = 200 + (size_t)i % 100;
}

/* Every shape a record takes: states, reasons (known and not), kinds, the
 * optional members empty and set, extreme numbers. */
static void shapes(void **state)
{
	static struct cert_record rs[NREC];
	int i;

	(void)state;
	for (i = 0; i < NREC; i++) {
		plain(&rs[i], i);
		switch (i % 8) {
		case 1:
			rs[i].status = CERT_REVOKED;
			rs[i].revoked_at = rs[i].issued_at + 86400;
			rs[i].revocation_reason = i % 11; /* 7 is no reason: "unspecified" */
			break;
		case 2:
			rs[i].sec_tag = -1;
			rs[i].request_id[0] = rs[i].slot[0] = rs[i].uuid[0] = rs[i].imei[0] = '\0';
			break;
		case 3:
			rs[i].kind = CERT_KIND_PUBLIC_KEY;  /* its key stays in a list */
			rs[i].der_len = 91;
			break;
		case 4:
			rs[i].kind = CERT_KIND_PUBLIC_KEY;
			rs[i].der_len = 0;               /* no key: no member */
			rs[i].status = CERT_REVOKED;
			rs[i].revocation_reason = 99;
			break;
		case 5:
			snprintf(rs[i].slot, sizeof(rs[i].slot), "slot-%d", i);
			rs[i].sec_tag = 9223372036854775807LL;
			break;
		case 6:
			rs[i].not_before = 0;
			rs[i].not_after = 253402300799LL; /* 9999-12-31T23:59:59Z */
			rs[i].der_len = 1;
			break;
		default:
			break;
		}
	}
	for (i = 0; i <= NREC; i++) {
		same(rs, (size_t)i, i);          /* a full page: "next" is the last serial */
		same(rs, (size_t)i, NREC + 1);   /* the end of the list: null */
	}
}

/* Text that jansson escapes or refuses goes through jansson: quotes,
 * backslashes, control characters, DEL, UTF-8, and bytes that are not
 * UTF-8 (a member that jansson leaves out, or a record that ends the page). */
static void texts(void **state)
{
	static const char *const odd[] = {
		"CN=\"quoted\"", "CN=a\\,b", "CN=tab\there", "CN=line\nend", "CN=bell\a",
		"CN=del\x7f", "CN=J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91", "CN=/slash/",
		"CN=bad\xff", "CN=cut\xc3", "", "CN=\x01\x1f",
	};
	static struct cert_record rs[3 * (sizeof(odd) / sizeof(odd[0]))];
	size_t i, k, n = sizeof(odd) / sizeof(odd[0]);

	(void)state;
	for (i = 0; i < n; i++) {
		for (k = 0; k < 3; k++)
			plain(&rs[k], (int)k);
		snprintf(rs[1].subject, sizeof(rs[1].subject), "%s", odd[i]);
		same(rs, 3, 3);
		plain(&rs[1], 1);
		snprintf(rs[1].request_id, sizeof(rs[1].request_id), "%s", odd[i]);
		same(rs, 3, 3);
		plain(&rs[1], 1);
		snprintf(rs[1].slot, sizeof(rs[1].slot), "%.*s", LEDGER_SLOT_MAX, odd[i]);
		same(rs, 3, 3);
		plain(&rs[1], 1);
		snprintf(rs[1].station, sizeof(rs[1].station), "%s", odd[i]);
		same(rs, 3, 3);
	}
	/* many records, each with one odd member somewhere */
	for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		plain(&rs[i], (int)i);
		if (i % 3 == 1)
			snprintf(rs[i].profile, sizeof(rs[i].profile), "%s", odd[(i / 3) % n]);
	}
	same(rs, sizeof(rs) / sizeof(rs[0]), 1000);
}

/* Random bytes (any value, mostly ASCII) in the text members. */
static void random_text(void **state)
{
	static struct cert_record rs[64];
	unsigned int seed = 11;
	size_t i, k;
	int round;

	(void)state;
	for (round = 0; round < 50; round++) {
		for (i = 0; i < 64; i++) {
			char *t;

			plain(&rs[i], (int)i);
			t = (i % 4 == 0) ? rs[i].subject : (i % 4 == 1) ? rs[i].request_id :
			    (i % 4 == 2) ? rs[i].device_id : rs[i].imei;
			for (k = 0; k < 10; k++) {
				seed = seed * 1103515245u + 12345u;
				/* mostly ASCII, so that most records are UTF-8 */
				t[k] = (char)((seed >> 28) == 0 ? ((seed >> 16) % 255) + 1 : ((seed >> 16) % 127) + 1);
			}
			t[k] = '\0';
		}
		same(rs, 64, 64);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shapes),
		cmocka_unit_test(texts),
		cmocka_unit_test(random_text),
	};
	size_t i;

	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 7 + 3);
	der[0] = 0x30;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
