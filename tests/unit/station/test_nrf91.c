/* Unit tests of the nRF91 operations: pure helpers and steps against a scripted modem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fake_peer.h"
#include "nrf91.h"

static void test_fw_parse_table(void **state)
{
	static const struct {
		const char *s;
		int ok;
		enum nrf91_family fam;
		unsigned a, b, c;
		int ntn, keygen, hashes;
	} t[] = {
		{ "mfw_nrf9160_1.3.5", 1, NRF91_FAMILY_9160, 1, 3, 5, 0, 1, 1 },
		{ "mfw_nrf9160_1.3.0", 1, NRF91_FAMILY_9160, 1, 3, 0, 0, 1, 0 },
		{ "mfw_nrf9160_1.3.1", 1, NRF91_FAMILY_9160, 1, 3, 1, 0, 1, 0 },
		{ "mfw_nrf9160_1.3.2", 1, NRF91_FAMILY_9160, 1, 3, 2, 0, 1, 1 },
		{ "mfw_nrf9160_1.2.7", 1, NRF91_FAMILY_9160, 1, 2, 7, 0, 0, 0 },
		{ "mfw_nrf9160_1.3.0-FOTA-TEST", 1, NRF91_FAMILY_9160, 1, 3, 0, 0, 1, 0 },
		{ "mfw_nrf91x1_2.0.2", 1, NRF91_FAMILY_91X1, 2, 0, 2, 0, 1, 1 },
		{ "mfw_nrf91x1_2.0.0", 1, NRF91_FAMILY_91X1, 2, 0, 0, 0, 1, 1 },
		{ "mfw_nrf91x1_1.9.9", 1, NRF91_FAMILY_91X1, 1, 9, 9, 0, 0, 1 },
		{ "mfw_nrf9151-ntn_1.0.0", 1, NRF91_FAMILY_91X1, 1, 0, 0, 1, 1, 1 },
		{ "mfw-nrf91x1_10.20.300", 1, NRF91_FAMILY_91X1, 10, 20, 300, 0, 1, 1 },
		{ "1.3.5", 1, NRF91_FAMILY_UNKNOWN, 1, 3, 5, 0, 0, 0 },
		{ "mfw_nrf9160_1.3", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw_nrf9160_1.3.5.1", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw_nrf9160_1.3.5_2.0.0", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw_nrf9160_v1.3.5", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw_nrf9160_1.3.5x", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw nrf9160 1.3.5", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "", 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "mfw_nrf9160_1.3.5_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
		  0, 0, 0, 0, 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct nrf91_fw fw;
		struct nrfca_err e = { 0 };
		int r = nrf91_fw_parse(t[i].s, &fw, &e);

		if (!t[i].ok) {
			if (r != -1)
				fail_msg("%s parsed but should not", t[i].s);
			assert_true(e.msg[0] != '\0');
			continue;
		}
		if (r != 0)
			fail_msg("%s: %s", t[i].s, e.msg);
		assert_int_equal(fw.family, t[i].fam);
		assert_int_equal(fw.major, t[i].a);
		assert_int_equal(fw.minor, t[i].b);
		assert_int_equal(fw.patch, t[i].c);
		assert_int_equal(fw.ntn, t[i].ntn);
		assert_string_equal(fw.raw, t[i].s);
		if (nrf91_fw_supports_keygen(&fw) != t[i].keygen)
			fail_msg("%s: keygen support wrong", t[i].s);
		if (nrf91_fw_shows_hashes(&fw) != t[i].hashes)
			fail_msg("%s: hash display wrong", t[i].s);
	}
}

static void test_luhn(void **state)
{
	assert_true(nrf91_imei_valid("352656109480783"));
	assert_true(nrf91_imei_valid("490154203237518"));
	assert_false(nrf91_imei_valid("352656109480784"));
	assert_false(nrf91_imei_valid("352656109480738"));  /* transposed */
	assert_false(nrf91_imei_valid("35265610948078"));
	assert_false(nrf91_imei_valid("3526561094807830"));
	assert_false(nrf91_imei_valid("35265610948078a"));
	assert_false(nrf91_imei_valid(""));
}

