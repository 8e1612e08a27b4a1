/* Unit tests: nRF Cloud answer parsers, onboarding CSV rows, URL and key-file rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "httpc.h"
#include "nrfcloud.h"
#include "obcsv.h"
#include "onboard.h"

/* ---- nRF Cloud answers ---- */

static void accepted(void **state)
{
	struct nrfca_err e = { 0 };
	char id[NRFCLOUD_ID_MAX + 1];
	const char *ok = "{\"bulkOpsRequestId\":\"01EZZJVDQJPWT7V4FWNVDHNMM5\"}";
	const char *slash = "{\"bulkOpsRequestId\":\"../../v1/account\"}";
	char longid[200];

	(void)state;
	assert_int_equal(nrfcloud_parse_accepted(ok, strlen(ok), id, &e), 0);
	assert_string_equal(id, "01EZZJVDQJPWT7V4FWNVDHNMM5");
	assert_int_equal(nrfcloud_parse_accepted(slash, strlen(slash), id, &e), -1);
	assert_non_null(strstr(e.msg, "letters, digits"));
	assert_int_equal(nrfcloud_parse_accepted("{}", 2, id, &e), -1);
	assert_non_null(strstr(e.msg, "no bulkOpsRequestId"));
	assert_int_equal(nrfcloud_parse_accepted("[1]", 3, id, &e), -1);
	assert_int_equal(nrfcloud_parse_accepted("", 0, id, &e), -1);
	snprintf(longid, sizeof(longid), "{\"bulkOpsRequestId\":\"%080d\"}", 7);
	assert_int_equal(nrfcloud_parse_accepted(longid, strlen(longid), id, &e), -1);
	assert_non_null(strstr(e.msg, "1..64"));
}

static void bulk_status(void **state)
{
	struct nrfca_err e = { 0 };
	struct nrfcloud_bulk b;
	const char *failed = "{\"status\":\"FAILED\",\"errorSummaryUrl\":"
			     "\"https://bulk-ops-requests.nrfcloud.com/x/y.json\"}";
	const char *space = "{\"status\":\"FAILED\",\"errorSummaryUrl\":\"https://a b\"}";
	const char *odd = "{\"status\":\"DONE\"}";

	(void)state;
	assert_int_equal(nrfcloud_parse_bulk("{\"status\":\"PENDING\"}", 20, &b, &e), 0);
	assert_int_equal(b.status, NRFCLOUD_PENDING);
	nrfcloud_bulk_clear(&b);
	assert_int_equal(nrfcloud_parse_bulk("{\"status\":\"IN_PROGRESS\"}", 24, &b, &e), 0);
	assert_int_equal(b.status, NRFCLOUD_IN_PROGRESS);
	nrfcloud_bulk_clear(&b);
	assert_int_equal(nrfcloud_parse_bulk(failed, strlen(failed), &b, &e), 0);
	assert_int_equal(b.status, NRFCLOUD_FAILED);
	assert_string_equal(b.error_summary_url, "https://bulk-ops-requests.nrfcloud.com/x/y.json");
	nrfcloud_bulk_clear(&b);
	assert_int_equal(nrfcloud_parse_bulk(space, strlen(space), &b, &e), -1);
	assert_non_null(strstr(e.msg, "white space"));
	assert_int_equal(nrfcloud_parse_bulk(odd, strlen(odd), &b, &e), -1);
	assert_non_null(strstr(e.msg, "unknown bulk operation status 'DONE'"));
	assert_int_equal(nrfcloud_parse_bulk("{\"status\":3}", 12, &b, &e), -1);
}

