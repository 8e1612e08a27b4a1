/*
 * signer.c - PKCS#11 module, token, login, session pool and recovery.
 *
 * Locking:
 *   life (rwlock)  read-held by every token operation, write-held while the
 *                  module is torn down and re-initialised;
 *   mu + cv        the session free-list and the state; cv wakes waiters
 *                  for a session and the monitor thread.
 * Lock order: life before mu.
 */
#include "signer.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "p11pin.h"
#include "p11uri.h"
#include "signer_int.h"

#define POOL_MAX 64
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PROBE_MS 1000
#define COPY_TRIES 5

enum sstate { ST_DOWN, ST_READY, ST_PIN_FAILED, ST_CLOSING };

struct signer {
	struct p11uri uri;
	char *base_dir;         /* relative PIN files resolve here; NULL: none */
	char env_names[128];    /* what token.env set, for messages: "SOFTHSM2_CONF" */
	char *pin_env;
	int allow_insecure_pin;
	unsigned pool_size;
	void (*notify)(void *, const char *, const char *);
	void *notify_arg;

	pthread_rwlock_t life;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* a session came back, or the state changed */
	pthread_cond_t mon_cv;  /* wakes the monitor */
	pthread_t monitor;
	int monitor_started;

	/* guarded by mu */
	enum sstate state;
	char why[NRFCA_ERR_MSG_MAX];
	CK_SESSION_HANDLE free_sess[POOL_MAX];
	unsigned nfree;
	unsigned long long signs, failures, recoveries, waits;
	double wait_seconds;

	/* valid while READY; read under life (read), written under life (write) */
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login_sess;
	CK_SESSION_HANDLE all_sess[POOL_MAX];
	unsigned nall;
	CK_OBJECT_HANDLE key;       /* the token object */
	CK_OBJECT_HANDLE sign_key;  /* what C_SignInit uses: key or its session copy */
	CK_KEY_TYPE ktype;
	int want_copy;              /* signer_config.session_copy */
	int copy_tries;             /* copies tried since bring_up (make_sign_key) */
	char copy_why[96];          /* why the copy was not made ("" when it was) */
	unsigned char tok_label[33], tok_serial[17];

	/* tests only (signer_int.h): signs instead of the token; NULL for a token */
	const struct signer_backend *backend;
	void *backend_ctx;

	EVP_PKEY *pub;          /* public half, fixed for the signer's life */
	EVP_PKEY *pkey;         /* wraps the token key */
	char key_desc[80];
};

/* ------------------------------------------------------------------ */
/* errors */

static _Thread_local struct nrfca_err thread_err;

void signer_set_thread_error(enum nrfca_errc code, const char *fmt, ...)
{
	va_list ap;

	thread_err.code = code;
	va_start(ap, fmt);
	vsnprintf(thread_err.msg, sizeof(thread_err.msg), fmt, ap);
	va_end(ap);
}

void signer_thread_error(struct nrfca_err *err)
{
	if (err == NULL)
		return;
	if (thread_err.code == NRFCA_OK)
		nrfca_err_set(err, NRFCA_E_CRYPTO, "signing failed");
	else
		*err = thread_err;
}

struct rvname {
	CK_RV rv;
	const char *name;
};

static const struct rvname rvnames[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_INVALID, "CKR_PIN_INVALID" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
	{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

static const char *rv_name(CK_RV rv)
{
	static _Thread_local char buf[32];
	size_t i;

	for (i = 0; i < sizeof(rvnames) / sizeof(rvnames[0]); i++)
		if (rvnames[i].rv == rv)
			return rvnames[i].name;
	snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

static int rv_is_pin(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
	       rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

/* Failures after which the token, the module or our handles are gone. */
static int rv_is_gone(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_GENERAL_ERROR:
		return 1;
	default:
		return 0;
	}
}

static int rv_err(struct nrfca_err *err, CK_RV rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rv_err(struct nrfca_err *err, CK_RV rv, const char *fmt, ...)
{
	char what[NRFCA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (rv_is_pin(rv))
		return nrfca_err_set(err, NRFCA_E_PIN,
				     "%s: %s: the PIN was refused; it is not retried automatically "
				     "(a real HSM would lock); fix the PIN source and restart",
				     what, rv_name(rv));
	return nrfca_err_set(err, rv_is_gone(rv) ? NRFCA_E_TOKEN : NRFCA_E_CRYPTO, "%s: %s", what,
			     rv_name(rv));
}

/* ------------------------------------------------------------------ */
/* helpers */

static void now_plus_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void blank_trim(const unsigned char *in, size_t n, unsigned char *out)
{
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
		n--;
	memcpy(out, in, n);
	out[n] = '\0';
}

static int module_load(const char *path, void **dl, CK_FUNCTION_LIST_PTR *f,
		       struct nrfca_err *err)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	if (path == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "the token URI has no module-path (e.g. "
				     "?module-path=/usr/lib/softhsm/libsofthsm2.so)");
	if (*dl == NULL)   /* after a recovery the module is still mapped */
		*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (*dl == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "cannot load PKCS#11 module %s: %s", path,
				     dlerror());
	*(void **)(&gfl) = dlsym(*dl, "C_GetFunctionList");
	if (gfl == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "%s is not a PKCS#11 module (no C_GetFunctionList)", path);
	rv = gfl(f);
	if (rv != CKR_OK)
		return rv_err(err, rv, "C_GetFunctionList of %s", path);
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = (*f)->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		const char *conf = getenv("SOFTHSM2_CONF");

		if (strstr(path, "softhsm") != NULL)   /* it cannot read its configuration */
			return rv_err(err, rv, "C_Initialize of %s (SoftHSM2 reads %s%s: does it "
				      "exist and name a readable token folder?)", path,
				      conf ? "SOFTHSM2_CONF=" : "/etc/softhsm/softhsm2.conf",
				      conf ? conf : "");
		return rv_err(err, rv, "C_Initialize of %s", path);
	}
	return 0;
}

/* Find the one token the URI names, by label / serial / manufacturer / model. */
static int find_slot(CK_FUNCTION_LIST_PTR f, const struct p11uri *u, CK_SLOT_ID *slot,
		     unsigned char label[33], unsigned char serial[17], struct nrfca_err *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_RV rv;
	int found = 0, rc = -1;
	char seen[200] = "";

	if (u->token == NULL && u->serial == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "the token URI names no token: add token=LABEL or serial=...");
	rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		return rv_err(err, rv, "C_GetSlotList");
	if (n == 0)
		return nrfca_err_set(err, NRFCA_E_TOKEN, "the PKCS#11 module shows no token at all");
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		rv_err(err, rv, "C_GetSlotList");
		goto out;
	}
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		unsigned char l[33], s[17], m[33], mo[17];

		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		blank_trim(ti.label, sizeof(ti.label), l);
		blank_trim(ti.serialNumber, sizeof(ti.serialNumber), s);
		blank_trim(ti.manufacturerID, sizeof(ti.manufacturerID), m);
		blank_trim(ti.model, sizeof(ti.model), mo);
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (strlen(seen) + strlen((char *)l) + 4 < sizeof(seen))
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s'%s'",
				 seen[0] ? ", " : "", l);
		if (u->token && strcmp(u->token, (char *)l) != 0)
			continue;
		if (u->serial && strcmp(u->serial, (char *)s) != 0)
			continue;
		if (u->manufacturer && strcmp(u->manufacturer, (char *)m) != 0)
			continue;
		if (u->model && strcmp(u->model, (char *)mo) != 0)
			continue;
		found++;
		*slot = slots[i];
		memcpy(label, l, sizeof(l));
		memcpy(serial, s, sizeof(s));
	}
	if (found == 0) {
		nrfca_err_set(err, NRFCA_E_NOTFOUND, "no token with %s '%s' (tokens present: %s)",
			      u->token ? "label" : "serial", u->token ? u->token : u->serial,
			      seen[0] ? seen : "none initialised");
		goto out;
	}
	if (found > 1) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%d tokens match the URI; add serial=... to choose one", found);
		goto out;
	}
	rc = 0;
