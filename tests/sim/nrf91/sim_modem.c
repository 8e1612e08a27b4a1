#include "sim_modem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sim_buf.h"
#include "sim_crypto.h"
#include "sim_enc.h"
#include "sim_store.h"

#define ANS_OK 0
#define ANS_ERROR (-1)
/* any positive answer is a CME error code */
#define CME_NOT_FOUND 513
#define CME_NO_ACCESS 514
#define CME_MEMORY_FULL 515
#define CME_ACTIVE 518
#define CME_EXISTS 519
#define CME_KEYGEN_FAILED 523
#define CME_BAD_CERT 527

#define DEFAULT_IMEI "352656109480783"
#define ATTR_MAX_LEN 256
#define ATTR_MAX_RDN 8
#define RDN_VALUE_MAX 64
#define STATE_FILE_MAX (4u << 20)

enum chip {
	CHIP_NRF9160,
	CHIP_NRF91X1,
	CHIP_MAX
};

static const struct {
	const char *model;
	uint8_t device_type; /* in %ATTESTTOKEN */
} chip_tab[CHIP_MAX] = {
	[CHIP_NRF9160] = { "nRF9160-SICA", 3 },
	[CHIP_NRF91X1] = { "nRF9151-LACA", 6 },
};

struct sim_modem {
	struct sim_opts o;
	char fw[64];
	enum chip chip;
	int ver[3];
	char imei[16];
	char uuid[37];
	uint8_t uuid_bin[16];
	char fw_uuid[37];
	uint8_t fw_uuid_bin[16];
	int cfun;
	int cmee;
	struct sim_store *store;
	struct timespec start;
	FILE *log;
	bool held;

	/* line assembly */
	struct sbuf line;
	bool in_quote;
	bool overflow;
	bool skip_lf;
};

enum form {
	FORM_EXEC, /* AT+X */
	FORM_READ, /* AT+X? */
	FORM_TEST, /* AT+X=? */
	FORM_SET,  /* AT+X=... */
};

struct param {
	bool present;
	bool quoted;
	const char *p;
	size_t n;
};

#define PARAM_MAX 8

typedef int (*cmd_fn)(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		      struct sbuf *body);

/* ---- small helpers ---- */

static bool ver_ge(const struct sim_modem *m, int a, int b, int c)
{
	if (m->ver[0] != a)
		return m->ver[0] > a;
	if (m->ver[1] != b)
		return m->ver[1] > b;
	return m->ver[2] >= c;
}

static bool has_keygen(const struct sim_modem *m)
{
	return m->chip == CHIP_NRF9160 ? ver_ge(m, 1, 3, 0) : ver_ge(m, 2, 0, 0);
}

static bool has_cmng_hash(const struct sim_modem *m)
{
	return m->chip == CHIP_NRF9160 ? ver_ge(m, 1, 3, 2) : true;
}

static bool has_deviceuuid(const struct sim_modem *m)
{
	return m->chip == CHIP_NRF91X1 && m->ver[0] >= 2;
}

/* The one N.N.N group bounded by '_', '-' or the ends. */
static int parse_fw(struct sim_modem *m, const char *fw, struct nrfca_err *e)
{
	char low[64];
	size_t i, n = strlen(fw);
	const char *p;

	if (n == 0 || n >= sizeof(low))
		return nrfca_err_set(e, NRFCA_E_CONFIG, "firmware string must be 1..63 characters");
	for (i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)fw[i]);
	if (strstr(low, "nrf9160") != NULL)
		m->chip = CHIP_NRF9160;
	else if (strstr(low, "nrf91x1") != NULL || strstr(low, "nrf9161") != NULL ||
		 strstr(low, "nrf9151") != NULL || strstr(low, "nrf9131") != NULL)
		m->chip = CHIP_NRF91X1;
	else
		return nrfca_err_set(e, NRFCA_E_CONFIG,
				     "firmware %s names neither nrf9160 nor nrf91x1", fw);
	for (p = fw; *p != '\0'; p++) {
		int a, b, c, used = 0;

		if (p != fw && p[-1] != '_' && p[-1] != '-')
			continue;
		if (sscanf(p, "%d.%d.%d%n", &a, &b, &c, &used) == 3 &&
		    (p[used] == '\0' || p[used] == '_' || p[used] == '-') &&
		    isdigit((unsigned char)p[0])) {
			m->ver[0] = a;
			m->ver[1] = b;
			m->ver[2] = c;
			memcpy(m->fw, fw, n + 1);
			return 0;
		}
	}
	return nrfca_err_set(e, NRFCA_E_CONFIG, "firmware %s holds no N.N.N version", fw);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_uuid(const char *s, char out[37], uint8_t bin[16])
{
	size_t i, j = 0;

	if (strlen(s) != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			out[i] = '-';
			continue;
		}
		if (hexval((unsigned char)s[i]) < 0)
			return -1;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[36] = '\0';
	for (i = 0; i < 36; i++) {
		if (out[i] == '-')
			continue;
		bin[j / 2] = (uint8_t)(j % 2 == 0 ? hexval(out[i]) << 4
						  : (bin[j / 2] | hexval(out[i])));
		j++;
	}
	return 0;
}

static void format_uuid(const uint8_t b[16], char out[37])
{
	static const char d[] = "0123456789abcdef";
	size_t i, k = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = d[b[i] >> 4];
		out[k++] = d[b[i] & 15];
	}
	out[k] = '\0';
}