static void error_summary(void **state)
{
	struct nrfca_err e = { 0 };
	struct nrfcloud_row_error *v = NULL;
	size_t n = 0;
	const char *s = "{\"errors\":[\"[0]: first row bad\",\"[ 2 ]: third\\nrow\","
			"\"[7]: out of range\",\"general failure\",\"[1]:\"]}";
	char *big;

	(void)state;
	assert_int_equal(nrfcloud_parse_error_summary(s, strlen(s), 3, &v, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_int_equal(v[0].row, 0);
	assert_string_equal(v[0].message, "first row bad");
	assert_int_equal(v[1].row, 2);
	assert_string_equal(v[1].message, "third row");   /* control characters: spaces */
	assert_int_equal(v[2].row, -1);                   /* index outside the upload */
	assert_int_equal(v[3].row, -1);
	assert_string_equal(v[3].message, "general failure");
	assert_int_equal(v[4].row, 1);
	assert_string_equal(v[4].message, "nRF Cloud gave no message");
	nrfcloud_row_errors_free(v, n);

	assert_int_equal(nrfcloud_parse_error_summary("{\"errors\":[1]}", 14, 3, &v, &n, &e), -1);
	assert_non_null(strstr(e.msg, "not a string"));
	assert_int_equal(nrfcloud_parse_error_summary("{}", 2, 3, &v, &n, &e), -1);
	assert_non_null(strstr(e.msg, "no \"errors\" list"));

	/* a message over the limit is not shown, but the row still fails */
	big = malloc(5000);
	assert_non_null(big);
	memcpy(big, "{\"errors\":[\"[1]: ", 17);
	memset(big + 17, 'x', 3000);
	memcpy(big + 3017, "\"]}", 4);
	assert_int_equal(nrfcloud_parse_error_summary(big, strlen(big), 3, &v, &n, &e), 0);
	assert_int_equal(v[0].row, 1);
	assert_non_null(strstr(v[0].message, "not shown"));
	nrfcloud_row_errors_free(v, n);
	free(big);

	assert_int_equal(nrfcloud_error_row(0, 1000), 0);
	assert_int_equal(nrfcloud_error_row(999, 1000), 999);
	assert_int_equal(nrfcloud_error_row(1000, 1000), -1);
	assert_int_equal(nrfcloud_error_row(-1, 1000), -1);
}

static void stages_and_urls(void **state)
{
	char why[200];

	(void)state;
	assert_string_equal(nrfcloud_stage_endpoint("prod"), "https://api.nrfcloud.com");
	assert_string_equal(nrfcloud_stage_endpoint("beta"), "https://api.beta.nrfcloud.com");
	assert_string_equal(nrfcloud_stage_endpoint("dev"), "https://api.dev.nrfcloud.com");
	assert_null(nrfcloud_stage_endpoint("staging"));
	assert_true(nrfca_http_url_safe("https://api.nrfcloud.com", why, sizeof(why)));
	assert_true(nrfca_http_url_safe("http://127.0.0.1:8080", why, sizeof(why)));
	assert_true(nrfca_http_url_safe("http://localhost", why, sizeof(why)));
	assert_false(nrfca_http_url_safe("http://api.nrfcloud.com", why, sizeof(why)));
	assert_non_null(strstr(why, "in the clear"));
	assert_false(nrfca_http_url_safe("ftp://x", why, sizeof(why)));
	assert_false(nrfca_http_url_safe("not a url", why, sizeof(why)));
}

static void key_file_mode(void **state)
{
	char path[] = "/tmp/nrfca-test-key-XXXXXX", *h = NULL;
	struct nrfca_err e = { 0 };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "sekrit-key\n", 11), 11);
	close(fd);
	chmod(path, 0600);
	assert_int_equal(nrfca_http_read_bearer(path, "API key file", 1, &h, &e), 0);
	assert_string_equal(h, "Authorization: Bearer sekrit-key");
	nrfca_http_secret_free(h);
	chmod(path, 0640);
	assert_int_equal(nrfca_http_read_bearer(path, "API key file", 1, &h, &e), -1);
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_null(strstr(e.msg, "sekrit"));
	unlink(path);
}

/* ---- onboarding CSV ---- */

/* A copy of a memory BIO's bytes (not NUL-terminated: no strndup). */
static char *bio_text(BIO *b)
{
	BUF_MEM *bm;
	char *out;

	BIO_get_mem_ptr(b, &bm);
	out = malloc(bm->length + 1);
	assert_non_null(out);
	memcpy(out, bm->data, bm->length);
	out[bm->length] = '\0';
	return out;
}

