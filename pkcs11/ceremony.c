#include "ceremony.h"
#include "x509util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CHAIN_FILE_MAX (64 * 1024)
#define CHAIN_MAX 8

X509_NAME *ceremony_parse_subject(const char *text, struct nrfca_err *err)
{
	X509_NAME *n = X509_NAME_new();
	char buf[512], *field;
	size_t len, i, o;
	const char *p = text;

	if (n == NULL)
		return NULL;
	if (text == NULL || (len = strlen(text)) == 0 || len >= sizeof(buf)) {
		X509_NAME_free(n);
		nrfca_err_set(err, NRFCA_E_INPUT, "the subject must be 1 to %zu characters, like "
			      "'CN=nrfca root,O=Example'", sizeof(buf) - 1);
		return NULL;
	}
	while (*p) {
		char *eq;

		for (o = 0, i = 0; p[i] && p[i] != ','; i++) {
			if (p[i] == '\\' && p[i + 1])
				i++;
			buf[o++] = p[i];
		}
		buf[o] = '\0';
		p += i + (p[i] == ',' ? 1 : 0);
		field = buf;
		while (*field == ' ')
			field++;
		eq = strchr(field, '=');
		if (eq == NULL || eq == field || eq[1] == '\0') {
			X509_NAME_free(n);
			nrfca_err_set(err, NRFCA_E_INPUT,
				      "subject part '%s' is not ATTRIBUTE=value", field);
			return NULL;
		}
		*eq = '\0';
		if (OBJ_txt2nid(field) == NID_undef ||
		    X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (unsigned char *)eq + 1, -1,
					       -1, 0) != 1) {
			X509_NAME_free(n);
			nrfca_err_ssl(err, NRFCA_E_INPUT, "subject attribute '%s' is not known", field);
			return NULL;
		}
	}
	return n;
}

X509 *ceremony_self_signed(struct signer *s, const struct ceremony_root *r, struct nrfca_err *err)
{
	EVP_PKEY *pk = signer_pkey(s);
	X509_NAME *name = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	char bc[64];

	if (r->days <= 0 || r->days > 36500) {
		nrfca_err_set(err, NRFCA_E_INPUT, "validity must be 1 to 36500 days (got %d)", r->days);
		return NULL;
	}
	name = ceremony_parse_subject(r->subject, err);
	if (name == NULL)
		return NULL;
	x = X509_new();
	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 || !nrfca_x509_random_serial(x, NULL) ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), r->days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, pk) != 1)
		goto ssl_fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (r->pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", r->pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	if (!nrfca_x509_add_ext(x, &ctx, NID_basic_constraints, bc) ||
	    !nrfca_x509_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !nrfca_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		goto ssl_fail;
	if (X509_sign(x, pk, EVP_sha256()) <= 0) {
		struct nrfca_err te;

		signer_thread_error(&te);
		nrfca_err_set(err, te.code, "signing the root certificate in the token failed: %s",
			      te.msg);
		ERR_clear_error();
		goto fail;
	}
	X509_NAME_free(name);
	return x;
ssl_fail:
	nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot build the root certificate");
fail:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

X509_REQ *ceremony_csr(struct signer *s, const struct ceremony_root *r, struct nrfca_err *err)
{
	EVP_PKEY *pk = signer_pkey(s);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *e1 = NULL, *e2 = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	char bc[64];

	name = ceremony_parse_subject(r->subject, err);
	if (name == NULL)
		return NULL;
	if (r->pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", r->pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	req = X509_REQ_new();
	exts = sk_X509_EXTENSION_new_null();
	e1 = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, bc);
	e2 = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (req == NULL || exts == NULL || e1 == NULL || e2 == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, pk) != 1 ||
	    sk_X509_EXTENSION_push(exts, e1) == 0)
		goto ssl_fail;
	e1 = NULL;
	if (sk_X509_EXTENSION_push(exts, e2) == 0)
		goto ssl_fail;
	e2 = NULL;
	if (X509_REQ_add_extensions(req, exts) != 1)
		goto ssl_fail;
	if (X509_REQ_sign(req, pk, EVP_sha256()) <= 0) {
		struct nrfca_err te;

		signer_thread_error(&te);
		nrfca_err_set(err, te.code, "signing the CSR in the token failed: %s", te.msg);
		ERR_clear_error();
		goto fail;
	}
	goto out;
ssl_fail:
	nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot build the CA certificate request");
fail:
	X509_REQ_free(req);
	req = NULL;
out:
	X509_EXTENSION_free(e1);
	X509_EXTENSION_free(e2);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	return req;
}