static void test_cmng_line(void **state)
{
	struct nrf91_cred c;
	struct nrfca_err e = { 0 };
	static const char *const bad[] = {
		"%CMNG: 16842753", "%CMNG: ,0", "%CMNG: 16842753,0,", "%CMNG: 16842753,0,\"2C43\"",
		"%CMNG: 16842753,0,\"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1",
		"%CMNG: 99999999999,0", "%CMNG: 1,0 junk", "CMNG: 1,0", "%CMNG: 1,1234",
		"%CMNG: 1,0,\"ZZ43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1\"",
	};
	size_t i;

	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 16842753,0,\"2C43952EE9E000FF2ACC4E2ED0897C0A"
					       "72AD5FA72C3D934E81741CBD54F05BD1\"", &c, &e), 0);
	assert_int_equal(c.sec_tag, 16842753);
	assert_int_equal(c.type, 0);
	assert_true(c.has_hash);
	assert_string_equal(c.sha256,
			    "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1");
	/* lower-case hash is normalised */
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 7,1,\"2c43952ee9e000ff2acc4e2ed0897c0a"
					       "72ad5fa72c3d934e81741cbd54f05bd1\"", &c, &e), 0);
	assert_string_equal(c.sha256,
			    "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1");
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 12,2", &c, &e), 0);
	assert_false(c.has_hash);
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 12,0,\"\"", &c, &e), 0);
	assert_false(c.has_hash);
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 2147483647,0", &c, &e), 0);
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 2147483648,0", &c, &e), 1);
	assert_int_equal(nrf91_cmng_parse_line("%CMNG: 4294967292,0,\"2C43952EE9E000FF2ACC4E2E"
					       "D0897C0A72AD5FA72C3D934E81741CBD54F05BD1\"", &c, &e), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (nrf91_cmng_parse_line(bad[i], &c, &e) != -1)
			fail_msg("accepted %s", bad[i]);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = calloc(1, 16384);
	size_t n;

	assert_non_null(f);
	assert_non_null(b);
	n = fread(b, 1, 16383, f);
	fclose(f);
	*len = n;
	return b;
}