static bool valid_imei(const char *s)
{
	size_t i;

	if (strlen(s) != 15)
		return false;
	for (i = 0; i < 15; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- state file ---- */

static bool utf8_ok(const uint8_t *p, size_t n)
{
	json_t *j = json_stringn((const char *)p, n);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static int state_save(struct sim_modem *m, struct nrfca_err *e)
{
	json_t *root = NULL, *arr, *c;
	struct sbuf hex, pem, path;
	char *text = NULL;
	size_t i;
	int fd = -1, rc = -1;

	if (m->o.state_path == NULL)
		return 0;
	sbuf_init(&hex, 0);
	sbuf_init(&pem, 0);
	sbuf_init(&path, 0);
	root = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:[]}", "fw", m->fw, "model",
			 chip_tab[m->chip].model, "imei", m->imei, "uuid", m->uuid, "cfun",
			 m->cfun, "cmee", m->cmee, "credentials");
	if (root == NULL)
		goto nomem;
	arr = json_object_get(root, "credentials");
	for (i = 0; i < sim_store_count(m->store); i++) {
		const struct sim_cred *cr = sim_store_at(m->store, i);

		if (cr->modem_own)
			continue;
		sbuf_reset(&hex);
		sbuf_addhex(&hex, cr->sha, sizeof(cr->sha), true);
		c = json_pack("{s:I, s:i, s:s#, s:b}", "sec_tag", (json_int_t)cr->tag, "type",
			      (int)cr->type, "sha256", (const char *)hex.p, hex.len, "generated",
			      cr->generated);
		if (c == NULL || json_array_append_new(arr, c) != 0)
			goto nomem;
		if (utf8_ok(cr->content, cr->len)) {
			if (json_object_set_new(c, "content",
						json_stringn((const char *)cr->content, cr->len)))
				goto nomem;
		} else {
			sbuf_reset(&hex);
			sbuf_addhex(&hex, cr->content, cr->len, false);
			if (hex.failed || json_object_set_new(c, "content_hex",
							      json_stringn((const char *)hex.p,
									   hex.len)))
				goto nomem;
		}
		if (cr->passwd != NULL && json_object_set_new(c, "passwd", json_string(cr->passwd)))
			goto nomem;
		if (cr->key != NULL) {
			sbuf_reset(&pem);
			if (simc_pub_pem(cr->key, &pem, e) < 0)
				goto out;
			if (json_object_set_new(c, "public_key_pem",
						json_stringn((const char *)pem.p, pem.len)))
				goto nomem;
		}
	}
	text = json_dumps(root, JSON_INDENT(1));
	if (text == NULL)
		goto nomem;
	sbuf_addf(&path, "%s.tmp", m->o.state_path);
	sbuf_addc(&path, 0);
	if (path.failed)
		goto nomem;
	unlink((const char *)path.p);
	fd = open((const char *)path.p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot write state file %s: %s",
			      (const char *)path.p, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename((const char *)path.p, m->o.state_path) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot rename %s to %s: %s", (const char *)path.p,
			      m->o.state_path, strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory writing the state file");
out:
	if (fd >= 0)
		close(fd);
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	json_decref(root);
	sbuf_free(&hex);
	sbuf_free(&pem);
	sbuf_free(&path);
	return rc;
}

static int load_hex(const char *s, struct sbuf *out)
{
	size_t i, n = strlen(s);

	if (n % 2 != 0)
		return -1;
	for (i = 0; i < n; i += 2) {
		int a = hexval((unsigned char)s[i]), b = hexval((unsigned char)s[i + 1]);

		if (a < 0 || b < 0)
			return -1;
		sbuf_addc(out, (uint8_t)(a << 4 | b));
	}
	return out->failed ? -1 : 0;
}

static int state_load(struct sim_modem *m, bool want_imei, bool want_uuid, struct nrfca_err *e)
{
	json_t *root = NULL, *arr, *c;
	json_error_t je;
	const char *s;
	size_t i;
	struct sbuf bytes;
	int rc = -1;
	FILE *f;

	sbuf_init(&bytes, 0);
	f = fopen(m->o.state_path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open state file %s: %s",
				     m->o.state_path, strerror(errno));
	}
	{
		char chunk[4096];
		size_t got;

		bytes.limit = STATE_FILE_MAX;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			sbuf_add(&bytes, chunk, got);
		fclose(f);
		if (bytes.failed) {
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "state file %s is over %u bytes",
				      m->o.state_path, STATE_FILE_MAX);
			goto out;
		}
	}
	root = json_loadb((const char *)bytes.p, bytes.len, 0, &je);
	if (root == NULL) {
		nrfca_err_set(e, NRFCA_E_INPUT, "state file %s line %d: %s", m->o.state_path,
			      je.line, je.text);
		goto out;
	}
	s = json_string_value(json_object_get(root, "imei"));
	if (want_imei && s != NULL && valid_imei(s))
		memcpy(m->imei, s, 16);
	s = json_string_value(json_object_get(root, "uuid"));
	if (want_uuid && s != NULL && parse_uuid(s, m->uuid, m->uuid_bin) != 0) {
		nrfca_err_set(e, NRFCA_E_INPUT, "state file %s: uuid is not 8-4-4-4-12 hex",
			      m->o.state_path);
		goto out;
	}
	arr = json_object_get(root, "credentials");
	for (i = 0; i < json_array_size(arr); i++) {
		json_int_t tag = -1;
		int type = -1, gen = 0;
		const char *content = NULL, *content_hex = NULL, *passwd = NULL;
		EVP_PKEY *key = NULL;

		c = json_array_get(arr, i);
		if (json_unpack(c, "{s:I, s:i, s?s, s?s, s?s, s?b}", "sec_tag", &tag, "type",
				&type, "content", &content, "content_hex", &content_hex, "passwd",
				&passwd, "generated", &gen) != 0 ||
		    tag < 0 || tag > (json_int_t)SIM_SEC_TAG_USER_MAX || type < 0 ||
		    type >= SIM_CRED_MAX || (content == NULL && content_hex == NULL)) {
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "state file %s: credential %zu lacks sec_tag, type or content",
				      m->o.state_path, i);
			goto out;
		}
		sbuf_reset(&bytes);
		if (content != NULL)
			sbuf_add(&bytes, content, strlen(content));
		else if (load_hex(content_hex, &bytes) != 0) {
			nrfca_err_set(e, NRFCA_E_INPUT, "state file %s: credential %zu: bad content_hex",
				      m->o.state_path, i);
			goto out;
		}
		if (type == SIM_CRED_CLIENT_KEY)
			key = simc_priv_from_pem(bytes.p, bytes.len);
		if (gen && key == NULL) {
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "state file %s: generated key %zu holds no private key PEM",
				      m->o.state_path, i);
			goto out;
		}
		if (sim_store_put(m->store, (uint32_t)tag, (enum sim_cred_type)type, bytes.p,
				  bytes.len, passwd, key, gen != 0, false) != 0) {
			EVP_PKEY_free(key);
			nrfca_err_set(e, NRFCA_E_INPUT, "state file %s: too many credentials",
				      m->o.state_path);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	sbuf_free(&bytes);
	return rc;
}

