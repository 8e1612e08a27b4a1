#include "auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "timefmt.h"

int auth_new_secret(char out[AUTH_SECRET_LEN + 1], struct nrfca_err *err)
{
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot draw a random secret");
	memcpy(out, "nrfca_", 6);
	if (nrfca_b64url_encode(raw, sizeof(raw), out + 6, AUTH_SECRET_LEN + 1 - 6) < 0) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot encode the secret");
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	out[AUTH_SECRET_LEN] = '\0';
	return 0;
}

void auth_hash(const char *secret, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(secret, len, out, &n, EVP_sha256(), NULL);
}

int auth_bearer(struct ledger *l, const char *header, struct principal *who,
		struct nrfca_err *err)
{
	unsigned char h[32];
	const char *tok;
	size_t n;
	int disabled = 0, rc;
	enum cred_role role;

	if (header == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "no credential: send 'Authorization: Bearer <token>'");
	n = strnlen(header, AUTH_HEADER_MAX + 1);
	if (n > AUTH_HEADER_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the Authorization header is too long");
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the Authorization header must be 'Bearer <token>'");
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	n = strlen(tok);
	while (n > 0 && tok[n - 1] == ' ')
		n--;
	if (n == 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the bearer token is empty");
	auth_hash(tok, n, h);
	rc = ledger_cred_lookup(l, h, who->name, &role, &disabled, err);
	OPENSSL_cleanse(h, sizeof(h));
	if (rc < 0)
		return -1;
	if (rc == 1)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the bearer token is not known");
	if (disabled == 2) {
		struct ledger_cred_info ci;
		char t[NRFCA_TIME_ISO_LEN];

		/* rare: the extra read only names the time */
		if (ledger_cred_get(l, who->name, &ci, NULL) == 0 && ci.expires_at > 0) {
			nrfca_time_iso(ci.expires_at, t);
			return nrfca_err_set(err, NRFCA_E_INPUT, "the credential '%s' expired at %s; "
					     "an operator can give it a new secret and expiry "
					     "(nrfca-admin token rotate --expires)", who->name, t);
		}
		return nrfca_err_set(err, NRFCA_E_INPUT, "the credential '%s' has expired", who->name);
	}
	if (disabled)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the credential '%s' is disabled",
				     who->name);
	who->role = role;
	who->via_client_cert = 0;
	return 0;
}

int auth_client_cert(struct ledger *l, const unsigned char sha256[32], const char *subject,
		     struct principal *who, struct nrfca_err *err)
{
	struct ledger_cred_info ci;
	char fp[17];
	int i, rc;

	rc = ledger_cred_lookup_cert(l, sha256, subject, &ci, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		for (i = 0; i < 8; i++)
			snprintf(fp + 2 * i, 3, "%02x", sha256[i]);
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the client certificate '%.200s' (SHA-256 %s...) is bound to no "
				     "credential: nrfca-admin token bind --name NAME --client-cert FILE",
				     subject, fp);
	}
	if (ci.disabled || ci.expired)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the credential '%s' of this client certificate %s", ci.name,
				     ci.disabled ? "is disabled" : "has expired");
	snprintf(who->name, sizeof(who->name), "%s", ci.name);
	who->role = ci.role;
	who->via_client_cert = 1;
	return 0;
}