static void sha_of(const char *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int l;
	size_t i;

	assert_int_equal(EVP_Digest(p, n, md, &l, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02X", md[i]);
}

static void test_prepare(void **state)
{
	const char *data = getenv("NRFCA_TEST_DATA");
	char path[512], *pem, *out = NULL, hash[65];
	size_t len, olen = 0, i, lf = 0, crlf = 0;
	struct nrfca_err e = { 0 };

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/../../policies/trust/aws-root-ca1.pem", data);
	pem = slurp(path, &len);
	assert_int_equal(nrf91_cmng_prepare(0, pem, len, NRF91_EOL_LF, &out, &olen, &e), 0);
	sha_of(out, olen, hash);
	assert_string_equal(hash, "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1");
	free(out);
	assert_int_equal(nrf91_cmng_prepare(0, pem, len, NRF91_EOL_CRLF, &out, &olen, &e), 0);
	for (i = 0; i < olen; i++)
		if (out[i] == '\n') {
			lf++;
			if (i > 0 && out[i - 1] == '\r')
				crlf++;
		}
	assert_true(lf > 10);
	assert_int_equal(lf, crlf);
	assert_int_equal(olen, len + lf);
	free(out);
	/* refusals */
	assert_int_equal(nrf91_cmng_prepare(6, pem, len, NRF91_EOL_LF, &out, &olen, &e), -1);
	assert_int_equal(nrf91_cmng_prepare(2, "key", 3, NRF91_EOL_LF, &out, &olen, &e), -1);
	pem[40] = '"';
	assert_int_equal(nrf91_cmng_prepare(0, pem, len, NRF91_EOL_LF, &out, &olen, &e), -1);
	assert_non_null(strstr(e.msg, "double quote"));
	assert_int_equal(nrf91_cmng_prepare(0, "hello\n", 6, NRF91_EOL_LF, &out, &olen, &e), -1);
	assert_non_null(strstr(e.msg, "PEM"));
	assert_int_equal(nrf91_cmng_prepare(3, "00112233\n", 9, NRF91_EOL_LF, &out, &olen, &e), 0);
	assert_int_equal(olen, 8);
	free(out);
	assert_int_equal(nrf91_cmng_prepare(3, "xyz", 3, NRF91_EOL_LF, &out, &olen, &e), -1);
	assert_int_equal(nrf91_cmng_prepare(4, "id\nx", 4, NRF91_EOL_LF, &out, &olen, &e), -1);
	assert_int_equal(nrf91_cmng_prepare(4, "a\0b", 3, NRF91_EOL_LF, &out, &olen, &e), -1);
	free(pem);
	pem = calloc(1, NRF91_CRED_SIZE_MAX + 2);
	assert_non_null(pem);
	memset(pem, 'A', NRF91_CRED_SIZE_MAX + 1);
	assert_int_equal(nrf91_cmng_prepare(4, pem, NRF91_CRED_SIZE_MAX + 1, NRF91_EOL_LF, &out,
					    &olen, &e), -1);
	assert_int_equal(e.code, NRFCA_E_TOO_LARGE);
	free(pem);
}

struct mfx {
	char trace[4096];
	struct peer *peer;
	struct nrfca_serial *port;
	struct nrfca_at *at;
	struct nrf91 *m;
	struct nrfca_err e;
};

static void mtrace(void *ctx, enum nrfca_at_dir dir, const char *line)
{
	struct mfx *f = ctx;
	size_t n = strlen(f->trace);

	snprintf(f->trace + n, sizeof(f->trace) - n, "%s\n", line);
}

static struct mfx *mstart_mode(const struct peer_step *s, size_t n, enum nrfca_at_prefix mode)
{
	struct mfx *f = calloc(1, sizeof(*f));
	struct nrfca_at_opts o = { mode, NULL, mtrace, NULL, 0 };

	assert_non_null(f);
	o.trace_ctx = f;
	f->peer = peer_start(s, n, &f->port);
	assert_non_null(f->peer);
	assert_int_equal(nrfca_at_create(f->port, &o, &f->at, &f->e), 0);
	assert_int_equal(nrf91_attach(f->at, &f->m, &f->e), 0);
	return f;
}

static struct mfx *mstart(const struct peer_step *s, size_t n)
{
	return mstart_mode(s, n, NRFCA_AT_PREFIX_NONE);
}

static void mstop(struct mfx *f)
{
	int mm = peer_finish(f->peer);

	nrf91_close(f->m);
	nrfca_at_free(f->at);
	nrfca_serial_close(f->port);
	peer_free(f->peer);
	free(f);
	assert_int_equal(mm, 0);
}

static void test_identity_steps(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CMEE=1\r\n", "OK\r\n", 0, 0, 0, 0 },
		{ "AT+CGMR\r\n", "\r\n+CSCON: 0\r\nmfw_nrf91x1_2.0.2\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", "352656109480783\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT%DEVICEUUID\r\n", "%DEVICEUUID: 50345053-3639-49C0-80FE-172000F3296D\r\nOK\r\n",
		  0, 0, 0, 0 },
		{ "AT+CGMM\r\n", "[00:00:01.000,000] <inf> app: hi\r\nnRF9151-LACA\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT+CFUN?\r\n", "+CFUN: 1\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT+CFUN=4\r\n", "OK\r\n", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", "352656109480784\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", "OK\r\n", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", "35265610948078\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct mfx *f = mstart(s, 10);
	struct nrf91_fw fw;
	char imei[16], uuid[37], model[64];
	int mode = -1;

	assert_int_equal(nrf91_cmee_enable(f->m, &f->e), 0);
	assert_int_equal(nrf91_read_fw(f->m, &fw, &f->e), 0);
	assert_string_equal(fw.raw, "mfw_nrf91x1_2.0.2");
	assert_int_equal(nrf91_read_imei(f->m, imei, &f->e), 0);
	assert_string_equal(imei, "352656109480783");
	assert_int_equal(nrf91_read_uuid(f->m, uuid, &f->e), 0);
	assert_string_equal(uuid, "50345053-3639-49c0-80fe-172000f3296d");
	assert_int_equal(nrf91_read_model(f->m, model, &f->e), 0);
	assert_string_equal(model, "nRF9151-LACA");
	assert_int_equal(nrf91_cfun_get(f->m, &mode, &f->e), 0);
	assert_int_equal(mode, 1);
	assert_int_equal(nrf91_cfun_set(f->m, 4, &f->e), 0);
	assert_int_equal(nrf91_read_imei(f->m, imei, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "Luhn"));
	/* an IMEI of the wrong form is named as such, not as a silent modem */
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_IDENTITY);
	assert_int_equal(nrf91_read_imei(f->m, imei, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "without a 15-digit IMEI line"));
	assert_int_equal(nrf91_read_imei(f->m, imei, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "IMEI \"35265610948078\""));
	assert_non_null(strstr(f->e.msg, "14 digits"));
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_IDENTITY);
	assert_int_equal(nrf91_failure_exit(f->m), 8);
	mstop(f);
}

static void test_cmng_steps(void **state)
{
	static struct peer_step s[] = {
		{ "AT%CMNG=1\r\n",
		  "%CMNG: 16842753,0,\"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1\"\r\n"
		  "+CEREG: 2\r\n"
		  "%CMNG: 16842753,2,\"0000000000000000000000000000000000000000000000000000000000000000\"\r\n"
		  "%CMNG: 4294967292,0,\"1111111111111111111111111111111111111111111111111111111111111111\"\r\n"
		  "OK\r\n", 0, 0, 0, 0 },
		{ "AT%CMNG=3,42,0\r\n", "+CME ERROR: 513\r\n", 0, 0, 0, 0 },
		{ "AT%CMNG=0,42,0,\"-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----\r\n\"\r\n",
		  "+CME ERROR: 527\r\n", 0, 0, 0, 0 },
		{ NULL, "ERROR\r\n", 0, 0, 0, 0 },
		{ "AT%CMNG=1\r\n", "%CMNG: 1,0,\"2C43\"\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT%CMNG=0,5,2,\"-----BEGIN EC PRIVATE KEY-----\r\nSECRETKEYBYTES\r\n"
		  "-----END EC PRIVATE KEY-----\r\n\"\r\n",
		  "AT%CMNG=0,5,2,\"-----BEGIN EC PRIVATE KEY-----\r\nSECRETKEYBYTES\r\n"
		  "-----END EC PRIVATE KEY-----\r\n\"\r\nOK\r\n", 0, 0, 0, 0 },
	};
	static const char key[] = "-----BEGIN EC PRIVATE KEY-----\nSECRETKEYBYTES\n"
				  "-----END EC PRIVATE KEY-----\n";
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	struct nrf91_cred *v = NULL;
	static char big[2100], wire[2200];
	char hash[65], want[64];
	size_t n = 0;
	int code = 0;
	struct mfx *f;

	snprintf(big, sizeof(big), "-----BEGIN CERTIFICATE-----\n%02000d\n-----END CERTIFICATE-----\n", 0);
	snprintf(wire, sizeof(wire), "AT%%CMNG=0,42,0,\"%s\"\r\n", big);
	s[3].expect = wire;
	f = mstart(s, 6);

	assert_int_equal(nrf91_cmng_list(f->m, &v, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].sec_tag, 16842753);
	assert_int_equal(v[1].type, 2);
	free(v);
	assert_int_equal(nrf91_cmng_delete(f->m, 42, 0, &f->e), -1);
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_REFUSED);
	assert_int_equal(nrf91_last_final(f->m, &code), NRFCA_AT_FINAL_CME);
	assert_int_equal(code, 513);
	assert_non_null(strstr(f->e.msg, "+CME ERROR: 513 not found"));
	assert_int_equal(nrf91_cmng_write(f->m, 42, 0, pem, strlen(pem), NRF91_EOL_CRLF, hash,
					  &f->e), -1);
	assert_non_null(strstr(f->e.msg, "527"));
	assert_non_null(strstr(f->e.msg, "--line-ending lf"));
	/* a long write answered with bare ERROR: name the size */
	assert_int_equal(nrf91_cmng_write(f->m, 42, 0, big, strlen(big), NRF91_EOL_LF, hash,
					  &f->e), -1);
	assert_non_null(strstr(f->e.msg, "AT input buffer"));
	snprintf(want, sizeof(want), "%zu-byte", strlen(wire) - 2);
	assert_non_null(strstr(f->e.msg, want));
	/* a malformed list line is an error, not silently skipped */
	assert_int_equal(nrf91_cmng_list(f->m, &v, &n, &f->e), -1);
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_ANSWER);
	assert_non_null(strstr(f->e.msg, "unexpected %CMNG list line"));
	/* a private key (host-key path) is written but never traced, nor its echo */
	assert_int_equal(nrf91_cmng_write(f->m, 5, 2, key, strlen(key), NRF91_EOL_CRLF, hash,
					  &f->e), 0);
	assert_null(strstr(f->trace, "SECRETKEYBYTES"));
	assert_non_null(strstr(f->trace, "bytes redacted"));
	mstop(f);
}