/* ---- parameters ---- */

/* Split "a,b,"c,d"" into parameters; quoted ones keep what is between the
 * quotes.  -1: unbalanced quotes, text around quotes, or too many. */
static int parse_params(const char *s, size_t n, struct param *pv, int max)
{
	size_t i = 0;
	int pc = 0;

	if (n == 0)
		return 0;
	for (;;) {
		struct param p = { 0 };

		while (i < n && s[i] == ' ')
			i++;
		if (i < n && s[i] == '"') {
			size_t start = ++i;

			while (i < n && s[i] != '"')
				i++;
			if (i == n)
				return -1;
			p.present = p.quoted = true;
			p.p = s + start;
			p.n = i - start;
			i++;
			while (i < n && s[i] == ' ')
				i++;
			if (i < n && s[i] != ',')
				return -1;
		} else {
			size_t start = i;

			while (i < n && s[i] != ',') {
				if (s[i] == '"')
					return -1;
				i++;
			}
			p.p = s + start;
			p.n = i - start;
			while (p.n > 0 && p.p[p.n - 1] == ' ')
				p.n--;
			p.present = p.n > 0;
		}
		if (pc == max)
			return -1;
		pv[pc++] = p;
		if (i == n)
			return pc;
		i++; /* the comma */
	}
}