out:
	free(slots);
	return rc;
}

/*
 * After find_slot() found no such token: the likely cause is that the
 * module did not read the configuration that holds the token (SoftHSM2:
 * SOFTHSM2_CONF unset or pointing elsewhere in this shell).
 */
static void token_hint(const struct signer *s, struct nrfca_err *err)
{
	char was[NRFCA_ERR_MSG_MAX];
	const char *conf = getenv("SOFTHSM2_CONF");

	if (err == NULL || err->code != NRFCA_E_NOTFOUND)
		return;
	memcpy(was, err->msg, sizeof(was));
	if (s->uri.module_path != NULL && strstr(s->uri.module_path, "softhsm") != NULL) {
		if (conf == NULL)
			nrfca_err_set(err, NRFCA_E_NOTFOUND, "%s; SOFTHSM2_CONF is not set, so "
				      "SoftHSM2 read /etc/softhsm/softhsm2.conf: set token.env."
				      "SOFTHSM2_CONF in the configuration to the softhsm2.conf of "
				      "this token", was);
		else
			nrfca_err_set(err, NRFCA_E_NOTFOUND, "%s; SoftHSM2 read SOFTHSM2_CONF=%s "
				      "(%s): is that the softhsm2.conf of this token?", was, conf,
				      strstr(s->env_names, "SOFTHSM2_CONF") ? "from token.env" :
				      "inherited; token.env can set it");
	} else {
		nrfca_err_set(err, NRFCA_E_NOTFOUND, "%s; if the token exists, the module did "
			      "not read its own configuration: set the environment it needs in "
			      "token.env of the configuration%s%s", was,
			      s->env_names[0] ? " (set now: " : "", s->env_names[0] ? s->env_names : "");
		if (s->env_names[0] && strlen(err->msg) + 1 < sizeof(err->msg))
			strcat(err->msg, ")");
	}
}

/* Find exactly one object of `cls` matching the URI's label and/or id. */
static int find_object(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE sess, const struct p11uri *u,
		       CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj, int *count,
		       struct nrfca_err *err)
{
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG nt = 0, got = 0;
	CK_OBJECT_HANDLE h[2];
	CK_RV rv;

	tmpl[nt].type = CKA_CLASS;
	tmpl[nt].pValue = &cls;
	tmpl[nt++].ulValueLen = sizeof(cls);
	if (u->object) {
		tmpl[nt].type = CKA_LABEL;
		tmpl[nt].pValue = u->object;
		tmpl[nt++].ulValueLen = strlen(u->object);
	}
	if (u->id_len) {
		tmpl[nt].type = CKA_ID;
		tmpl[nt].pValue = (void *)u->id;
		tmpl[nt++].ulValueLen = u->id_len;
	}
	rv = f->C_FindObjectsInit(sess, tmpl, nt);
	if (rv != CKR_OK)
		return rv_err(err, rv, "C_FindObjectsInit");
	rv = f->C_FindObjects(sess, h, 2, &got);
	f->C_FindObjectsFinal(sess);
	if (rv != CKR_OK)
		return rv_err(err, rv, "C_FindObjects");
	*count = (int)got;
	if (got >= 1)
		*obj = h[0];
	return 0;
}

