/* cmd_creds.c - `nrfca creds list|delete|write`: credential management on a modem. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "nrf91.h"

enum creds_action { ACT_LIST, ACT_DELETE, ACT_WRITE, ACT_MAX };

static const char *const action_names[ACT_MAX] = {
	[ACT_LIST] = "list", [ACT_DELETE] = "delete", [ACT_WRITE] = "write",
};

struct creds_opts {
	enum creds_action action;
	const char *port;
	long long sec_tag;     /* -1 = not given */
	int type;              /* -1 = not given */
	const char *file;
	enum nrf91_eol eol;
	unsigned baud;
	int rtscts;
	enum nrfca_at_prefix prefix;
	int verbose;
	int json;
	size_t shell_buffer;   /* 0 = default */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca creds list   --port DEV [options] [--json]\n"
		"       nrfca creds delete --port DEV --sec-tag N --type T [options]\n"
		"       nrfca creds write  --port DEV --sec-tag N --type T --file PEM\n"
		"                          [--line-ending crlf|lf] [options]\n"
		"\n"
		"List, delete or write credentials (AT%%CMNG) on an nRF91 modem.\n"
		"\n"
		"  --port DEV           serial port of the modem (e.g. /dev/ttyACM0)\n"
		"  --sec-tag N          security tag, 0..%u\n"
		"  --type T             0 ca-cert, 1 client-cert, 3 psk, 4 psk-identity,\n"
		"                       5 public-key (number or name); type 2 (private key)\n"
		"                       is never written here: keys stay made by %%KEYGEN\n"
		"  --file F             content to write (at most %u bytes; PEM for 0, 1, 5)\n"
		"  --line-ending E      plain AT: line ending inside the written PEM, crlf\n"
		"                       (default) or lf (firmware 2.0.x answering +CME ERROR:\n"
		"                       527 wants lf). Through a Zephyr shell line breaks\n"
		"                       travel as \\n and the firmware stores CR LF whatever\n"
		"                       this says\n"
		"  --baud B             baud rate (default 115200)\n"
		"  --no-rtscts          no RTS/CTS hardware flow control\n"
		"  --at-prefix P        auto (default), none (plain AT) or shell (Zephyr `at ...`)\n"
		"  --shell-buffer N     the firmware shell's command buffer in bytes\n"
		"                       (CONFIG_SHELL_CMD_BUFF_SIZE, default %u); a longer write\n"
		"                       is refused before it is sent\n"
		"  --json               list as JSON\n"
		"  --verbose            print the AT traffic on stderr (secrets redacted)\n"
		"\n"
		"delete and write switch the modem offline (AT+CFUN=4) first when needed and\n"
		"say so; the modem stays offline afterwards. write reads the entry back and\n"
		"checks that the modem's SHA-256 equals that of the bytes sent (firmware that\n"
		"shows hashes: nRF9160 1.3.2 or later, all nRF91x1).\n\n",
		NRF91_SEC_TAG_MAX, NRF91_CRED_SIZE_MAX, NRFCA_AT_SHELL_BUFFER);
	nrfca_exit_print_table(f);
}

static void trace_line(void *ctx, enum nrfca_at_dir dir, const char *line)
{
	fprintf(stderr, "%s %s\n", dir == NRFCA_AT_SENT ? "->" : "<-", line);
}

