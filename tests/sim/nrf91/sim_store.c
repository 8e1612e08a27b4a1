#include "sim_store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

struct sim_store {
	struct sim_cred e[SIM_STORE_MAX];
	size_t n;
};

struct sim_store *sim_store_create(void)
{
	return calloc(1, sizeof(struct sim_store));
}

static void cred_clear(struct sim_cred *c)
{
	if (c->content != NULL)
		OPENSSL_clear_free(c->content, c->len);
	if (c->passwd != NULL)
		OPENSSL_clear_free(c->passwd, strlen(c->passwd));
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

void sim_store_free(struct sim_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		cred_clear(&s->e[i]);
	free(s);
}

size_t sim_store_count(const struct sim_store *s)
{
	return s->n;
}

const struct sim_cred *sim_store_at(const struct sim_store *s, size_t i)
{
	return i < s->n ? &s->e[i] : NULL;
}

static int cmp(uint32_t t1, int y1, uint32_t t2, int y2)
{
	if (t1 != t2)
		return t1 < t2 ? -1 : 1;
	if (y1 != y2)
		return y1 < y2 ? -1 : 1;
	return 0;
}

/* Index of the entry or of the place it would go. */
static size_t locate(const struct sim_store *s, uint32_t tag, int type, bool *found)
{
	size_t i;

	*found = false;
	for (i = 0; i < s->n; i++) {
		int c = cmp(s->e[i].tag, (int)s->e[i].type, tag, type);

		if (c == 0)
			*found = true;
		if (c >= 0)
			break;
	}
	return i;
}

const struct sim_cred *sim_store_find(const struct sim_store *s, uint32_t tag,
				      enum sim_cred_type type)
{
	bool found;
	size_t i = locate(s, tag, (int)type, &found);

	return found ? &s->e[i] : NULL;
}

int sim_store_put(struct sim_store *s, uint32_t tag, enum sim_cred_type type,
		  const uint8_t *content, size_t len, const char *passwd, EVP_PKEY *key,
		  bool generated, bool modem_own)
{
	struct sim_cred c;
	bool found;
	size_t i = locate(s, tag, (int)type, &found);
	unsigned char *der = NULL;
	int dl;

	if (!found && s->n == SIM_STORE_MAX)
		return -1;
	memset(&c, 0, sizeof(c));
	c.tag = tag;
	c.type = type;
	c.generated = generated;
	c.modem_own = modem_own;
	c.content = malloc(len ? len : 1);
	if (c.content == NULL)
		goto nomem;
	memcpy(c.content, content, len);
	c.len = len;
	if (passwd != NULL && (c.passwd = strdup(passwd)) == NULL)
		goto nomem;
	if (generated && key != NULL) {
		dl = i2d_PrivateKey(key, &der);
		if (dl <= 0)
			goto nomem;
		SHA256(der, (size_t)dl, c.sha);
		OPENSSL_clear_free(der, (size_t)dl);
	} else {
		SHA256(content, len, c.sha);
	}
	c.key = key;
	if (found) {
		cred_clear(&s->e[i]);
	} else {
		memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(s->e[0]));
		s->n++;
	}
	s->e[i] = c;
	return 0;
nomem:
	c.key = NULL;
	cred_clear(&c);
	return -2;
}

int sim_store_del(struct sim_store *s, uint32_t tag, enum sim_cred_type type)
{
	bool found;
	size_t i = locate(s, tag, (int)type, &found);

	if (!found)
		return -1;
	cred_clear(&s->e[i]);
	memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(s->e[0]));
	s->n--;
	memset(&s->e[s->n], 0, sizeof(s->e[0]));
	return 0;
}