static int get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
		    CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len,
		    struct nrfca_err *err)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	rv = f->C_GetAttributeValue(sess, obj, &a, 1);
	if (rv != CKR_OK || a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > 65536)
		return rv_err(err, rv == CKR_OK ? CKR_ATTRIBUTE_TYPE_INVALID : rv,
			      "reading attribute 0x%lx of the key", (unsigned long)type);
	a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (a.pValue == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	rv = f->C_GetAttributeValue(sess, obj, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv_err(err, rv, "reading attribute 0x%lx of the key", (unsigned long)type);
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return 0;
}

/* The public key of the token key, from its public key object. */
static EVP_PKEY *load_public(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE sess,
			     const struct p11uri *u, CK_KEY_TYPE kt, CK_OBJECT_HANDLE priv,
			     struct nrfca_err *err)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char *a = NULL, *b = NULL;
	CK_ULONG alen = 0, blen = 0;
	CK_OBJECT_HANDLE pubobj = 0;
	BIGNUM *n = NULL, *e = NULL;
	int count = 0;

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL)
		goto ssl_fail;
	if (kt == CKK_EC) {
		const unsigned char *p;
		ASN1_OBJECT *oid = NULL;
		ASN1_OCTET_STRING *os = NULL;
		const unsigned char *pt;
		size_t ptlen;
		char gname[64];

		if (find_object(f, sess, u, CKO_PUBLIC_KEY, &pubobj, &count, err) != 0)
			goto out;
		if (count == 0) {
			nrfca_err_set(err, NRFCA_E_NOTFOUND,
				      "the token holds the private key but no public key object "
				      "with the same label/id");
			goto out;
		}
		if (get_attr(f, sess, priv, CKA_EC_PARAMS, &a, &alen, err) != 0 ||
		    get_attr(f, sess, pubobj, CKA_EC_POINT, &b, &blen, err) != 0)
			goto out;
		p = a;
		oid = d2i_ASN1_OBJECT(NULL, &p, (long)alen);
		if (oid == NULL || OBJ_obj2nid(oid) == NID_undef) {
			ASN1_OBJECT_free(oid);
			nrfca_err_set(err, NRFCA_E_CONFIG,
				      "the token key uses an EC curve nrfca does not know");
			goto out;
		}
		snprintf(gname, sizeof(gname), "%s", OBJ_nid2sn(OBJ_obj2nid(oid)));
		ASN1_OBJECT_free(oid);
		/* CKA_EC_POINT is a DER OCTET STRING; some tokens give the raw point. */
		pt = b;
		ptlen = blen;
		p = b;
		os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)blen);
		if (os != NULL && p == b + blen) {
			pt = ASN1_STRING_get0_data(os);
			ptlen = (size_t)ASN1_STRING_length(os);
		}
		if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, gname, 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) != 1) {
			ASN1_OCTET_STRING_free(os);
			goto ssl_fail;
		}
		params = OSSL_PARAM_BLD_to_param(bld);
		ASN1_OCTET_STRING_free(os);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else if (kt == CKK_RSA) {
		if (get_attr(f, sess, priv, CKA_MODULUS, &a, &alen, err) != 0 ||
		    get_attr(f, sess, priv, CKA_PUBLIC_EXPONENT, &b, &blen, err) != 0)
			goto out;
		n = BN_bin2bn(a, (int)alen, NULL);
		e = BN_bin2bn(b, (int)blen, NULL);
		if (n == NULL || e == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
			goto ssl_fail;
		params = OSSL_PARAM_BLD_to_param(bld);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "the token key has type 0x%lx; nrfca signs with EC or RSA keys",
			      (unsigned long)kt);
		goto out;
	}
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto ssl_fail;
	goto out;
ssl_fail:
	nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot decode the token's public key");
	EVP_PKEY_free(pk);
	pk = NULL;
out:
	BN_free(n);
	BN_free(e);
	free(a);
	free(b);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* Log in on `sess` with the PIN from its source; the PIN is wiped at once. */
static int do_login(struct signer *s, CK_SESSION_HANDLE sess, struct nrfca_err *err)
{
	struct p11pin pin;
	CK_RV rv;

	if (p11pin_read(s->uri.pin_source, s->base_dir, s->pin_env, s->allow_insecure_pin, &pin,
			err) != 0)
		return -1;
	rv = s->f->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin.buf, (CK_ULONG)pin.len);
	p11pin_wipe(&pin);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return rv_err(err, rv, "C_Login to token '%s'", (char *)s->tok_label);
	return 0;
}

/* Close everything; called with life write-held (or before threads start). */
static void teardown(struct signer *s)
{
	if (s->f != NULL) {
		s->f->C_CloseAllSessions(s->slot);
		s->f->C_Finalize(NULL);
	}
	s->f = NULL;
	s->nall = 0;
	s->login_sess = 0;
	s->key = 0;
	s->sign_key = 0;
	pthread_mutex_lock(&s->mu);
	s->nfree = 0;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Make the key to sign with.  SoftHSM2 re-reads a token object's file (open,
 * lock, read, close) at every C_SignInit; a session object lives in the
 * module's memory.  The copy is made in the token by the token
 * (C_CopyObject): CKA_TOKEN false, sensitive, never extractable, so the key
 * stays exactly as unreachable as before.  Session objects belong to the
 * login session and go with it (teardown, logout, exit).  The copy is kept
 * only when the token reports those attributes back; otherwise, or if the
 * token refuses to copy (CKA_COPYABLE false, a policy of the HSM), the token
 * object is used and copy_why says why.
 */