static int parse_args(int argc, char **argv, struct creds_opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "sec-tag", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ "file", required_argument, NULL, 'f' },
		{ "line-ending", required_argument, NULL, 'l' },
		{ "baud", required_argument, NULL, 'b' },
		{ "no-rtscts", no_argument, NULL, 'R' },
		{ "at-prefix", required_argument, NULL, 'a' },
		{ "shell-buffer", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, i;

	memset(o, 0, sizeof(*o));
	o->sec_tag = -1;
	o->type = -1;
	o->eol = NRF91_EOL_CRLF;
	o->baud = NRFCA_SERIAL_DEFAULT_BAUD;
	o->rtscts = 1;
	o->prefix = NRFCA_AT_PREFIX_AUTO;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? NRFCA_EXIT_USAGE : -1;
	}
	for (i = 0; i < ACT_MAX; i++)
		if (strcmp(argv[1], action_names[i]) == 0)
			break;
	if (i == ACT_MAX) {
		fprintf(stderr, "nrfca creds: unknown action '%s' (list, delete or write)\n",
			argv[1]);
		return NRFCA_EXIT_USAGE;
	}
	o->action = (enum creds_action)i;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->port = optarg;
			break;
		case 's':
			errno = 0;
			o->sec_tag = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || o->sec_tag < 0 ||
			    o->sec_tag > NRF91_SEC_TAG_MAX) {
				fprintf(stderr, "nrfca creds: --sec-tag must be 0..%u\n",
					NRF91_SEC_TAG_MAX);
				return NRFCA_EXIT_USAGE;
			}
			break;
		case 't':
			o->type = nrf91_cred_type_parse(optarg);
			if (o->type < 0) {
				fprintf(stderr, "nrfca creds: --type must be 0..6 or a name "
					"(ca-cert, client-cert, client-key, psk, psk-identity, "
					"public-key, identity-public-key)\n");
				return NRFCA_EXIT_USAGE;
			}
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'l':
			if (strcmp(optarg, "crlf") == 0)
				o->eol = NRF91_EOL_CRLF;
			else if (strcmp(optarg, "lf") == 0)
				o->eol = NRF91_EOL_LF;
			else {
				fprintf(stderr, "nrfca creds: --line-ending must be crlf or lf\n");
				return NRFCA_EXIT_USAGE;
			}
			break;
		case 'b':
			errno = 0;
			{
				unsigned long b = strtoul(optarg, &end, 10);

				if (errno || *end || end == optarg || b > 4000000 ||
				    !nrfca_serial_baud_ok((unsigned)b)) {
					fprintf(stderr, "nrfca creds: baud rate '%s' is not supported "
						"(9600 .. 1000000, e.g. 115200)\n", optarg);
					return NRFCA_EXIT_USAGE;
				}
				o->baud = (unsigned)b;
			}
			break;
		case 'R':
			o->rtscts = 0;
			break;
		case 'a':
			if (nrfca_at_prefix_parse(optarg, &o->prefix) != 0) {
				fprintf(stderr, "nrfca creds: --at-prefix must be auto, none or shell\n");
				return NRFCA_EXIT_USAGE;
			}
			break;
		case 'B': {
			unsigned long long b;

			errno = 0;
			b = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || b < NRFCA_AT_SHELL_BUFFER_MIN ||
			    b > 1048576) {
				fprintf(stderr, "nrfca creds: --shell-buffer must be %u..1048576 "
					"bytes\n", NRFCA_AT_SHELL_BUFFER_MIN);
				return NRFCA_EXIT_USAGE;
			}
			o->shell_buffer = (size_t)b;
			break;
		}
		case 'v':
			o->verbose = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return nrfca_cli_bad_option("nrfca creds", argv + 1, c);
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "nrfca creds: unexpected argument '%s'\n", argv[optind + 1]);
		return NRFCA_EXIT_USAGE;
	}
	if (o->port == NULL) {
		fprintf(stderr, "nrfca creds %s: --port DEV is required\n", action_names[o->action]);
		return NRFCA_EXIT_USAGE;
	}
	if (o->action != ACT_LIST && (o->sec_tag < 0 || o->type < 0)) {
		fprintf(stderr, "nrfca creds %s: --sec-tag and --type are required\n",
			action_names[o->action]);
		return NRFCA_EXIT_USAGE;
	}
	if (o->action == ACT_WRITE) {
		if (o->file == NULL) {
			fprintf(stderr, "nrfca creds write: --file is required\n");
			return NRFCA_EXIT_USAGE;
		}
		if (o->type == NRF91_CRED_CLIENT_KEY) {
			fprintf(stderr, "nrfca creds write: type 2 (client private key) is not "
				"written by nrfca creds: keys are generated inside the modem with "
				"%%KEYGEN (nrfca provision)\n");
			return NRFCA_EXIT_USAGE;
		}
		if (o->type == NRF91_CRED_IDENTITY_KEY) {
			fprintf(stderr, "nrfca creds write: type 6 (device identity public key) "
				"belongs to the modem and cannot be written\n");
			return NRFCA_EXIT_USAGE;
		}
	}
	if (o->json && o->action != ACT_LIST) {
		fprintf(stderr, "nrfca creds: --json applies to list only\n");
		return NRFCA_EXIT_USAGE;
	}
	return 0;
}