STACK_OF(X509) *ceremony_read_chain(const char *path, struct nrfca_err *err)
{
	STACK_OF(X509) *chain = NULL;
	struct stat st;
	BIO *b = NULL;
	X509 *x;

	if (stat(path, &st) != 0) {
		nrfca_err_set(err, errno == ENOENT ? NRFCA_E_NOTFOUND : NRFCA_E_IO,
			      "cannot read the CA chain %s: %s", path, strerror(errno));
		return NULL;
	}
	if (st.st_size > CHAIN_FILE_MAX) {
		nrfca_err_set(err, NRFCA_E_TOO_LARGE, "the CA chain %s is larger than %d bytes", path,
			      CHAIN_FILE_MAX);
		return NULL;
	}
	b = BIO_new_file(path, "r");
	chain = sk_X509_new_null();
	if (b == NULL || chain == NULL) {
		nrfca_err_ssl(err, NRFCA_E_IO, "cannot open the CA chain %s", path);
		goto fail;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(chain) >= CHAIN_MAX || sk_X509_push(chain, x) == 0) {
			X509_free(x);
			nrfca_err_set(err, NRFCA_E_INPUT, "the CA chain %s has more than %d certificates",
				      path, CHAIN_MAX);
			goto fail;
		}
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE)
		ERR_clear_error();
	if (ERR_peek_error() != 0) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CA chain %s holds a damaged certificate", path);
		goto fail;
	}
	if (sk_X509_num(chain) == 0) {
		nrfca_err_set(err, NRFCA_E_INPUT, "%s holds no PEM certificate", path);
		goto fail;
	}
	BIO_free(b);
	return chain;
fail:
	BIO_free(b);
	sk_X509_pop_free(chain, X509_free);
	return NULL;
}

int ceremony_check_chain(struct signer *s, STACK_OF(X509) *chain, time_t now,
			 struct nrfca_err *err)
{
	int i, n = sk_X509_num(chain);

	if (n == 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the CA chain is empty");
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(chain, 0)), signer_pkey(s)) != 1)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "the first certificate of the chain does not hold the token's key");
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		X509 *issuer = i + 1 < n ? sk_X509_value(chain, i + 1) : x;
		char name[256];

		X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
		if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "certificate %d of the chain (%s) is not valid yet", i + 1,
					     name);
		if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "certificate %d of the chain (%s) has expired", i + 1, name);
		if (X509_check_ca(x) == 0)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "certificate %d of the chain (%s) is not a CA certificate",
					     i + 1, name);
		if (i + 1 == n && X509_check_issued(x, x) != X509_V_OK)
			break;  /* issued by a root that is not in the file */
		if (X509_check_issued(issuer, x) != X509_V_OK ||
		    X509_verify(x, X509_get0_pubkey(issuer)) != 1) {
			ERR_clear_error();
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "certificate %d of the chain (%s) is not signed by the "
					     "next one", i + 1, name);
		}
	}
	return 0;
}

int ceremony_write_chain(const char *path, STACK_OF(X509) *chain, int exclusive,
			 struct nrfca_err *err)
{
	char tmp[4096];
	BIO *b = NULL;
	FILE *f = NULL;
	int fd, i, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return nrfca_err_set(err, NRFCA_E_CONFIG, "path too long: %s", path);
	if (exclusive && access(path, F_OK) == 0)
		return nrfca_err_set(err, NRFCA_E_EXISTS, "%s exists already; not replacing it", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return nrfca_err_set(err, NRFCA_E_IO, "cannot create %s: %s", tmp, strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		goto io;
	}
	b = BIO_new_fp(f, BIO_NOCLOSE);
	if (b == NULL)
		goto io;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(chain, i)) != 1)
			goto io;
	BIO_free(b);
	b = NULL;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto io;
	if (fclose(f) != 0) {
		f = NULL;
		goto io;
	}
	f = NULL;
	if (exclusive) {
		if (link(tmp, path) != 0) {
			nrfca_err_set(err, errno == EEXIST ? NRFCA_E_EXISTS : NRFCA_E_IO,
				      "cannot create %s: %s", path, strerror(errno));
			unlink(tmp);
			return -1;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto io;
	}
	return 0;
io:
	nrfca_err_set(err, NRFCA_E_IO, "cannot write %s: %s", path, strerror(errno));
	BIO_free(b);
	if (f != NULL)
		fclose(f);
	unlink(tmp);
	return rc;
}