static void make_sign_key(struct signer *s)
{
	CK_BBOOL no = CK_FALSE;
	CK_BBOOL tok = CK_TRUE, sens = CK_FALSE, extr = CK_TRUE;
	/* only CKA_TOKEN changes: SoftHSM2 refuses CKA_SENSITIVE and
	 * CKA_EXTRACTABLE in a copy's template (CKR_ATTRIBUTE_READ_ONLY) even
	 * where the standard allows tightening them; they are checked below */
	CK_ATTRIBUTE t[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
	};
	CK_ATTRIBUTE q[] = {
		{ CKA_TOKEN, &tok, sizeof(tok) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
	};
	CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
	CK_RV rv;

	s->sign_key = s->key;
	s->copy_why[0] = '\0';
	s->copy_tries++;
	if (!s->want_copy) {
		snprintf(s->copy_why, sizeof(s->copy_why), "session_copy is off");
		return;
	}
	rv = s->f->C_CopyObject(s->login_sess, s->key, t, sizeof(t) / sizeof(t[0]), &copy);
	if (rv != CKR_OK) {
		snprintf(s->copy_why, sizeof(s->copy_why), "C_CopyObject: %s", rv_name(rv));
		return;
	}
	rv = s->f->C_GetAttributeValue(s->login_sess, copy, q, sizeof(q) / sizeof(q[0]));
	if (rv != CKR_OK || tok != CK_FALSE || sens != CK_TRUE || extr != CK_FALSE) {
		snprintf(s->copy_why, sizeof(s->copy_why), "the copy is not a sensitive session "
			 "object (%s)", rv == CKR_OK ? "attributes" : rv_name(rv));
		s->f->C_DestroyObject(s->login_sess, copy);
		return;
	}
	s->sign_key = copy;
}

/* Bring the module, token, login, key and sessions up; life write-held. */
static int bring_up(struct signer *s, struct nrfca_err *err)
{
	CK_SESSION_HANDLE sess;
	CK_RV rv;
	int count = 0;
	unsigned i;

	if (s->dl == NULL || s->f == NULL) {
		if (module_load(s->uri.module_path, &s->dl, &s->f, err) != 0) {
			s->f = NULL;
			return -1;
		}
	}
	if (find_slot(s->f, &s->uri, &s->slot, s->tok_label, s->tok_serial, err) != 0) {
		token_hint(s, err);
		goto fail;
	}
	rv = s->f->C_OpenSession(s->slot, CKF_SERIAL_SESSION, NULL, NULL, &s->login_sess);
	if (rv != CKR_OK) {
		rv_err(err, rv, "C_OpenSession on token '%s'", (char *)s->tok_label);
		goto fail;
	}
	if (do_login(s, s->login_sess, err) != 0)
		goto fail;
	if (s->uri.object == NULL && s->uri.id_len == 0) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "the token URI names no key: add object=LABEL or id=...");
		goto fail;
	}
	if (find_object(s->f, s->login_sess, &s->uri, CKO_PRIVATE_KEY, &s->key, &count, err) != 0)
		goto fail;
	if (count == 0) {
		nrfca_err_set(err, NRFCA_E_NOTFOUND,
			      "token '%s' has no private key %s%s%s (run 'nrfca-admin init' first)",
			      (char *)s->tok_label, s->uri.object ? "labelled '" : "with the given id",
			      s->uri.object ? s->uri.object : "", s->uri.object ? "'" : "");
		goto fail;
	}
	if (count > 1) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "more than one private key matches the URI; add id=... to choose");
		goto fail;
	}
	{
		CK_ATTRIBUTE a = { CKA_KEY_TYPE, &s->ktype, sizeof(s->ktype) };

		rv = s->f->C_GetAttributeValue(s->login_sess, s->key, &a, 1);
		if (rv != CKR_OK) {
			rv_err(err, rv, "reading the key type");
			goto fail;
		}
	}
	if (s->pub == NULL) {
		s->pub = load_public(s->f, s->login_sess, &s->uri, s->ktype, s->key, err);
		if (s->pub == NULL)
			goto fail;
	} else {
		/* after recovery the key must be the same one */
		EVP_PKEY *p = load_public(s->f, s->login_sess, &s->uri, s->ktype, s->key, err);
		int same = p != NULL && EVP_PKEY_eq(p, s->pub) == 1;

		EVP_PKEY_free(p);
		if (!same) {
			if (p != NULL)
				nrfca_err_set(err, NRFCA_E_CONFIG,
					      "the key in token '%s' is no longer the key the "
					      "signer started with", (char *)s->tok_label);
			goto fail;
		}
	}
	s->copy_tries = 0;
	make_sign_key(s);
	for (i = 0; i < s->pool_size; i++) {
		rv = s->f->C_OpenSession(s->slot, CKF_SERIAL_SESSION, NULL, NULL, &sess);
		if (rv != CKR_OK) {
			if (i > 0 && rv == CKR_SESSION_COUNT)
				break;  /* the token allows fewer: use what we have */
			rv_err(err, rv, "C_OpenSession for the session pool");
			goto fail;
		}
		s->all_sess[s->nall++] = sess;
	}
	pthread_mutex_lock(&s->mu);
	memcpy(s->free_sess, s->all_sess, s->nall * sizeof(s->all_sess[0]));
	s->nfree = s->nall;
	pthread_mutex_unlock(&s->mu);
	return 0;
fail:
	teardown(s);
	return -1;
}

static void notify(struct signer *s, const char *event, const char *detail)
{
	if (s->notify != NULL)
		s->notify(s->notify_arg, event, detail);
}

/* mu held */
static void mark_down_locked(struct signer *s, const char *why)
{
	if (s->state != ST_READY)
		return;
	s->state = ST_DOWN;
	snprintf(s->why, sizeof(s->why), "%s", why);
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->mon_cv);
}

/* ------------------------------------------------------------------ */
/* the monitor: probes while ready, re-initialises with backoff while down */