/* An unquoted decimal number 0..max.  -1 otherwise. */
static int param_num(const struct param *p, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!p->present || p->quoted || p->n == 0 || p->n > 10)
		return -1;
	for (i = 0; i < p->n; i++) {
		if (!isdigit((unsigned char)p->p[i]))
			return -1;
		v = v * 10 + (uint64_t)(p->p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- commands ---- */

static int cmd_at(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		  struct sbuf *body)
{
	return f == FORM_EXEC ? ANS_OK : ANS_ERROR;
}

static int cmd_cmee(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	uint64_t v;

	switch (f) {
	case FORM_READ:
		sbuf_addf(body, "+CMEE: %d\r\n", m->cmee);
		return ANS_OK;
	case FORM_TEST:
		sbuf_adds(body, "+CMEE: (0,1)\r\n");
		return ANS_OK;
	case FORM_SET:
		if (pc != 1 || param_num(&pv[0], 1, &v) != 0)
			return ANS_ERROR;
		m->cmee = (int)v;
		return ANS_OK;
	default:
		return ANS_ERROR;
	}
}

static int cmd_cfun(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	uint64_t v;

	switch (f) {
	case FORM_READ:
		sbuf_addf(body, "+CFUN: %d\r\n", m->cfun);
		return ANS_OK;
	case FORM_TEST:
		sbuf_adds(body, "+CFUN: (0,1,4)\r\n");
		return ANS_OK;
	case FORM_SET:
		if (pc != 1 || param_num(&pv[0], 4, &v) != 0 || (v != 0 && v != 1 && v != 4))
			return CME_NO_ACCESS;
		m->cfun = (int)v;
		return ANS_OK;
	default:
		return ANS_ERROR;
	}
}

static int cmd_cgsn(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	uint64_t v = 0;

	if (f == FORM_TEST) {
		sbuf_adds(body, "+CGSN: (0,1)\r\n");
		return ANS_OK;
	}
	if (f == FORM_READ)
		return ANS_ERROR;
	if (f == FORM_SET && (pc != 1 || param_num(&pv[0], 1, &v) != 0))
		return CME_NO_ACCESS;
	if (v == 1)
		sbuf_addf(body, "+CGSN: \"%s\"\r\n", m->o.cgsn ? m->o.cgsn : m->imei);
	else
		sbuf_addf(body, "%s\r\n", m->o.cgsn ? m->o.cgsn : m->imei);
	return ANS_OK;
}

static int cmd_cgmr(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	if (f != FORM_EXEC)
		return ANS_ERROR;
	sbuf_addf(body, "%s\r\n", m->fw);
	return ANS_OK;
}

static int cmd_cgmm(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	if (f != FORM_EXEC)
		return ANS_ERROR;
	sbuf_addf(body, "%s\r\n", chip_tab[m->chip].model);
	return ANS_OK;
}

static int cmd_deviceuuid(struct sim_modem *m, enum form f, const struct param *pv, int pc,
			  struct sbuf *body)
{
	if (!has_deviceuuid(m) || f != FORM_EXEC)
		return CME_NO_ACCESS;
	sbuf_addf(body, "%%DEVICEUUID: %s\r\n", m->uuid);
	return ANS_OK;
}

static int cmd_xmodemuuid(struct sim_modem *m, enum form f, const struct param *pv, int pc,
			  struct sbuf *body)
{
	if (f != FORM_EXEC)
		return ANS_ERROR;
	sbuf_addf(body, "%%XMODEMUUID: %s\r\n", m->fw_uuid);
	return ANS_OK;
}

static int cme_from_err(const struct nrfca_err *e)
{
	fprintf(stderr, "nrf91-sim: %s\n", e->msg);
	return e->code == NRFCA_E_NOMEM ? CME_MEMORY_FULL : CME_KEYGEN_FAILED;
}

static int cmd_attesttoken(struct sim_modem *m, enum form f, const struct param *pv, int pc,
			   struct sbuf *body)
{
	struct nrfca_err e = { 0 };
	struct sbuf tok, cose;
	uint8_t nonce[16];
	int rc = ANS_ERROR;

	if (f != FORM_EXEC)
		return ANS_ERROR;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return CME_KEYGEN_FAILED;
	sbuf_init(&tok, 0);
	sbuf_init(&cose, 0);
	cbor_head(&tok, CBOR_TAG, 55799);
	cbor_head(&tok, CBOR_ARRAY, 5);
	cbor_uint(&tok, 1);
	cbor_bstr(&tok, m->uuid_bin, 16);
	cbor_uint(&tok, chip_tab[m->chip].device_type);
	cbor_bstr(&tok, m->fw_uuid_bin, 16);
	cbor_bstr(&tok, nonce, sizeof(nonce));
	if (tok.failed || simc_cose_sign1(m->o.identity, tok.p, tok.len, true, &cose, &e) < 0) {
		rc = cme_from_err(&e);
		goto out;
	}
	sbuf_adds(body, "%ATTESTTOKEN: \"");
	sbuf_addb64url(body, tok.p, tok.len);
	sbuf_addc(body, '.');
	sbuf_addb64url(body, cose.p, cose.len);
	sbuf_adds(body, "\"\r\n");
	rc = ANS_OK;
out:
	sbuf_free(&tok);
	sbuf_free(&cose);
	return rc;
}

/* "O=Acme,L=Trondheim,C=no,CN=dev1" -> RDNs in that order. */
static int parse_attributes(const struct param *p, struct simc_rdn *rdn, size_t *nrdn)
{
	size_t i = 0, n = 0;

	if (p->n == 0 || p->n > ATTR_MAX_LEN)
		return -1;
	while (i < p->n) {
		size_t start = i, eq = 0, end;
		int a;

		while (i < p->n && p->p[i] != ',') {
			if (p->p[i] == '=' && eq == 0)
				eq = i;
			i++;
		}
		end = i;
		if (eq == 0 || eq == start || end - eq - 1 == 0 || end - eq - 1 > RDN_VALUE_MAX ||
		    n == ATTR_MAX_RDN)
			return -1;
		a = simc_attr_from_name(p->p + start, eq - start);
		if (a < 0)
			return -1;
		rdn[n].attr = (enum simc_attr)a;
		rdn[n].value = p->p + eq + 1;
		rdn[n].len = end - eq - 1;
		n++;
		if (i < p->n) {
			i++;
			if (i == p->n)
				return -1; /* trailing comma */
		}
	}
	*nrdn = n;
	return 0;
}

static int parse_key_usage(const struct param *p, uint16_t *bits)
{
	uint16_t v = 0;
	size_t i;

	if (!p->quoted || p->n != 9)
		return -1;
	for (i = 0; i < 9; i++) {
		if (p->p[i] == '1')
			v |= (uint16_t)(1u << i);
		else if (p->p[i] != '0')
			return -1;
	}
	if (v == 0)
		return -1;
	*bits = v;
	return 0;
}

static int cmd_keygen(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		      struct sbuf *body)
{
	struct nrfca_err e = { 0 };
	struct simc_rdn rdn[ATTR_MAX_RDN];
	size_t nrdn = 1;
	uint64_t tag, type, content = 0;
	uint16_t ku = 0x1 | 0x2 | 0x4 | 0x10; /* default "111010000" */
	EVP_PKEY *key = NULL;
	struct sbuf part1, cose, line, pem;
	int rc = ANS_ERROR, st;

	if (!has_keygen(m))
		return ANS_ERROR; /* the command does not exist on this firmware */
	if (f == FORM_TEST) {
		sbuf_adds(body, "%KEYGEN: (0-2147483647),(2),(0,1)\r\n");
		return ANS_OK;
	}
	if (f != FORM_SET || pc < 2 || pc > 5 ||
	    param_num(&pv[0], SIM_SEC_TAG_USER_MAX, &tag) != 0 ||
	    param_num(&pv[1], 255, &type) != 0 || type != SIM_CRED_CLIENT_KEY)
		return CME_NO_ACCESS;
	if (pc >= 3 && pv[2].present && param_num(&pv[2], 1, &content) != 0)
		return CME_NO_ACCESS;
	rdn[0].attr = SIMC_ATTR_CN;
	rdn[0].value = m->uuid;
	rdn[0].len = strlen(m->uuid);
	if (pc >= 4 && pv[3].present) {
		if (!pv[3].quoted)
			return CME_NO_ACCESS;
		if (pv[3].n > 0 && parse_attributes(&pv[3], rdn, &nrdn) != 0)
			return CME_NO_ACCESS;
	}
	if (pc >= 5 && pv[4].present && parse_key_usage(&pv[4], &ku) != 0)
		return CME_NO_ACCESS;
	if (m->cfun == 1)
		return CME_ACTIVE;
	if (sim_store_find(m->store, (uint32_t)tag, SIM_CRED_CLIENT_KEY) != NULL)
		return CME_EXISTS;

	sbuf_init(&part1, 0);
	sbuf_init(&cose, 0);
	sbuf_init(&line, 0);
	sbuf_init(&pem, 0);
	key = simc_p256_generate(&e);
	if (key == NULL) {
		rc = CME_KEYGEN_FAILED;
		goto out;
	}
	if (content == 0)
		st = simc_build_csr(key, rdn, nrdn, ku, &part1, &e);
	else
		st = simc_spki_der(key, &part1, &e);
	if (st < 0) {
		rc = cme_from_err(&e);
		goto out;
	}
	if (simc_keygen_cose(m->o.identity, m->uuid_bin, tag, content == 0, part1.p, part1.len,
			     &cose, &e) < 0) {
		rc = cme_from_err(&e);
		goto out;
	}
	if (simc_priv_pem(key, &pem, &e) < 0) {
		rc = cme_from_err(&e);
		goto out;
	}
	st = sim_store_put(m->store, (uint32_t)tag, SIM_CRED_CLIENT_KEY, pem.p, pem.len, NULL, key,
			   true, false);
	if (st != 0) {
		rc = CME_MEMORY_FULL;
		goto out;
	}
	key = NULL; /* the store owns it */
	sbuf_adds(&line, "%KEYGEN: \"");
	sbuf_addb64url(&line, part1.p, part1.len);
	sbuf_addc(&line, '.');
	sbuf_addb64url(&line, cose.p, cose.len);
	sbuf_addc(&line, '"');
	if (line.failed) {
		rc = CME_MEMORY_FULL;
		goto out;
	}
	if (m->o.truncate_keygen) {
		line.len = line.len * 2 / 3;
		sbuf_addc(&line, '"');
	}
	sbuf_add(body, line.p, line.len);
	sbuf_adds(body, "\r\n");
	rc = ANS_OK;
out:
	EVP_PKEY_free(key);
	sbuf_free(&part1);
	sbuf_free(&cose);
	sbuf_free(&line);
	sbuf_free(&pem);
	return rc;
}

static void list_line(const struct sim_modem *m, const struct sim_cred *c, struct sbuf *body)
{
	sbuf_addf(body, "%%CMNG: %u,%d,\"", c->tag, (int)c->type);
	if (has_cmng_hash(m))
		sbuf_addhex(body, c->sha, sizeof(c->sha), true);
	sbuf_adds(body, "\"");
}

static bool has_line_ending(const struct param *p, enum sim_lending le)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->p[i] != '\n')
			continue;
		if (le == SIM_LE_CRLF && i > 0 && p->p[i - 1] == '\r')
			return true;
		if (le == SIM_LE_LF && (i == 0 || p->p[i - 1] != '\r'))
			return true;
	}
	return false;
}