static void test_keygen_step(void **state)
{
	static const struct peer_step s[] = {
		{ "AT%KEYGEN=17,2,0,\"CN=nrf-352656109480783\"\r\n",
		  "%KEYGEN: \"MIIBOK_-.0oRDoQEm\"\r\nOK\r\n", 0, 7, 0, 0 },
		{ "AT%KEYGEN=17,2,1\r\n", "+CME ERROR: 519\r\n", 0, 0, 0, 0 },
		{ "AT%ATTESTTOKEN\r\n", "%ATTESTTOKEN: \"2dn3hQFQ.0oRDoQEm\"\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct mfx *f = mstart(s, 3);
	struct nrf91_keygen_req req = { 17, 0, "CN=nrf-352656109480783", NULL };
	char *p = NULL;

	assert_int_equal(nrf91_keygen(f->m, &req, &p, &f->e), 0);
	assert_string_equal(p, "MIIBOK_-.0oRDoQEm");
	free(p);
	req.content = 1;
	req.attributes = NULL;
	assert_int_equal(nrf91_keygen(f->m, &req, &p, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "519 already exists"));
	req.key_usage = "111010000";
	assert_int_equal(nrf91_keygen(f->m, &req, &p, &f->e), -1);   /* usage without attributes */
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_INPUT);
	assert_int_equal(nrf91_attesttoken(f->m, &p, &f->e), 0);
	assert_string_equal(p, "2dn3hQFQ.0oRDoQEm");
	free(p);
	mstop(f);
}


/* Through the shell the firmware stores CR LF whatever --line-ending says:
 * the hash is over that text. */
static void test_shell_write_hash(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT%CMNG=0,7,0,\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"
		  "\\n\"'\r\n", "OK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
		{ "at 'AT%CMNG=0,7,1,\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"
		  "\\n\"'\r\n", "+CME ERROR: 527\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
	};
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	static const char crlf[] = "-----BEGIN CERTIFICATE-----\r\nAAAA\r\n"
				   "-----END CERTIFICATE-----\r\n";
	struct mfx *f = mstart_mode(s, 2, NRFCA_AT_PREFIX_SHELL);
	unsigned char md[32];
	char hash[65], want[65];
	int i;

	assert_int_equal(nrf91_cmng_write(f->m, 7, 0, pem, strlen(pem), NRF91_EOL_LF, hash, &f->e), 0);
	EVP_Digest(crlf, strlen(crlf), md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02X", md[i]);
	assert_string_equal(hash, want);
	/* 527 through the shell: no advice to change --line-ending */
	assert_int_equal(nrf91_cmng_write(f->m, 7, 1, pem, strlen(pem), NRF91_EOL_LF, hash, &f->e),
			 -1);
	assert_non_null(strstr(f->e.msg, "527"));
	assert_null(strstr(f->e.msg, "--line-ending"));
	assert_non_null(strstr(f->e.msg, "CR LF"));
	mstop(f);
}

/* A command longer than the shell buffer: refused before anything is sent. */
static void test_shell_write_too_long(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGMR'\r\n", "mfw_nrf91x1_2.0.2\r\r\nOK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
	};
	struct mfx *f = calloc(1, sizeof(*f));
	struct nrf91_fw fw;
	struct nrfca_at_opts o = { NRFCA_AT_PREFIX_SHELL, NULL, mtrace, NULL, 256 };
	char *pem = malloc(4096), hash[65];
	size_t i, n = 0;

	assert_non_null(f);
	assert_non_null(pem);
	o.trace_ctx = f;
	f->peer = peer_start(s, 1, &f->port);
	assert_int_equal(nrfca_at_create(f->port, &o, &f->at, &f->e), 0);
	assert_int_equal(nrf91_attach(f->at, &f->m, &f->e), 0);
	n += (size_t)sprintf(pem, "-----BEGIN CERTIFICATE-----\n");
	for (i = 0; i < 5; i++)
		n += (size_t)sprintf(pem + n, "%064d\n", 0);
	n += (size_t)sprintf(pem + n, "-----END CERTIFICATE-----\n");
	assert_int_equal(nrf91_cmng_fits(f->m, 7, 0, pem, n, NRF91_EOL_CRLF, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "255"));
	assert_int_equal(nrf91_cmng_write(f->m, 7, 0, pem, n, NRF91_EOL_CRLF, hash, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "shell"));
	assert_int_equal(nrf91_failure_exit(f->m), 5);
	/* nothing of it went out: the next command is the first the modem sees */
	assert_int_equal(nrf91_read_fw(f->m, &fw, &f->e), 0);
	free(pem);
	mstop(f);
}

/* The first command answered in a way that says the mode is wrong: a hint. */
static void test_wrong_mode(void **state)
{
	static const struct peer_step plain_on_shell[] = {
		{ "AT+CMEE=1\r\n", "AT+CMEE=1\r\n\x1b[1;31mAT+CMEE=1: command not found\r\n\x1b[0m"
		  "uart:~$ ", 0, 0, 0, 0 },
	};
	static const struct peer_step shell_on_plain[] = {
		{ "at 'AT+CMEE=1'\r\n", "at 'AT+CMEE=1'\r\nERROR\r\n", 0, 0, 0, 0 },
	};
	struct mfx *f = mstart_mode(plain_on_shell, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(nrf91_cmee_enable(f->m, &f->e), -1);
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_WRONG_MODE);
	assert_non_null(strstr(f->e.msg, "command not found"));
	assert_non_null(strstr(f->e.msg, "--at-prefix shell"));
	assert_int_equal(nrf91_failure_exit(f->m), 2);
	mstop(f);
	f = mstart_mode(shell_on_plain, 1, NRFCA_AT_PREFIX_SHELL);
	assert_int_equal(nrf91_cmee_enable(f->m, &f->e), -1);
	assert_int_equal(nrf91_last_failure(f->m), NRF91_FAIL_WRONG_MODE);
	assert_non_null(strstr(f->e.msg, "--at-prefix none"));
	mstop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fw_parse_table),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_cmng_line),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_identity_steps),
		cmocka_unit_test(test_cmng_steps),
		cmocka_unit_test(test_shell_write_hash),
		cmocka_unit_test(test_shell_write_too_long),
		cmocka_unit_test(test_wrong_mode),
		cmocka_unit_test(test_keygen_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