static char *cert_pem(const char *cn, const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *out;

	assert_non_null(k);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(b, x);
	out = bio_text(b);
	BIO_free(b);
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

static char *pub_pem(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *b = BIO_new(BIO_s_mem());
	char *out;

	PEM_write_bio_PUBKEY(b, k);
	out = bio_text(b);
	BIO_free(b);
	EVP_PKEY_free(k);
	return out;
}

static int parse(const char *text, int kind, struct nrfca_ob_set *s, struct nrfca_err *e)
{
	return nrfca_ob_parse("t.csv", text, strlen(text), kind, s, e);
}

static void csv_rows(void **state)
{
	char *a = cert_pem("dev-a", "P-256"), *b = cert_pem("dev-b", "P-256");
	char *crlf, text[8192];
	struct nrfca_ob_set s;
	struct nrfca_err e = { 0 };
	size_t i, j;

	(void)state;
	/* header, blank line, quoted subType with a comma, CRLF line endings */
	snprintf(text, sizeof(text), "deviceId,subType,tags,fwTypes,certPem\n\n"
		 "dev-a,,t1|t2,APP|MODEM,\"%s\"\n\n\"dev-b\",\"gate,way\",,,\"%s\"\n", a, b);
	crlf = malloc(strlen(text) * 2 + 1);
	for (i = j = 0; text[i]; i++) {
		if (text[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = text[i];
	}
	crlf[j] = '\0';
	assert_int_equal(parse(crlf, NRFCLOUD_ONBOARD_DEVICES, &s, &e), 0);
	assert_int_equal(s.header, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0].id, "dev-a");
	assert_int_equal(s.rows[0].row, 2);      /* the header is row 1 */
	assert_int_equal(s.rows[1].row, 3);
	assert_int_equal(s.cn_mismatch, 0);
	assert_non_null(strstr(s.rows[1].text, "dev-b,\"gate,way\",,,\"-----BEGIN CERTIFICATE-----\n"));
	assert_null(strchr(s.rows[0].text, '\r'));
	assert_int_equal(s.rows[0].text[s.rows[0].text_len - 1], '\n');
	assert_int_equal(s.rows[0].kind, NRFCLOUD_ONBOARD_DEVICES);
	nrfca_ob_set_clear(&s);
	free(crlf);

	/* bad rows: the first is named, nothing is kept */
	snprintf(text, sizeof(text), "dev-a,,bad tag,APP,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "row 1 (device dev-a): tags 'bad tag'"));
	snprintf(text, sizeof(text), "dev-a,,,APP|FIRMWARE,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "fwTypes"));
	snprintf(text, sizeof(text), "dev/a,,,APP,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "device id 'dev/a'"));
	snprintf(text, sizeof(text), "dev-a,,,APP,\"%s\"\ndev-a,,,APP,\"%s\"\n", a, b);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "device dev-a is in rows 1 and 2"));
	snprintf(text, sizeof(text), "dev-a,,,APP,\"%s", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "ends inside a quoted field"));
	snprintf(text, sizeof(text), "dev-a,,,APP,\"%s\"x\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "text after a closing quote"));
	snprintf(text, sizeof(text), "dev-a,,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "3 fields"));
	/* CN other than the device id: kept, counted */
	snprintf(text, sizeof(text), "dev-x,,,APP,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), 0);
	assert_int_equal(s.cn_mismatch, 1);
	assert_int_equal(s.cn_example, 1);
	nrfca_ob_set_clear(&s);
	free(a);
	free(b);
}

static void csv_keys_and_curves(void **state)
{
	char *p384 = cert_pem("dev-a", "P-384"), *k = pub_pem(), text[8192];
	struct nrfca_ob_set s;
	struct nrfca_err e = { 0 };

	(void)state;
	snprintf(text, sizeof(text), "dev-a,,,APP,\"%s\"\n", p384);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "not EC P-256"));
	snprintf(text, sizeof(text), "jwt-1,\"%s\"\n", k);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), -1);
	assert_non_null(strstr(e.msg, "use --public-keys"));
	assert_int_equal(parse(text, NRFCLOUD_REGISTER_PUBLIC_KEYS, &s, &e), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rows[0].kind, NRFCLOUD_REGISTER_PUBLIC_KEYS);
	assert_non_null(strstr(s.rows[0].text, "jwt-1,\"-----BEGIN PUBLIC KEY-----\n"));
	nrfca_ob_set_clear(&s);
	/* the queue takes both shapes */
	snprintf(text, sizeof(text), "jwt-1,\"%s\"\n", k);
	assert_int_equal(parse(text, -1, &s, &e), 0);
	nrfca_ob_set_clear(&s);
	free(p384);
	free(k);
}

static void results_file(void **state)
{
	char *a = cert_pem("dev-a", "P-256"), text[4096], path[] = "/tmp/nrfca-res-XXXXXX";
	struct nrfca_ob_set s;
	struct nrfca_err e = { 0 };
	char buf[1024];
	FILE *f;
	int fd = mkstemp(path);
	size_t n;

	(void)state;
	close(fd);
	snprintf(text, sizeof(text), "dev-a,,,APP,\"%s\"\n", a);
	assert_int_equal(parse(text, NRFCLOUD_ONBOARD_DEVICES, &s, &e), 0);
	nrfca_ob_set_result(&s.rows[0], NRFCA_OB_ERROR, "bad \"quote\"");
	nrfca_ob_set_result(&s.rows[0], NRFCA_OB_ERROR, "second");
	snprintf(s.rows[0].request, sizeof(s.rows[0].request), "OPID");
	assert_int_equal(nrfca_ob_write_results(path, &s, &e), 0);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "device_id,result,row,bulk_ops_request_id,message\n"
			    "dev-a,ERROR,1,OPID,\"bad \"\"quote\"\"; second\"\n");
	unlink(path);
	nrfca_ob_set_clear(&s);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepted),
		cmocka_unit_test(bulk_status),
		cmocka_unit_test(error_summary),
		cmocka_unit_test(stages_and_urls),
		cmocka_unit_test(key_file_mode),
		cmocka_unit_test(csv_rows),
		cmocka_unit_test(csv_keys_and_curves),
		cmocka_unit_test(results_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