static int cmng_write(struct sim_modem *m, const struct param *pv, int pc)
{
	uint64_t tag, type;
	EVP_PKEY *key = NULL;
	char *passwd = NULL;
	int st;

	if (pc < 4 || pc > 5 || param_num(&pv[1], SIM_SEC_TAG_USER_MAX, &tag) != 0 ||
	    param_num(&pv[2], SIM_CRED_MAX - 1, &type) != 0 || type == SIM_CRED_IDENTITY_PUB ||
	    !pv[3].present || !pv[3].quoted || pv[3].n == 0 ||
	    (pc == 5 && (!pv[4].present || !pv[4].quoted)))
		return CME_NO_ACCESS;
	if (m->cfun == 1)
		return CME_ACTIVE;
	if (type == SIM_CRED_CLIENT_KEY &&
	    sim_store_find(m->store, (uint32_t)tag, SIM_CRED_CLIENT_KEY) != NULL)
		return CME_EXISTS;
	if (m->o.cme527_on != SIM_LE_NONE && has_line_ending(&pv[3], m->o.cme527_on))
		return CME_BAD_CERT;
	/* firmware 2.0.x checks certificate content: types 0 and 1 must be PEM
	 * certificates (several for type 0) */
	if ((type == SIM_CRED_ROOT_CA || type == SIM_CRED_CLIENT_CERT) &&
	    simc_pem_certs((const uint8_t *)pv[3].p, pv[3].n) < 1)
		return CME_BAD_CERT;
	if (type == SIM_CRED_CLIENT_KEY)
		key = simc_priv_from_pem((const uint8_t *)pv[3].p, pv[3].n);
	if (pc == 5) {
		passwd = malloc(pv[4].n + 1);   /* the parameter is not NUL-terminated */
		if (passwd != NULL) {
			memcpy(passwd, pv[4].p, pv[4].n);
			passwd[pv[4].n] = '\0';
		}
		if (passwd == NULL) {
			EVP_PKEY_free(key);
			return CME_MEMORY_FULL;
		}
	}
	st = sim_store_put(m->store, (uint32_t)tag, (enum sim_cred_type)type,
			   (const uint8_t *)pv[3].p, pv[3].n, passwd, key, false, false);
	free(passwd);
	if (st != 0) {
		EVP_PKEY_free(key);
		return CME_MEMORY_FULL;
	}
	return ANS_OK;
}

static int cmd_cmng(struct sim_modem *m, enum form f, const struct param *pv, int pc,
		    struct sbuf *body)
{
	uint64_t op, tag = 0, type = 0;
	const struct sim_cred *c;
	size_t i;