static void *monitor_main(void *arg)
{
	struct signer *s = arg;
	long backoff = BACKOFF_MIN_MS;
	struct timespec ts;

	pthread_mutex_lock(&s->mu);
	while (s->state != ST_CLOSING) {
		if (s->state == ST_READY) {
			now_plus_ms(&ts, PROBE_MS);
			pthread_cond_timedwait(&s->mon_cv, &s->mu, &ts);
			if (s->state != ST_READY)
				continue;
			pthread_mutex_unlock(&s->mu);
			pthread_rwlock_rdlock(&s->life);
			{
				CK_SESSION_INFO si;
				CK_RV rv = s->f ? s->f->C_GetSessionInfo(s->login_sess, &si)
						: CKR_CRYPTOKI_NOT_INITIALIZED;
				CK_TOKEN_INFO ti;
				int key_gone = 0;

				if (rv == CKR_OK)
					rv = s->f->C_GetTokenInfo(s->slot, &ti);
				if (rv == CKR_OK && s->sign_key != s->key) {
					/* signing never touches the token object now:
					 * ask for it, as C_SignInit did */
					CK_KEY_TYPE kt;
					CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };

					rv = s->f->C_GetAttributeValue(s->login_sess, s->key, &a, 1);
					key_gone = rv != CKR_OK;
				}
				pthread_mutex_lock(&s->mu);
				if (rv != CKR_OK && (rv_is_gone(rv) || key_gone)) {
					char why[128];

					snprintf(why, sizeof(why), "token probe%s: %s",
						 key_gone ? " of the key object" : "", rv_name(rv));
					mark_down_locked(s, why);
				}
				pthread_mutex_unlock(&s->mu);
			}
			pthread_rwlock_unlock(&s->life);
			/* a copy that failed right after a recovery (the token's files
			 * just back) is tried again on the next probes, a few times:
			 * a token that refuses copies keeps refusing.  sign_key and
			 * copy_tries change only on this thread: once the copy is
			 * made, signing is never held up here */
			if (s->want_copy && s->sign_key == s->key && s->copy_tries < COPY_TRIES) {
				/* no signature in flight (life), stats see it whole (mu) */
				int made = 0;

				pthread_rwlock_wrlock(&s->life);
				pthread_mutex_lock(&s->mu);
				if (s->state == ST_READY && s->f != NULL && s->sign_key == s->key) {
					make_sign_key(s);
					made = s->sign_key != s->key ? s->copy_tries : 0;
				}
				pthread_mutex_unlock(&s->mu);
				pthread_rwlock_unlock(&s->life);
				if (made > 0) {
					char d[96];

					snprintf(d, sizeof(d), "key_copy: session object (try %d "
						 "since the token came up)", made);
					notify(s, "token_ready", d);
				}
			}
			pthread_mutex_lock(&s->mu);
			if (s->state == ST_DOWN) {
				char why[NRFCA_ERR_MSG_MAX];

				memcpy(why, s->why, sizeof(why));
				pthread_mutex_unlock(&s->mu);
				notify(s, "token_down", why);
				pthread_mutex_lock(&s->mu);
			}
			continue;
		}
		if (s->state == ST_PIN_FAILED) {
			pthread_cond_wait(&s->mon_cv, &s->mu);
			continue;
		}
		/* ST_DOWN: wait out the backoff, then try */
		now_plus_ms(&ts, backoff);
		pthread_cond_timedwait(&s->mon_cv, &s->mu, &ts);
		if (s->state != ST_DOWN)
			continue;
		pthread_mutex_unlock(&s->mu);
		{
			struct nrfca_err e = { 0 };
			int rc;

			pthread_rwlock_wrlock(&s->life);
			teardown(s);
			rc = bring_up(s, &e);
			pthread_rwlock_unlock(&s->life);
			pthread_mutex_lock(&s->mu);
			if (s->state == ST_CLOSING)
				break;
			if (rc == 0) {
				s->state = ST_READY;
				s->why[0] = '\0';
				s->recoveries++;
				backoff = BACKOFF_MIN_MS;
				pthread_cond_broadcast(&s->cv);
				{
					char d[160];

					snprintf(d, sizeof(d), "the token answers again; key_copy: %s",
						 s->sign_key != s->key ? "session object" : s->copy_why);
					pthread_mutex_unlock(&s->mu);
					notify(s, "token_ready", d);
				}
				pthread_mutex_lock(&s->mu);
			} else {
				memcpy(s->why, e.msg, sizeof(s->why));
				if (e.code == NRFCA_E_PIN) {
					s->state = ST_PIN_FAILED;
					pthread_mutex_unlock(&s->mu);
					notify(s, "token_pin_failed", e.msg);
					pthread_mutex_lock(&s->mu);
				}
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* signing */

int signer_token_op(struct signer *s, enum signer_mech mech, const unsigned char *in,
		    size_t inlen, unsigned char *out, size_t outmax)
{
	CK_MECHANISM m = { 0, NULL, 0 };
	CK_SESSION_HANDLE sess;
	CK_ULONG outlen = outmax;
	CK_RV rv;
	int rc = -1;

	thread_err.code = NRFCA_OK;
	thread_err.msg[0] = '\0';
	switch (mech) {
	case SIGNER_MECH_ECDSA:
		m.mechanism = CKM_ECDSA;
		break;
	case SIGNER_MECH_RSA_PKCS:
		m.mechanism = CKM_RSA_PKCS;
		break;
	case SIGNER_MECH_RSA_X509:
		m.mechanism = CKM_RSA_X_509;
		break;
	}
	pthread_rwlock_rdlock(&s->life);
	pthread_mutex_lock(&s->mu);
	if (s->state == ST_READY && s->nfree == 0) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (s->state == ST_READY && s->nfree == 0)
			pthread_cond_wait(&s->cv, &s->mu);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s->waits++;
		s->wait_seconds += (double)(t1.tv_sec - t0.tv_sec) +
				   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	if (s->state != ST_READY) {
		signer_set_thread_error(s->state == ST_PIN_FAILED ? NRFCA_E_PIN : NRFCA_E_TOKEN,
					"the token is not ready: %s", s->why);
		s->failures++;
		pthread_mutex_unlock(&s->mu);
		pthread_rwlock_unlock(&s->life);
		return -1;
	}
	sess = s->free_sess[--s->nfree];
	pthread_mutex_unlock(&s->mu);

	if (s->backend != NULL) {
		rc = s->backend->sign(s->backend_ctx, mech, in, inlen, out, outmax);
		rv = rc >= 0 ? CKR_OK : CKR_FUNCTION_FAILED;
	} else {
		rv = s->f->C_SignInit(sess, &m, s->sign_key);
		if (rv == CKR_OK)
			rv = s->f->C_Sign(sess, (CK_BYTE_PTR)in, (CK_ULONG)inlen, out, &outlen);
		if (rv == CKR_OK)
			rc = (int)outlen;
	}

	pthread_mutex_lock(&s->mu);
	s->free_sess[s->nfree++] = sess;
	pthread_cond_signal(&s->cv);
	if (rv == CKR_OK) {
		s->signs++;
	} else {
		char why[128];

		s->failures++;
		snprintf(why, sizeof(why), "C_Sign: %s", rv_name(rv));
		if (s->backend == NULL)
			signer_set_thread_error(rv_is_gone(rv) ? NRFCA_E_TOKEN : NRFCA_E_CRYPTO,
						"signing in the token failed: %s", rv_name(rv));
		if (rv_is_gone(rv))
			mark_down_locked(s, why);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_rwlock_unlock(&s->life);
	return rc;
}

/* ------------------------------------------------------------------ */
/* public API */

/* Set the module's environment (token.env) before the module is loaded. */
static int apply_env(struct signer *s, const char *const *env, struct nrfca_err *err)
{
	size_t used = 0;

	for (; env != NULL && *env != NULL; env++) {
		const char *eq = strchr(*env, '=');
		char name[128];

		if (eq == NULL || eq == *env || (size_t)(eq - *env) >= sizeof(name))
			return nrfca_err_set(err, NRFCA_E_CONFIG, "token environment entry '%.40s' "
					     "is not NAME=VALUE", *env);
		memcpy(name, *env, (size_t)(eq - *env));
		name[eq - *env] = '\0';
		if (setenv(name, eq + 1, 1) != 0)
			return nrfca_err_set(err, NRFCA_E_CONFIG, "cannot set %s in the environment",
					     name);
		used += (size_t)snprintf(s->env_names + used, used < sizeof(s->env_names) ?
					 sizeof(s->env_names) - used : 0, "%s%s",
					 used ? ", " : "", name);
	}
	return 0;
}

/* Keep the configuration's folder for PIN files; resolve a relative
 * module-path that names a folder (a bare file name is dlopen's to find). */
static int resolve_paths(struct signer *s, const char *base_dir, struct nrfca_err *err)
{
	char *m = s->uri.module_path;

	if (base_dir == NULL)
		return 0;
	if ((s->base_dir = strdup(base_dir)) == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (m != NULL && m[0] != '/' && strchr(m, '/') != NULL) {
		size_t n = strlen(base_dir) + strlen(m) + 2;
		char *full = malloc(n);

		if (full == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		snprintf(full, n, "%s/%s", base_dir, m);
		free(m);
		s->uri.module_path = full;
	}
	return 0;
}

static void init_sync(struct signer *s)
{
	pthread_condattr_t ca;

	pthread_rwlock_init(&s->life, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_cond_init(&s->mon_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->state = ST_DOWN;
}

/* "EC P-256", "RSA 3072" */
static void describe_key(struct signer *s)
{
	if (EVP_PKEY_get_base_id(s->pub) == EVP_PKEY_EC) {
		char g[64] = "";
		size_t gl = 0;

		EVP_PKEY_get_utf8_string_param(s->pub, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), &gl);
		snprintf(s->key_desc, sizeof(s->key_desc), "EC %s",
			 strcmp(g, "prime256v1") == 0 ? "P-256" :
			 strcmp(g, "secp384r1") == 0 ? "P-384" :
			 strcmp(g, "secp521r1") == 0 ? "P-521" : g);
	} else {
		snprintf(s->key_desc, sizeof(s->key_desc), "RSA %d", EVP_PKEY_get_bits(s->pub));
	}
}

static int signer_alloc(const struct signer_config *cfg, struct signer **out,
			struct nrfca_err *err)
{
	struct signer *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (p11uri_parse(cfg->uri, &s->uri, err) != 0) {
		free(s);
		return -1;
	}
	if (s->uri.pin_value != NULL) {
		p11uri_clear(&s->uri);
		free(s);
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "the token URI carries the PIN inline (pin-value); use "
				     "pin-source=file:PATH or a PIN environment variable");
	}
	if (apply_env(s, cfg->env, err) != 0 || resolve_paths(s, cfg->base_dir, err) != 0) {
		p11uri_clear(&s->uri);
		free(s->base_dir);
		free(s);
		return -1;
	}
	s->pin_env = cfg->pin_env ? strdup(cfg->pin_env) : NULL;
	s->allow_insecure_pin = cfg->allow_insecure_pin_file;
	s->want_copy = cfg->session_copy;
	s->pool_size = cfg->pool_size ? cfg->pool_size : 4;
	if (s->pool_size > POOL_MAX)
		s->pool_size = POOL_MAX;
	s->notify = cfg->notify;
	s->notify_arg = cfg->notify_arg;
	init_sync(s);
	*out = s;
	return 0;
}

int signer_open(const struct signer_config *cfg, struct signer **out, struct nrfca_err *err)
{
	struct signer *s = NULL;

	if (signer_alloc(cfg, &s, err) != 0)
		return -1;
	if (bring_up(s, err) != 0)
		goto fail;
	s->pkey = signer_evp_wrap(s, s->pub, err);
	if (s->pkey == NULL)
		goto fail;
	describe_key(s);
	s->state = ST_READY;
	if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0) {
		nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot start the token monitor thread");
		goto fail;
	}
	s->monitor_started = 1;
	*out = s;
	return 0;
fail:
	signer_free(s);
	return -1;
}

int signer_open_backend(const struct signer_backend *backend, void *ctx, EVP_PKEY *pub,
			unsigned pool_size, struct signer **out, struct nrfca_err *err)
{
	struct signer *s = calloc(1, sizeof(*s));
	unsigned i;

	if (s == NULL) {
		if (backend->free != NULL)
			backend->free(ctx);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}
	init_sync(s);
	s->backend = backend;
	s->backend_ctx = ctx;
	s->pool_size = pool_size == 0 ? 4 : pool_size > POOL_MAX ? POOL_MAX : pool_size;
	if (EVP_PKEY_up_ref(pub) != 1) {
		signer_free(s);
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot keep the public key");
	}
	s->pub = pub;
	s->pkey = signer_evp_wrap(s, s->pub, err);
	if (s->pkey == NULL) {
		signer_free(s);
		return -1;
	}
	describe_key(s);
	snprintf(s->key_desc + strlen(s->key_desc), sizeof(s->key_desc) - strlen(s->key_desc),
		 " (%s)", backend->name);
	/* the pool: stand-in session handles, so waits and statistics behave */
	for (i = 0; i < s->pool_size; i++)
		s->all_sess[s->nall++] = (CK_SESSION_HANDLE)(i + 1);
	memcpy(s->free_sess, s->all_sess, s->nall * sizeof(s->all_sess[0]));
	s->nfree = s->nall;
	s->state = ST_READY;   /* no monitor: there is no token to lose */
	*out = s;
	return 0;
}

void signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->state = ST_CLOSING;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->mon_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->monitor_started)
		pthread_join(s->monitor, NULL);
	pthread_rwlock_wrlock(&s->life);
	teardown(s);
	pthread_rwlock_unlock(&s->life);
	if (s->backend != NULL && s->backend->free != NULL)
		s->backend->free(s->backend_ctx);
	/* The module stays mapped: unloading some modules (SoftHSM2 among them)
	 * while OpenSSL is loaded crashes at exit. */
	EVP_PKEY_free(s->pkey);
	EVP_PKEY_free(s->pub);
	p11uri_clear(&s->uri);
	free(s->base_dir);
	if (s->pin_env)
		free(s->pin_env);
	pthread_rwlock_destroy(&s->life);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->mon_cv);
	free(s);
}

EVP_PKEY *signer_pkey(struct signer *s)
{
	return s->pkey;
}

const char *signer_key_desc(const struct signer *s)
{
	return s->key_desc;
}

int signer_ready(struct signer *s, char *why, size_t whylen)
{
	int ready;

	pthread_mutex_lock(&s->mu);
	ready = s->state == ST_READY;
	if (!ready && why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", s->why[0] ? s->why : "the token is not open");
	pthread_mutex_unlock(&s->mu);
	return ready;
}

void signer_get_stats(struct signer *s, struct signer_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->signs = s->signs;
	out->sign_failures = s->failures;
	out->recoveries = s->recoveries;
	out->pool_size = s->state == ST_READY ? s->nall : 0;
	out->in_use = s->state == ST_READY && s->nall >= s->nfree ? s->nall - s->nfree : 0;
	out->waits = s->waits;
	out->wait_seconds = s->wait_seconds;
	out->session_copy = s->state == ST_READY && s->sign_key != s->key;
	snprintf(out->copy_why, sizeof(out->copy_why), "%s", s->state == ST_READY ? s->copy_why : "");
	pthread_mutex_unlock(&s->mu);
}

int signer_key_info(struct signer *s, struct signer_key_info *out, struct nrfca_err *err)
{
	CK_BBOOL sens = 0, extr = 0, asens = 0, nextr = 0, sign = 0, dec = 0, unw = 0, der = 0;
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_ALWAYS_SENSITIVE, &asens, sizeof(asens) },
		{ CKA_NEVER_EXTRACTABLE, &nextr, sizeof(nextr) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_DECRYPT, &dec, sizeof(dec) },
		{ CKA_UNWRAP, &unw, sizeof(unw) },
		{ CKA_DERIVE, &der, sizeof(der) },
	};
	unsigned char *label = NULL;
	CK_ULONG llen = 0;
	CK_RV rv;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (s->backend != NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "the CA key is a %s, not a key in a token",
				     s->backend->name);
	pthread_rwlock_rdlock(&s->life);
	if (!signer_ready(s, NULL, 0) || s->f == NULL) {
		nrfca_err_set(err, NRFCA_E_TOKEN, "the token is not ready: %s", s->why);
		goto out;
	}
	rv = s->f->C_GetAttributeValue(s->login_sess, s->key, a, sizeof(a) / sizeof(a[0]));
	if (rv != CKR_OK) {
		rv_err(err, rv, "reading the key's attributes");
		goto out;
	}
	out->sensitive = sens;
	out->extractable = extr;
	out->always_sensitive = asens;
	out->never_extractable = nextr;
	out->can_sign = sign;
	out->can_decrypt = dec;
	out->can_unwrap = unw;
	out->can_derive = der;
	if (get_attr(s->f, s->login_sess, s->key, CKA_LABEL, &label, &llen, NULL) == 0) {
		snprintf(out->label, sizeof(out->label), "%.*s", (int)llen, (char *)label);
		free(label);
	}
	snprintf(out->token_label, sizeof(out->token_label), "%s", (char *)s->tok_label);
	snprintf(out->token_serial, sizeof(out->token_serial), "%s", (char *)s->tok_serial);
	out->key_type = EVP_PKEY_get_base_id(s->pub);
	out->bits = EVP_PKEY_get_bits(s->pub);
	if (out->key_type == EVP_PKEY_EC) {
		char g[64] = "";
		size_t gl = 0;

		EVP_PKEY_get_utf8_string_param(s->pub, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), &gl);
		out->curve_nid = OBJ_sn2nid(g);
	}
	rc = 0;
out:
	pthread_rwlock_unlock(&s->life);
	return rc;
}

