/* nrfca-admin token bind / unbind: a station's client certificate (mutual
 * TLS) names an API credential.  The certificate then shares the
 * credential's name, role, enable/disable state and expiry. */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "clientcert.h"
#include "ledger.h"

const char admin_token_bind_help[] =
	"usage: nrfca-admin [--config FILE] token bind --name NAME\n"
	"                   (--client-cert FILE | --subject DN)\n\n"
	"Binds a client certificate to the API credential NAME: a request over TLS\n"
	"with that certificate (verified against tls.client_ca and tls.client_crl)\n"
	"is that credential, with its role, state and expiry.  A certificate bound\n"
	"to no credential is refused.\n"
	"  --name NAME         the credential (nrfca-admin token list)\n"
	"  --client-cert FILE  bind this one certificate (PEM or DER) by its SHA-256\n"
	"  --subject DN        bind every certificate of the stations' CA with this\n"
	"                      subject, written as `openssl x509 -noout -subject\n"
	"                      -nameopt RFC2253` prints it, e.g. 'CN=line-3,O=Example'\n"
	"Both may be given.  A certificate or subject names one credential at most.\n";

const char admin_token_unbind_help[] =
	"usage: nrfca-admin [--config FILE] token unbind --name NAME\n\n"
	"Removes the client certificate bindings of the credential NAME.\n"
	"  --name NAME   the credential\n";

static void hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int admin_token_bind(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "client-cert", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *file = NULL, *dn = NULL;
	char subject[LEDGER_CERT_SUBJECT_MAX + 1], fp[65];
	struct clientcert_id id;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, rc = 0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'n':
			name = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 's':
			dn = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (name == NULL || name[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	if (file == NULL && dn == NULL)
		return admin_usage_error(a, "needs --client-cert FILE or --subject DN (or both)");
	if (file != NULL && clientcert_id_from_file(file, &id, &e) != 0)
		return admin_fail(a, "--client-cert: %s", e.msg);
	if (dn != NULL && clientcert_subject_canonical(dn, subject, sizeof(subject), &e) != 0)
		return admin_usage_error(a, "--subject '%s': %s", dn, e.msg);
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (ledger_cred_bind_cert(l, name, file ? id.sha256 : NULL, dn ? subject : NULL,
				  admin_actor(), &e) != 0) {
		rc = admin_fail(a, "%s", e.msg);
	} else {
		if (file != NULL) {
			hex(id.sha256, sizeof(id.sha256), fp);
			printf("bound credential '%s' to the certificate %s\n  (subject %s, "
			       "SHA-256 %s)\n", name, file, id.subject, fp);
		}
		if (dn != NULL)
			printf("bound credential '%s' to every certificate of the stations' CA "
			       "with subject %s\n", name, subject);
		printf("a running server accepts it within a few seconds\n");
	}
	ledger_close(l);
	return rc;
}

int admin_token_unbind(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, rc = 0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'n')
			return 2;
		name = optarg;
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (name == NULL || name[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (ledger_cred_unbind_cert(l, name, admin_actor(), &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	else
		printf("credential '%s' is bound to no client certificate any more\n", name);
	ledger_close(l);
	return rc;
}