	if (f == FORM_TEST) {
		sbuf_adds(body, "%CMNG: (0-3),(0-2147483647),(0-6)\r\n");
		return ANS_OK;
	}
	if (f != FORM_SET || pc < 1 || param_num(&pv[0], 3, &op) != 0)
		return CME_NO_ACCESS;
	switch (op) {
	case 0:
		return cmng_write(m, pv, pc);
	case 1:
		if (pc > 3 || (pc >= 2 && pv[1].present && param_num(&pv[1], UINT32_MAX, &tag) != 0) ||
		    (pc == 3 && (!pv[1].present ||
				 param_num(&pv[2], SIM_CRED_MAX - 1, &type) != 0)) ||
		    (pc == 2 && !pv[1].present))
			return CME_NO_ACCESS;
		for (i = 0; i < sim_store_count(m->store); i++) {
			c = sim_store_at(m->store, i);
			if (pc >= 2 && c->tag != tag)
				continue;
			if (pc == 3 && c->type != type)
				continue;
			list_line(m, c, body);
			sbuf_adds(body, "\r\n");
		}
		return ANS_OK;
	case 2:
		if (pc != 3 || param_num(&pv[1], UINT32_MAX, &tag) != 0 ||
		    param_num(&pv[2], SIM_CRED_MAX - 1, &type) != 0)
			return CME_NO_ACCESS;
		if (type == SIM_CRED_CLIENT_KEY || type == SIM_CRED_PSK ||
		    type == SIM_CRED_IDENTITY_PUB)
			return CME_NO_ACCESS; /* secrets and the identity key are not readable */
		c = sim_store_find(m->store, (uint32_t)tag, (enum sim_cred_type)type);
		if (c == NULL)
			return CME_NOT_FOUND;
		list_line(m, c, body);
		sbuf_adds(body, ",\"");
		sbuf_add(body, c->content, c->len);
		sbuf_adds(body, "\"\r\n");
		return ANS_OK;
	case 3:
		if (pc != 3 || param_num(&pv[1], SIM_SEC_TAG_USER_MAX, &tag) != 0 ||
		    param_num(&pv[2], SIM_CRED_MAX - 1, &type) != 0)
			return CME_NO_ACCESS;
		if (m->cfun == 1)
			return CME_ACTIVE;
		if (sim_store_del(m->store, (uint32_t)tag, (enum sim_cred_type)type) != 0)
			return CME_NOT_FOUND;
		return ANS_OK;
	default:
		return CME_NO_ACCESS;
	}
}

enum cmd {
	CMD_AT,
	CMD_CMEE,
	CMD_CFUN,
	CMD_CGSN,
	CMD_CGMR,
	CMD_CGMM,
	CMD_DEVICEUUID,
	CMD_XMODEMUUID,
	CMD_ATTESTTOKEN,
	CMD_KEYGEN,
	CMD_CMNG,
	CMD_MAX
};

static const struct {
	const char *name; /* after "AT" */
	cmd_fn fn;
	bool changes_state;
} cmd_tab[CMD_MAX] = {
	[CMD_AT] = { "", cmd_at, false },
	[CMD_CMEE] = { "+CMEE", cmd_cmee, true },
	[CMD_CFUN] = { "+CFUN", cmd_cfun, true },
	[CMD_CGSN] = { "+CGSN", cmd_cgsn, false },
	[CMD_CGMR] = { "+CGMR", cmd_cgmr, false },
	[CMD_CGMM] = { "+CGMM", cmd_cgmm, false },
	[CMD_DEVICEUUID] = { "%DEVICEUUID", cmd_deviceuuid, false },
	[CMD_XMODEMUUID] = { "%XMODEMUUID", cmd_xmodemuuid, false },
	[CMD_ATTESTTOKEN] = { "%ATTESTTOKEN", cmd_attesttoken, false },
	[CMD_KEYGEN] = { "%KEYGEN", cmd_keygen, true },
	[CMD_CMNG] = { "%CMNG", cmd_cmng, true },
};

/* Run one AT command; body gets the information lines, the return value
 * says which final line to send. */
static int run_at(struct sim_modem *m, const char *s, size_t n, struct sbuf *body,
		  bool *changes_state)
{
	struct param pv[PARAM_MAX];
	size_t nl, i;
	enum form f;
	int pc = 0, c;

	if (n < 2 || strncasecmp(s, "AT", 2) != 0)
		return ANS_ERROR;
	s += 2;
	n -= 2;
	for (nl = 0; nl < n && s[nl] != '=' && s[nl] != '?'; nl++)
		;
	if (nl == n) {
		f = FORM_EXEC;
	} else if (s[nl] == '?' && nl + 1 == n) {
		f = FORM_READ;
	} else if (s[nl] == '=' && nl + 2 == n && s[nl + 1] == '?') {
		f = FORM_TEST;
	} else if (s[nl] == '=') {
		f = FORM_SET;
		pc = parse_params(s + nl + 1, n - nl - 1, pv, PARAM_MAX);
	} else {
		return ANS_ERROR;
	}
	for (c = 0; c < CMD_MAX; c++) {
		size_t cl = strlen(cmd_tab[c].name);

		if (cl == nl && strncasecmp(cmd_tab[c].name, s, nl) == 0)
			break;
	}
	if (c == CMD_MAX)
		return ANS_ERROR; /* unknown commands get a plain ERROR, as on real modems */
	for (i = 0; i < n; i++)
		if (s[i] == '\0')
			return ANS_ERROR;
	if (pc < 0)
		return CME_NO_ACCESS;
	*changes_state = cmd_tab[c].changes_state && f == FORM_SET;
	return cmd_tab[c].fn(m, f, pv, pc, body);
}