int signer_generate_ec_key(const struct signer_config *cfg, int curve_nid, struct nrfca_err *err)
{
	struct signer *s = NULL;
	CK_OBJECT_HANDLE h, pubh, privh;
	CK_SESSION_HANDLE sess;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	unsigned char params[16], *pp = params, id[16];
	ASN1_OBJECT *oid;
	int plen, count = 0, rc = -1;
	CK_RV rv;

	if (curve_nid != NID_X9_62_prime256v1 && curve_nid != NID_secp384r1)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "the CA key must be EC P-256 or P-384");
	oid = OBJ_nid2obj(curve_nid);
	plen = i2d_ASN1_OBJECT(oid, NULL);
	if (plen <= 0 || plen > (int)sizeof(params))
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot encode the curve OID");
	i2d_ASN1_OBJECT(oid, &pp);

	if (signer_alloc(cfg, &s, err) != 0)
		return -1;
	if (s->uri.object == NULL)
		{
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "the token URI must name the new key with object=LABEL");
		goto out;
	}
	if (module_load(s->uri.module_path, &s->dl, &s->f, err) != 0) {
		s->f = NULL;
		goto out;
	}
	if (find_slot(s->f, &s->uri, &s->slot, s->tok_label, s->tok_serial, err) != 0) {
		token_hint(s, err);
		goto out;
	}
	rv = s->f->C_OpenSession(s->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess);
	if (rv != CKR_OK) {
		rv_err(err, rv, "C_OpenSession (read-write) on token '%s'", (char *)s->tok_label);
		goto out;
	}
	s->login_sess = sess;
	if (do_login(s, sess, err) != 0)
		goto out;
	/* refuse when anything with this label or id exists */
	{
		static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
							   CKO_CERTIFICATE, CKO_SECRET_KEY };
		struct p11uri by_label = s->uri, by_id = s->uri;
		size_t i;

		by_label.id_len = 0;
		by_id.object = NULL;
		for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
			if (find_object(s->f, sess, &by_label, classes[i], &h, &count, err) != 0)
				goto out;
			if (count > 0) {
				nrfca_err_set(err, NRFCA_E_EXISTS,
					      "token '%s' already holds an object labelled '%s'; "
					      "refusing to create another key (the CA key is never "
					      "overwritten)", (char *)s->tok_label, s->uri.object);
				goto out;
			}
			if (s->uri.id_len) {
				if (find_object(s->f, sess, &by_id, classes[i], &h, &count, err) != 0)
					goto out;
				if (count > 0) {
					nrfca_err_set(err, NRFCA_E_EXISTS,
						      "token '%s' already holds an object with that id; "
						      "refusing to create another key",
						      (char *)s->tok_label);
					goto out;
				}
			}
		}
	}
	if (s->uri.id_len == 0) {
		if (RAND_bytes(id, sizeof(id)) != 1) {
			nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot draw a random key id");
			goto out;
		}
	}
	{
		CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
		CK_KEY_TYPE kt = CKK_EC;
		void *idp = s->uri.id_len ? (void *)s->uri.id : (void *)id;
		CK_ULONG idl = s->uri.id_len ? s->uri.id_len : sizeof(id);
		CK_ULONG ll = strlen(s->uri.object);
		CK_ATTRIBUTE pubt[] = {
			{ CKA_CLASS, &pubc, sizeof(pubc) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_ENCRYPT, &no, sizeof(no) },
			{ CKA_WRAP, &no, sizeof(no) },
			{ CKA_DERIVE, &no, sizeof(no) },
			{ CKA_EC_PARAMS, params, (CK_ULONG)plen },
			{ CKA_LABEL, s->uri.object, ll },
			{ CKA_ID, idp, idl },
		};
		CK_ATTRIBUTE privt[] = {
			{ CKA_CLASS, &privc, sizeof(privc) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_DECRYPT, &no, sizeof(no) },
			{ CKA_UNWRAP, &no, sizeof(no) },
			{ CKA_DERIVE, &no, sizeof(no) },
			{ CKA_LABEL, s->uri.object, ll },
			{ CKA_ID, idp, idl },
		};

		rv = s->f->C_GenerateKeyPair(sess, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]), privt,
					     sizeof(privt) / sizeof(privt[0]), &pubh, &privh);
		if (rv != CKR_OK) {
			rv_err(err, rv, "C_GenerateKeyPair (EC %s) in token '%s'",
			       curve_nid == NID_secp384r1 ? "P-384" : "P-256", (char *)s->tok_label);
			goto out;
		}
	}
	rc = 0;
