/*
 * sim_store.h - the simulated modem's credential storage (%CMNG, %KEYGEN).
 *
 * Entries are kept ordered by (sec_tag, type), the order %CMNG list uses.
 * The store owns every entry's content and key.  A store holds at most
 * SIM_STORE_MAX entries (the modem answers 515 "memory full" beyond).
 */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SIM_STORE_MAX 64
#define SIM_SEC_TAG_USER_MAX 2147483647u

enum sim_cred_type {
	SIM_CRED_ROOT_CA = 0,
	SIM_CRED_CLIENT_CERT = 1,
	SIM_CRED_CLIENT_KEY = 2,
	SIM_CRED_PSK = 3,
	SIM_CRED_PSK_ID = 4,
	SIM_CRED_PUBLIC_KEY = 5,
	SIM_CRED_IDENTITY_PUB = 6,
	SIM_CRED_MAX
};

struct sim_cred {
	uint32_t tag;
	enum sim_cred_type type;
	uint8_t *content; /* exact bytes written; for a generated key its PKCS#8 PEM */
	size_t len;
	char *passwd;     /* NULL when none was given */
	EVP_PKEY *key;    /* type 2: the private key (generated, or parsed from content) */
	bool generated;   /* made by %KEYGEN */
	bool modem_own;   /* the modem's own entry (sec_tag > 2147483647) */
	uint8_t sha[32];  /* SHA-256 of the stored bytes (generated key: of its DER) */
};

struct sim_store;

struct sim_store *sim_store_create(void);
void sim_store_free(struct sim_store *s);

size_t sim_store_count(const struct sim_store *s);
const struct sim_cred *sim_store_at(const struct sim_store *s, size_t i);
const struct sim_cred *sim_store_find(const struct sim_store *s, uint32_t tag,
				      enum sim_cred_type type);

/* Insert or replace.  Takes ownership of `key` on success (0).  Returns -1
 * when the store is full, -2 when out of memory. */
int sim_store_put(struct sim_store *s, uint32_t tag, enum sim_cred_type type,
		  const uint8_t *content, size_t len, const char *passwd, EVP_PKEY *key,
		  bool generated, bool modem_own);
/* 0 deleted, -1 absent. */
int sim_store_del(struct sim_store *s, uint32_t tag, enum sim_cred_type type);

#endif
