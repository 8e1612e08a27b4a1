/*
 * nrfca parse - decode pasted %KEYGEN / %ATTESTTOKEN output, check the
 * attestation binding (and the CSR self-signature, and the COSE signature
 * when an identity key is given), print the fields as one JSON object.
 *
 * Exit status: 0 everything decoded and verified, 1 decoding or verification
 * failed (one line on stderr says why), 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "cli.h"
#include "commands.h"
#include "csr.h"
#include "error.h"
#include "modem_out.h"

#define PARSE_EXIT_OK 0
#define PARSE_EXIT_FAIL 1
#define PARSE_EXIT_USAGE 2
#define IDENTITY_PEM_MAX 16384

static const char *const ku_names[9] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
};

static void parse_usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca parse [--identity-pub FILE] [--csr-out FILE] STRING|-\n"
		"\n"
		"Decode %%KEYGEN or %%ATTESTTOKEN output, given as the whole response line,\n"
		"the quoted string or the bare <part1>.<part2> payload (\"-\" reads it from\n"
		"standard input, at most %d bytes).  Checks that the attested SHA-256 matches\n"
		"part 1 and that a CSR's self-signature verifies, then prints one JSON object.\n"
		"\n"
		"  --identity-pub FILE  PEM public key (EC P-256) of the modem's identity key:\n"
		"                       also verify the COSE signature\n"
		"  --csr-out FILE       write the CSR as PEM (kind csr only)\n"
		"  --help               this text\n"
		"\n"
		"Exit status: 0 decoded and verified, 1 decoding or verification failed,\n"
		"2 usage.\n", NRFCA_MODEM_OUT_MAX);
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr: "nrfca parse: <reason>"; returns `code`. */
static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nrfca parse: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Read at most `max` bytes from f into a new buffer; -1 when there is more. */
static int read_limited(FILE *f, size_t max, char **buf, size_t *len)
{
	char *b = malloc(max + 1);
	size_t n = 0, r;

	if (b == NULL)
		return -1;
	while (n <= max && (r = fread(b + n, 1, max + 1 - n, f)) > 0)
		n += r;
	if (n > max || ferror(f)) {
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

static EVP_PKEY *load_identity_pub(const char *path, struct nrfca_err *err)
{
	FILE *f = fopen(path, "rb");
	char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;

	if (f == NULL) {
		nrfca_err_set(err, NRFCA_E_IO, "cannot open the identity public key %s", path);
		goto out;
	}
	if (read_limited(f, IDENTITY_PEM_MAX, &pem, &len) != 0) {
		nrfca_err_set(err, NRFCA_E_IO,
			      "cannot read the identity public key %s (unreadable or larger than %d bytes)",
			      path, IDENTITY_PEM_MAX);
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL || (pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL)
		nrfca_err_ssl(err, NRFCA_E_INPUT,
			      "%s holds no PEM public key (\"-----BEGIN PUBLIC KEY-----\")", path);
out:
	BIO_free(bio);
	free(pem);
	if (f != NULL)
		fclose(f);
	return pk;
}

static int write_file(const char *path, const char *text, struct nrfca_err *err)
{
	FILE *f = fopen(path, "w");
	size_t n = strlen(text);

	if (f == NULL)
		return nrfca_err_set(err, NRFCA_E_IO, "cannot create %s", path);
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		return nrfca_err_set(err, NRFCA_E_IO, "cannot write %s", path);
	}
	if (fclose(f) != 0)
		return nrfca_err_set(err, NRFCA_E_IO, "cannot write %s", path);
	return 0;
}

static void set_hex(json_t *o, const char *key, const unsigned char *b, size_t n)
{
	char hex[2 * 64 + 1];

	if (n > 64)
		return;
	nrfca_hex_encode(b, n, hex);
	json_object_set_new(o, key, json_string(hex));
}

int cmd_parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity-pub", required_argument, NULL, 'i' },
		{ "csr-out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err err = { 0 };
	const char *identity_path = NULL, *csr_out = NULL, *arg;
	char *input = NULL, *pem = NULL, *dump = NULL;
	size_t input_len;
	struct nrfca_modem_out *m = NULL;
	struct nrfca_csr *csr = NULL;
	EVP_PKEY *spki = NULL, *identity = NULL;
	json_t *o = NULL, *ku;
	char key_desc[48];
	unsigned usage;
	int c, i, present, rc = PARSE_EXIT_FAIL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			identity_path = optarg;
			break;
		case 'o':
			csr_out = optarg;
			break;
		case 'h':
			parse_usage(stdout);
			return PARSE_EXIT_OK;
		default:
			nrfca_cli_bad_option("nrfca parse", argv, c);
			return PARSE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		return fail(PARSE_EXIT_USAGE, "%s",
			    optind >= argc ? "give the modem output as one argument, or - to read it "
					     "from standard input (see nrfca parse --help)"
					   : "give the modem output as ONE argument: quote it, it contains "
					     "spaces and quotes");
	}
	arg = argv[optind];

	if (strcmp(arg, "-") == 0) {
		if (read_limited(stdin, NRFCA_MODEM_OUT_MAX, &input, &input_len) != 0) {
			rc = fail(PARSE_EXIT_FAIL, "standard input cannot be read or is larger than "
				  "%d bytes; modem output is about 600", NRFCA_MODEM_OUT_MAX);
			goto out;
		}
	} else {
		input_len = strlen(arg);
		input = malloc(input_len + 1);
		if (input == NULL)
			goto out;
		memcpy(input, arg, input_len + 1);
	}

	if (identity_path != NULL && (identity = load_identity_pub(identity_path, &err)) == NULL) {
		rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (nrfca_modem_out_parse(input, input_len, &m, &err) != 0) {
		rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (csr_out != NULL && m->kind != NRFCA_MODEM_CSR) {
		rc = fail(PARSE_EXIT_FAIL, "--csr-out given but the output holds %s, not a CSR",
			  m->kind == NRFCA_MODEM_PUBLIC_KEY ? "a public key" : "an attestation token");
		goto out;
	}

	o = json_object();
	if (o == NULL)
		goto out;
	json_object_set_new(o, "kind", json_string(nrfca_modem_kind_name(m->kind)));
	json_object_set_new(o, "payload_id", json_integer(m->payload_id));
	json_object_set_new(o, "device_uuid", json_string(m->device_uuid_str));
	if (m->has_sec_tag)
		json_object_set_new(o, "sec_tag", json_integer((json_int_t)m->sec_tag));

	switch (m->kind) {
	case NRFCA_MODEM_CSR:
		if (nrfca_csr_from_der(m->part1, m->part1_len, &csr, &err) != 0) {
			nrfca_err_prefix(&err, "part 1");
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
		json_object_set_new(o, "cn", nrfca_csr_cn(csr) ? json_string(nrfca_csr_cn(csr))
							       : json_null());
		json_object_set_new(o, "key", json_string(nrfca_csr_key_desc(csr)));
		usage = nrfca_csr_key_usage(csr, &present);
		if (present) {
			ku = json_array();
			for (i = 0; i < 9; i++)
				if (usage & (1u << i))
					json_array_append_new(ku, json_string(ku_names[i]));
			json_object_set_new(o, "key_usage", ku);
		}
		break;
	case NRFCA_MODEM_PUBLIC_KEY:
		if (nrfca_spki_from_der(m->part1, m->part1_len, &spki, &err) != 0) {
			nrfca_err_prefix(&err, "part 1");
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
		nrfca_pkey_describe(spki, key_desc, sizeof(key_desc));
		json_object_set_new(o, "key", json_string(key_desc));
		break;
	default:
		json_object_set_new(o, "device_type", json_integer(m->device_type));
		json_object_set_new(o, "modem_fw_uuid", json_string(m->fw_uuid_str));
		break;
	}
	set_hex(o, "sha256", m->part1_sha256, 32);
	json_object_set_new(o, "binding", json_string("ok"));
	set_hex(o, "nonce", m->nonce, 16);
	if (m->has_kid)
		set_hex(o, "kid", m->kid, m->kid_len);
	if (identity != NULL) {
		if (nrfca_modem_out_verify_signature(m, identity, &err) != 0) {
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
		json_object_set_new(o, "signature", json_string("ok"));
	} else {
		json_object_set_new(o, "signature", json_string("not_checked"));
	}
	if (csr != NULL) {
		if (nrfca_csr_to_pem(csr, &pem, &err) != 0) {
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
		json_object_set_new(o, "csr_pem", json_string(pem));
		if (csr_out != NULL && write_file(csr_out, pem, &err) != 0) {
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
	} else if (spki != NULL) {
		if (nrfca_der_to_pem("PUBLIC KEY", m->part1, m->part1_len, &pem, &err) != 0) {
			rc = fail(PARSE_EXIT_FAIL, "%s", err.msg);
			goto out;
		}
		json_object_set_new(o, "public_key_pem", json_string(pem));
	}
	dump = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (dump == NULL)
		goto out;
	printf("%s\n", dump);
	rc = fflush(stdout) == 0 ? PARSE_EXIT_OK : PARSE_EXIT_FAIL;
out:
	free(dump);
	json_decref(o);
	free(pem);
	EVP_PKEY_free(spki);
	EVP_PKEY_free(identity);
	nrfca_csr_free(csr);
	nrfca_modem_out_free(m);
	free(input);
	return rc;
}