static void add_urc_log(struct sim_modem *m, struct sbuf *out, const char *text)
{
	struct timespec now;
	long long us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (long long)(now.tv_sec - m->start.tv_sec) * 1000000 +
	     (now.tv_nsec - m->start.tv_nsec) / 1000;
	if (us < 0)
		us = 0;
	sbuf_addf(out, "\x1b[0m[%02lld:%02lld:%02lld.%03lld,%03lld] <inf> app: %s\x1b[0m\r\n",
		  us / 3600000000LL, us / 60000000LL % 60, us / 1000000 % 60, us / 1000 % 1000,
		  us % 1000, text);
}

/* One URC as printed: bare on an AT host, through at_shell's monitor in a
 * shell ("AT event handler:\n<urc>" with shell_print). */
static void add_urc(struct sbuf *out, enum sim_noise_style st, const char *urc)
{
	if (st == SIM_NOISE_PLAIN)
		sbuf_addf(out, "%s\r\n", urc);
	else if (st == SIM_NOISE_SHELL_EVENTS)
		sbuf_addf(out, "AT event handler:\r\n%s\r\r\n\r\n", urc);
}

void sim_modem_noise(struct sim_modem *m, enum sim_noise_phase ph, enum sim_noise_style st,
		     struct sbuf *out)
{
	if (!m->o.urc)
		return;
	if (ph == SIM_NOISE_BEFORE) {
		add_urc(out, st, "+CSCON: 1");
		add_urc_log(m, out, "RRC mode: Connected");
		return;
	}
	add_urc(out, st, "+CEREG: 0");
	add_urc(out, st, "%MDMEV: SEARCH STATUS 2");
	add_urc(out, st, "+CSCON: 0");
	add_urc_log(m, out, "RRC mode: Idle");
}

void sim_modem_log(struct sim_modem *m, const char *kind, const char *text, size_t n,
		   const char *result)
{
	json_t *j;
	char *s;

	if (m->log == NULL)
		return;
	j = json_pack("{s:s, s:s%, s:I, s:s}", "kind", kind, "text", text, n > 240 ? 240 : n,
		      "len", (json_int_t)n, "result", result);
	if (j == NULL)  /* not UTF-8 */
		j = json_pack("{s:s, s:s, s:I, s:s}", "kind", kind, "text", "(not UTF-8)", "len",
			      (json_int_t)n, "result", result);
	s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (s != NULL) {
		fprintf(m->log, "%s\n", s);
		fflush(m->log);
	}
	free(s);
	json_decref(j);
}

void sim_modem_exec(struct sim_modem *m, const char *cmd, size_t n, struct sbuf *answer)
{
	struct nrfca_err e = { 0 };
	struct sbuf body;
	bool changes = false;
	char final[32];
	int r;

	sbuf_init(&body, 0);
	if (m->o.max_cmd != 0 && n > m->o.max_cmd) {
		r = ANS_ERROR;
	} else {
		r = run_at(m, cmd, n, &body, &changes);
		if (body.failed) {
			sbuf_reset(&body);
			r = CME_MEMORY_FULL;
		}
	}
	sbuf_add(answer, body.p, body.len);
	if (r == ANS_OK)
		snprintf(final, sizeof(final), "OK");
	else if (r == ANS_ERROR || m->cmee == 0)
		snprintf(final, sizeof(final), "ERROR");
	else
		snprintf(final, sizeof(final), "+CME ERROR: %d", r);
	sbuf_addf(answer, "%s\r\n", final);
	sbuf_free(&body);
	sim_modem_log(m, "at", cmd, n, final);
	if (m->o.hold_keygen && n >= 9 && strncasecmp(cmd, "AT%KEYGEN", 9) == 0)
		m->held = true;
	if (r == ANS_OK && changes && state_save(m, &e) < 0)
		fprintf(stderr, "nrf91-sim: %s\n", e.msg);
}

/* The whole answer to an AT command line on a plain AT host. */
static void answer_at(struct sim_modem *m, const char *cmd, size_t n, struct sbuf *out)
{
	if (m->o.echo) {
		sbuf_add(out, cmd, n);
		sbuf_adds(out, "\r\n");
	}
	sim_modem_noise(m, SIM_NOISE_BEFORE, SIM_NOISE_PLAIN, out);
	{
		/* information lines first, then the URCs the answer carries */
		struct sbuf ans;
		size_t cut;

		sbuf_init(&ans, 0);
		sim_modem_exec(m, cmd, n, &ans);
		/* the final line is the last line of the answer */
		for (cut = ans.len >= 2 ? ans.len - 2 : 0; cut > 0 && ans.p[cut - 1] != '\n'; cut--)
			;
		sbuf_add(out, ans.p, cut);
		sim_modem_noise(m, SIM_NOISE_AFTER, SIM_NOISE_PLAIN, out);
		sbuf_add(out, ans.p + cut, ans.len - cut);
		if (ans.failed)
			out->failed = true;
		sbuf_free(&ans);
	}
}

static bool starts_cmng_write(const uint8_t *p, size_t n)
{
	static const char w[] = "AT%CMNG=0";

	return n >= sizeof(w) - 1 && strncasecmp((const char *)p, w, sizeof(w) - 1) == 0;
}