out:
	signer_free(s);   /* closes the sessions and finalises the module */
	return rc;
}

int signer_engine_form(const struct signer_config *cfg, char **module, char **uri,
		       int *pin_newline, struct nrfca_err *err)
{
	struct signer *s = NULL;
	char *pin = NULL;
	int rc = -1;

	*module = *uri = NULL;
	*pin_newline = 0;
	if (signer_alloc(cfg, &s, err) != 0)
		return -1;
	if (s->uri.module_path == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "the token URI has no module-path");
		goto out;
	}
	if (s->uri.pin_source != NULL) {
		const char *p = s->uri.pin_source;
		size_t n;
		FILE *f;

		if (strncmp(p, "file:", 5) == 0)
			p += 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		n = strlen(p) + (s->base_dir ? strlen(s->base_dir) : 0) + 8;
		pin = malloc(n);
		if (pin == NULL)
			goto nomem;
		if (p[0] == '/' || s->base_dir == NULL)
			snprintf(pin, n, "file:%s", p);
		else
			snprintf(pin, n, "file:%s/%s", s->base_dir, p);
		/* only the last byte is looked at */
		f = fopen(pin + 5, "rb");
		if (f != NULL) {
			if (fseek(f, -1, SEEK_END) == 0 && fgetc(f) == '\n')
				*pin_newline = 1;
			fclose(f);
		}
	}
	*uri = p11uri_engine_text(cfg->uri, pin, err);
	if (*uri == NULL)
		goto out;
	*module = strdup(s->uri.module_path);
	if (*module == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
out:
	if (rc != 0) {
		free(*uri);
		*uri = NULL;
	}
	free(pin);
	signer_free(s);
	return rc;
}
