/*
 * signer.h - the CA key in a PKCS#11 token, as seen by the rest of nrfca.
 *
 * Everything the program may do with the token is here, and nothing more.
 * The PIN, the module, slots and sessions stay inside pkcs11/.
 *
 * A signer is opened from an RFC 7512 URI (see p11uri.h) naming the module
 * (module-path), the token (token label or serial: never a slot number) and
 * the key (object label and/or id).  It logs in once, keeps a bounded pool
 * of sessions (one operation per session at a time), hashes in software and
 * signs with CKM_ECDSA (P-256, P-384) or CKM_RSA_PKCS / CKM_RSA_X_509 (PSS
 * padding done in software).
 *
 * signer_pkey() hands OpenSSL an EVP_PKEY whose private-key operations run
 * in the token, so X509_sign, X509_REQ_sign, X509_CRL_sign and OCSP signing
 * work unchanged.  It stays valid until signer_free(), across recoveries.
 *
 * Recovery: when the token fails (session or object handle invalid, device
 * removed, token not present, module not initialised) the signer turns
 * not-ready, a background thread re-initialises the module with backoff
 * (0.1 s doubling to 5 s) and signing resumes without a restart.  A wrong
 * or locked PIN is reported and never retried (it would lock a real HSM).
 * The PIN is read from its source for each login and wiped right after.
 *
 * All functions are thread-safe.
 */
#ifndef NRFCA_SIGNER_H
#define NRFCA_SIGNER_H

#include <stddef.h>

#include <openssl/evp.h>

#include "error.h"

struct signer;

struct signer_config {
	const char *uri;            /* pkcs11:token=...;object=...?module-path=... */
	const char *pin_env;        /* env variable holding the PIN when the URI has no pin-source */
	unsigned pool_size;         /* sessions; 0 = 4 */
	/* 1: sign with a copy of the key made in the token as a session object
	 * (C_CopyObject, CKA_TOKEN false, sensitive, not extractable), kept
	 * while the signer is logged in; the token object is probed every
	 * second and its loss takes the signer down as before.  A token that
	 * refuses the copy is used as it is.  0: sign with the token object. */
	int session_copy;
	int allow_insecure_pin_file;/* accept a PIN file readable by group/others */
	/* The configuration's folder (absolute): a relative pin-source file and a
	 * module-path holding a '/' resolve here.  NULL: they must be absolute
	 * (a bare module file name is always left to dlopen's search). */
	const char *base_dir;
	/* The module's environment ("NAME=VALUE", NULL-terminated; may be NULL),
	 * set in this process before the module is loaded, overriding the
	 * inherited values (e.g. SOFTHSM2_CONF=/etc/nrfca/softhsm2.conf). */
	const char *const *env;
	/* Optional: called (from any thread) on readiness changes, e.g.
	 * ("token_down", "C_Sign: CKR_DEVICE_REMOVED") / ("token_ready", ...). */
	void (*notify)(void *arg, const char *event, const char *detail);
	void *notify_arg;
};

int signer_open(const struct signer_config *cfg, struct signer **out, struct nrfca_err *err);
void signer_free(struct signer *s);

/* The key as OpenSSL sees it (borrowed). */
EVP_PKEY *signer_pkey(struct signer *s);

/* 1 when the token answers; else 0 and `why` says what is wrong. */
int signer_ready(struct signer *s, char *why, size_t whylen);

/* The reason the last signing operation on this thread failed, if it failed
 * inside the token (X509_sign only reports failure). */
void signer_thread_error(struct nrfca_err *err);

/* e.g. "EC P-256", "RSA 3072". */
const char *signer_key_desc(const struct signer *s);

struct signer_stats {
	unsigned long long signs, sign_failures, recoveries;
	unsigned pool_size;         /* sessions open (0 while the token is down) */
	unsigned in_use;            /* sessions signing right now */
	unsigned long long waits;   /* signing calls that found every session busy */
	double wait_seconds;        /* total time those calls waited */
	int session_copy;           /* 1: signing with the session copy of the key */
	char copy_why[96];          /* else why not ("" while the token is down) */
};
void signer_get_stats(struct signer *s, struct signer_stats *out);

/* What the token says about the key, for `nrfca-admin check`. */
struct signer_key_info {
	int key_type;               /* EVP_PKEY_EC or EVP_PKEY_RSA */
	int curve_nid;              /* EC only */
	int bits;
	int sensitive, extractable, always_sensitive, never_extractable;
	int can_sign, can_decrypt, can_unwrap, can_derive;
	char label[256];
	char token_label[33];
	char token_serial[17];
};
int signer_key_info(struct signer *s, struct signer_key_info *out, struct nrfca_err *err);

/* Key ceremony: generate an EC key pair inside the token named by
 * cfg->uri (object label and/or id from the URI) with CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false, CKA_SIGN true and no decrypt/unwrap/derive.
 * curve_nid: NID_X9_62_prime256v1 or NID_secp384r1.  Refuses (NRFCA_E_EXISTS)
 * when a key with that label or id already exists. */
int signer_generate_ec_key(const struct signer_config *cfg, int curve_nid, struct nrfca_err *err);

/*
 * The same key for OpenSSL's command line through libp11's pkcs11 engine
 * (`openssl ... -engine pkcs11 -keyform engine -key URI`).  libp11 0.4.12
 * refuses a module-path in a URI, so: *module is the module file (for
 * PKCS11_MODULE_PATH, resolved as the signer resolves it) and *uri is the
 * configuration's URI without module-path, with type=private and with
 * pin-source as an absolute file: path.  *pin_newline is set when the PIN
 * file ends with a line break, which libp11 0.4.12 sends as part of the PIN
 * (nrfca strips it).  Nothing is loaded; the PIN is not read.  Free both
 * strings.
 */
int signer_engine_form(const struct signer_config *cfg, char **module, char **uri,
		       int *pin_newline, struct nrfca_err *err);

#endif