/* A complete input line (without its terminator). */
static bool handle_line(struct sim_modem *m, sim_emit_fn emit, void *ctx)
{
	struct sbuf out;
	bool more;

	if (!m->overflow && m->line.len == 0)
		return true; /* empty lines are ignored */
	sbuf_init(&out, 0);
	if (m->overflow) {
		if (m->o.echo)
			sbuf_adds(&out, "\r\n");
		sbuf_adds(&out, "ERROR\r\n");
		sim_modem_log(m, "at", (const char *)m->line.p, m->line.len, "ERROR (line too long)");
	} else {
		answer_at(m, (const char *)m->line.p, m->line.len, &out);
	}
	if (out.failed) {
		sbuf_reset(&out);
		sbuf_adds(&out, "ERROR\r\n");
	}
	more = emit(ctx, SIM_OUT_ANSWER, out.p, out.len);
	sbuf_free(&out);
	return more;
}

void sim_modem_feed(struct sim_modem *m, const uint8_t *in, size_t n, sim_emit_fn emit,
		    void *ctx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = in[i];
		bool term = (c == '\r' || c == '\n');

		if (c == '\n' && m->skip_lf) {
			m->skip_lf = false;
			continue;
		}
		m->skip_lf = false;
		if (term && m->in_quote && starts_cmng_write(m->line.p, m->line.len))
			term = false; /* a line break inside the quoted content */
		if (term) {
			bool more;

			m->skip_lf = (c == '\r');
			more = handle_line(m, emit, ctx);
			sbuf_reset(&m->line);
			m->in_quote = false;
			m->overflow = false;
			if (!more)
				return;
			continue;
		}
		if (c == '"')
			m->in_quote = !m->in_quote;
		if (m->line.len >= SIM_LINE_MAX) {
			m->overflow = true;
			continue;
		}
		sbuf_addc(&m->line, c);
	}
}

bool sim_modem_held(struct sim_modem *m)
{
	bool h = m->held;

	m->held = false;
	return h;
}

int sim_modem_save(struct sim_modem *m, struct nrfca_err *e)
{
	return state_save(m, e);
}

const char *sim_modem_uuid(const struct sim_modem *m)
{
	return m->uuid;
}

static int add_own_entries(struct sim_modem *m)
{
	static const char own_ca[] = "nrf91-sim: the modem's own root of trust (not readable)\n";
	static const char own_pub[] = "nrf91-sim: the modem's own public key (not readable)\n";

	if (sim_store_put(m->store, 4294967292u, SIM_CRED_ROOT_CA, (const uint8_t *)own_ca,
			  sizeof(own_ca) - 1, NULL, NULL, false, true) != 0 ||
	    sim_store_put(m->store, 4294967294u, SIM_CRED_PUBLIC_KEY, (const uint8_t *)own_pub,
			  sizeof(own_pub) - 1, NULL, NULL, false, true) != 0)
		return -1;
	return 0;
}

struct sim_modem *sim_modem_create(const struct sim_opts *o, struct nrfca_err *e)
{
	struct sim_modem *m = calloc(1, sizeof(*m));
	uint8_t h[32];

	if (m == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory creating the modem");
		return NULL;
	}
	m->o = *o;
	sbuf_init(&m->line, SIM_LINE_MAX + 1);
	clock_gettime(CLOCK_MONOTONIC, &m->start);
	m->cfun = o->cfun;
	if (o->identity == NULL) {
		nrfca_err_set(e, NRFCA_E_INTERNAL, "the modem needs an identity key");
		goto fail;
	}
	if (o->cfun != 0 && o->cfun != 1 && o->cfun != 4) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "initial CFUN must be 0, 1 or 4");
		goto fail;
	}
	if (parse_fw(m, o->fw, e) < 0)
		goto fail;
	/* the firmware build UUID: fixed per firmware string */
	SHA256((const uint8_t *)m->fw, strlen(m->fw), h);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	memcpy(m->fw_uuid_bin, h, 16);
	format_uuid(m->fw_uuid_bin, m->fw_uuid);
	memcpy(m->imei, DEFAULT_IMEI, sizeof(DEFAULT_IMEI));
	if (RAND_bytes(m->uuid_bin, 16) != 1) {
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "no random bytes for the device UUID");
		goto fail;
	}
	m->uuid_bin[6] = (uint8_t)((m->uuid_bin[6] & 0x0f) | 0x40);
	m->uuid_bin[8] = (uint8_t)((m->uuid_bin[8] & 0x3f) | 0x80);
	format_uuid(m->uuid_bin, m->uuid);
	m->store = sim_store_create();
	if (m->store == NULL || add_own_entries(m) != 0) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory creating the credential store");
		goto fail;
	}
	if (o->state_path != NULL && state_load(m, o->imei == NULL, o->uuid == NULL, e) < 0)
		goto fail;
	if (o->imei != NULL) {
		if (!valid_imei(o->imei)) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "IMEI must be 15 digits");
			goto fail;
		}
		memcpy(m->imei, o->imei, 16);
	}
	if (o->uuid != NULL && parse_uuid(o->uuid, m->uuid, m->uuid_bin) != 0) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "UUID must be 8-4-4-4-12 hexadecimal digits");
		goto fail;
	}
	if (state_save(m, e) < 0)
		goto fail;
	if (o->log_path != NULL) {
		m->log = fopen(o->log_path, "a");
		if (m->log == NULL) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot open the command log %s: %s",
				      o->log_path, strerror(errno));
			goto fail;
		}
	}
	return m;
fail:
	sim_modem_free(m);
	return NULL;
}

void sim_modem_free(struct sim_modem *m)
{
	if (m == NULL)
		return;
	sim_store_free(m->store);
	sbuf_free(&m->line);
	if (m->log != NULL)
		fclose(m->log);
	free(m);
}