/* Read at most NRF91_CRED_SIZE_MAX bytes of a regular file. */
static int read_file(const char *path, char **out, size_t *len, struct nrfca_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = -1;

	if (fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		nrfca_err_set(e, NRFCA_E_IO, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > NRF91_CRED_SIZE_MAX) {
		nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is %lld bytes, over the limit of %u", path,
			      (long long)st.st_size, NRF91_CRED_SIZE_MAX);
		goto out;
	}
	buf = malloc(NRF91_CRED_SIZE_MAX + 1);
	if (buf == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, NRF91_CRED_SIZE_MAX + 1 - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			nrfca_err_set(e, NRFCA_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > NRF91_CRED_SIZE_MAX) {
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is over the limit of %u bytes", path,
				      NRF91_CRED_SIZE_MAX);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, NRF91_CRED_SIZE_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Credentials change only with the modem offline (CFUN 0 or 4). */
static int ensure_offline(struct nrf91 *m, struct nrfca_err *e)
{
	int mode = -1;

	if (nrf91_cfun_get(m, &mode, e) != 0)
		return -1;
	if (mode == 0 || mode == 4)
		return 0;
	fprintf(stderr, "nrfca creds: modem is in functional mode %d; switching it offline "
		"(AT+CFUN=4) to change credentials; it stays offline afterwards\n", mode);
	return nrf91_cfun_set(m, 4, e);
}

static int do_list(struct nrf91 *m, const struct creds_opts *o, struct nrfca_err *e)
{
	struct nrf91_cred *v = NULL;
	size_t n = 0, i;
	json_t *doc = NULL, *arr;
	int rc;

	if (nrf91_cmng_list(m, &v, &n, e) != 0)
		return nrf91_failure_exit(m);
	if (o->json) {
		doc = json_object();
		arr = json_array();
		if (doc == NULL || arr == NULL || json_object_set_new(doc, "credentials", arr) != 0) {
			json_decref(doc);
			free(v);
			nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
			return NRFCA_EXIT_FAILURE;
		}
		for (i = 0; i < n; i++) {
			json_t *c = json_pack("{s:I, s:i, s:s, s:s?}", "sec_tag",
					      (json_int_t)v[i].sec_tag, "type", v[i].type,
					      "type_name", nrf91_cred_type_name(v[i].type), "sha256",
					      v[i].has_hash ? v[i].sha256 : NULL);

			if (c == NULL || json_array_append_new(arr, c) != 0) {
				json_decref(doc);
				free(v);
				nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
				return NRFCA_EXIT_FAILURE;
			}
		}
		rc = json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 ? 0 : NRFCA_EXIT_LOCAL_IO;
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		if (n == 0)
			fprintf(stderr, "nrfca creds list: no credentials on the modem (sec_tags "
				"above %u belong to the modem and are not shown)\n", NRF91_SEC_TAG_MAX);
		for (i = 0; i < n; i++)
			printf("%-10u  %d %-20s %s\n", (unsigned)v[i].sec_tag, v[i].type,
			       nrf91_cred_type_name(v[i].type), v[i].has_hash ? v[i].sha256 : "-");
		rc = 0;
	}
	free(v);
	return rc;
}

static int do_delete(struct nrf91 *m, const struct creds_opts *o, struct nrfca_err *e)
{
	if (ensure_offline(m, e) != 0 ||
	    nrf91_cmng_delete(m, (uint32_t)o->sec_tag, o->type, e) != 0)
		return nrf91_failure_exit(m);
	printf("deleted sec_tag %lld type %d (%s)\n", o->sec_tag, o->type,
	       nrf91_cred_type_name(o->type));
	return 0;
}

static int do_write(struct nrf91 *m, const struct creds_opts *o, struct nrfca_err *e)
{
	struct nrf91_cred *v = NULL;
	struct nrf91_fw fw;
	char *content = NULL, hash[65];
	size_t len = 0, n = 0, i;
	int rc, found = 0, hashes = 1;

	if (read_file(o->file, &content, &len, e) != 0)
		return e->code == NRFCA_E_TOO_LARGE ? NRFCA_EXIT_USAGE : NRFCA_EXIT_LOCAL_IO;
	if (nrf91_read_fw(m, &fw, e) == 0)
		hashes = nrf91_fw_shows_hashes(&fw);
	else if (nrf91_last_failure(m) == NRF91_FAIL_PORT) {
		rc = nrf91_failure_exit(m);
		goto out;
	}
	if (ensure_offline(m, e) != 0 ||
	    nrf91_cmng_write(m, (uint32_t)o->sec_tag, o->type, content, len, o->eol, hash, e) != 0) {
		rc = nrf91_failure_exit(m);
		goto out;
	}
	printf("wrote %s to sec_tag %lld type %d (%s), SHA-256 %s\n", o->file, o->sec_tag,
	       o->type, nrf91_cred_type_name(o->type), hash);
	if (!hashes) {
		printf("firmware %s does not show hashes: not read back\n", fw.raw);
		rc = 0;
		goto out;
	}
	if (nrf91_cmng_list(m, &v, &n, e) != 0) {
		rc = nrf91_failure_exit(m);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (v[i].sec_tag == (uint32_t)o->sec_tag && v[i].type == o->type) {
			found = 1;
			if (!v[i].has_hash) {
				printf("modem lists the entry without a hash: not compared\n");
				rc = 0;
				goto out;
			}
			if (strcmp(v[i].sha256, hash) != 0) {
				nrfca_err_set(e, NRFCA_E_BINDING, "modem lists SHA-256 %s for sec_tag "
					      "%lld type %d, not the %s of the bytes written",
					      v[i].sha256, o->sec_tag, o->type, hash);
				rc = NRFCA_EXIT_VERIFY_FAILED;
				goto out;
			}
		}
	if (!found) {
		nrfca_err_set(e, NRFCA_E_BINDING, "modem accepted the write but does not list "
			      "sec_tag %lld type %d", o->sec_tag, o->type);
		rc = NRFCA_EXIT_VERIFY_FAILED;
		goto out;
	}
	printf("verified: the modem lists the same SHA-256\n");
	rc = 0;
out:
	free(v);
	if (content != NULL) {
		OPENSSL_cleanse(content, len);
		free(content);
	}
	return rc;
}

int cmd_creds(int argc, char **argv)
{
	struct creds_opts o;
	struct nrf91_opts mo;
	struct nrf91 *m = NULL;
	struct nrfca_err e = { 0 };
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? NRFCA_EXIT_OK : rc;
	memset(&mo, 0, sizeof(mo));
	mo.port.path = o.port;
	mo.port.baud = o.baud;
	mo.port.rtscts = o.rtscts;
	mo.at.prefix = o.prefix;
	mo.at.shell_buffer = o.shell_buffer;
	mo.at.trace = o.verbose ? trace_line : NULL;
	if (nrf91_open(&mo, &m, &e) != 0) {
		fprintf(stderr, "nrfca creds: %s\n", e.msg);
		return e.code == NRFCA_E_CONFIG ? NRFCA_EXIT_USAGE : NRFCA_EXIT_MODEM_SILENT;
	}
	if (o.verbose)
		fprintf(stderr, "nrfca creds: talking %s AT on %s\n",
			nrfca_at_prefix_mode(nrf91_engine(m)) == NRFCA_AT_PREFIX_SHELL ?
			"Zephyr shell" : "plain", o.port);
	switch (o.action) {
	case ACT_LIST:
		rc = do_list(m, &o, &e);
		break;
	case ACT_DELETE:
		rc = do_delete(m, &o, &e);
		break;
	default:
		rc = do_write(m, &o, &e);
		break;
	}
	if (rc != 0)
		fprintf(stderr, "nrfca creds %s: %s\n", action_names[o.action], e.msg);
	nrf91_close(m);
	return rc;
}
