/* prov_cli.c - options and station config of a provisioning run (see prov_cli.h). */
#include "prov_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcodes.h"
#include "journal.h"
#include "nrfcloud.h"

void prov_cli_usage_options(FILE *f, const char *port_line)
{
	fprintf(f,
		"Station (flags win over --station-config):\n"
		"  --server URL           CA base URL (https://; http:// only for loopback)\n"
		"  --token-file F         file with the station's bearer secret\n"
		"  --ca-bundle F          PEM bundle to verify the CA's TLS certificate\n"
		"  --client-cert F        PEM client certificate of the station (mutual TLS;\n"
		"                         the CA must have it bound to a credential)\n"
		"  --client-key F         its PEM private key (default: in the --client-cert file)\n"
		"  --station-config F     key = value file (max %u bytes; `#` comments); keys:\n"
		"                         server, token_file, ca_bundle, client_cert,\n"
		"                         client_key, profile, sec_tag, line_ending,\n"
		"                         shell_buffer, journal; unknown keys are refused;\n"
		"                         relative paths are relative to the file\n"
		"  --journal DIR          station journal (default: journal= of the station\n"
		"                         config, else journal/ next to it, else\n"
		"                         ~/.local/state/nrfca/journal)\n"
		"Modem:\n"
		"%s"
		"  --baud B               baud rate (default 115200)\n"
		"  --no-rtscts            no RTS/CTS hardware flow control\n"
		"  --at-prefix P          auto (default: detected), none (plain AT: at_client,\n"
		"                         serial_lte_modem) or shell (a Zephyr shell with nRF\n"
		"                         Connect SDK's `at` command)\n"
		"  --shell-buffer N       the firmware shell's command buffer in bytes\n"
		"                         (CONFIG_SHELL_CMD_BUFF_SIZE; default %u, what Nordic's\n"
		"                         nRF Cloud samples set); a write that does not fit is\n"
		"                         refused before anything is written\n"
		"  --sec-tag N            security tag (default %u)\n"
		"  --line-ending E        plain AT: crlf (default) or lf inside written PEMs.\n"
		"                         Through a Zephyr shell line breaks travel as \\n and\n"
		"                         the firmware stores CR LF whatever this says\n"
		"  --replace              delete existing credentials at the sec_tag first and\n"
		"                         replace the device's rows in --csv / --devinfo\n"
		"  --online               AT+CFUN=1 at the end (default: the modem stays offline)\n"
		"Certificate:\n"
		"  --id ID                uuid (default: CN is the device UUID), imei (CN=<IMEI>),\n"
		"                         nrf-imei (CN=nrf-<IMEI>), or a fixed CN\n"
		"  --profile P            CA profile (default: the server's default)\n"
		"  --coap                 the nrf-cloud-coap profile (AWS + CoAP roots)\n"
		"  --slot NAME            the fixture slot, sent with the request and recorded\n"
		"                         by the CA (letters, digits, . _ - : + @; nrfca line\n"
		"                         names each slot after its port)\n"
		"  --host-key             generate the key on the station and write it (type 2);\n"
		"                         less secure: the key leaves the modem's protection;\n"
		"                         profile host-key unless --profile\n"
		"Records:\n"
		"  --csv F                append the nRF Cloud onboarding row (max %u rows/file):\n"
		"                         <device id>,<subType>,<tags>,<fwTypes>,\"<PEM, LF>\"\n"
		"  --sub-type S, --tags A|B, --fw-types T (default APP|MODEM)\n"
		"  --devinfo F            append <device id>,<modem firmware>,<IMEI>\n"
		"  --report F             write a JSON report (ids, serial, hashes, step timings)\n"
		"nRF Cloud (see `nrfca onboard --help`):\n"
		"  --onboard              onboard the device to nRF Cloud right after it is\n"
		"                         provisioned (the API key is tried before the modem is\n"
		"                         touched); if nRF Cloud fails the device stays\n"
		"                         provisioned and queued: the next run, or `nrfca\n"
		"                         onboard --queue F`, sends it; queued devices of\n"
		"                         the station go in one upload\n"
		"  --api-key-file K       nRF Cloud API key file (mode 0600)\n"
		"  --cloud-endpoint URL   nRF Cloud API base URL (default %s)\n"
		"  --cloud-stage S        prod, beta or dev\n"
		"  --onboard-queue F      the queue (default: onboard-queue.csv in the journal)\n"
		"  --cloud-attempts N     tries per nRF Cloud request before the device is left\n"
		"                         queued (default 4; 429 and 5xx are retried)\n"
		"Output:\n"
		"  --verbose              show the AT traffic (secrets redacted)\n"
		"  --quiet                only the summary line (and errors)\n"
		"\n"
		"Before the modem is touched the station checks with the CA (GET /v1/profiles)\n"
		"that its credential works, that the profile is offered to it, and that the\n"
		"profile accepts --id and --sec-tag; a refusal there leaves the modem untouched.\n"
		"A failed run says what state the modem is in. The %%KEYGEN output is kept in\n"
		"the journal until the device is provisioned: rerunning after a failure sends\n"
		"the same CSR again (the CA replays its certificate) instead of a new key; only\n"
		"when the CA refuses the CSR itself is --replace (a new key) the way on.\n"
		"\n", NRFCA_STATIONCFG_MAX, port_line, NRFCA_AT_SHELL_BUFFER,
		NRFCA_PROV_DEFAULT_SEC_TAG, NRFCA_ONBOARD_MAX_ROWS, NRFCLOUD_DEFAULT_ENDPOINT);
}

enum {
	O_PORT = 256, O_SERVER, O_TOKEN, O_CABUNDLE, O_CFG, O_JOURNAL, O_BAUD, O_NORTS,
	O_PREFIX, O_SECTAG, O_EOL, O_REPLACE, O_ONLINE, O_ID, O_PROFILE, O_COAP, O_HOSTKEY,
	O_CSV, O_SUBTYPE, O_TAGS, O_FWTYPES, O_DEVINFO, O_REPORT, O_VERBOSE, O_QUIET,
	O_ATTEMPTS, O_ONBOARD, O_APIKEY, O_CLOUD_EP, O_CLOUD_STAGE, O_QUEUE, O_CLOUD_ATTEMPTS,
	O_SHELLBUF, O_SLOT, O_CLIENTCERT, O_CLIENTKEY, O_HELP
};

static const struct option common_opts[] = {
	{ "port", required_argument, NULL, O_PORT },
	{ "server", required_argument, NULL, O_SERVER },
	{ "token-file", required_argument, NULL, O_TOKEN },
	{ "ca-bundle", required_argument, NULL, O_CABUNDLE },
	{ "client-cert", required_argument, NULL, O_CLIENTCERT },
	{ "client-key", required_argument, NULL, O_CLIENTKEY },
	{ "station-config", required_argument, NULL, O_CFG },
	{ "journal", required_argument, NULL, O_JOURNAL },
	{ "baud", required_argument, NULL, O_BAUD },
	{ "no-rtscts", no_argument, NULL, O_NORTS },
	{ "at-prefix", required_argument, NULL, O_PREFIX },
	{ "sec-tag", required_argument, NULL, O_SECTAG },
	{ "line-ending", required_argument, NULL, O_EOL },
	{ "replace", no_argument, NULL, O_REPLACE },
	{ "online", no_argument, NULL, O_ONLINE },
	{ "id", required_argument, NULL, O_ID },
	{ "profile", required_argument, NULL, O_PROFILE },
	{ "coap", no_argument, NULL, O_COAP },
	{ "host-key", no_argument, NULL, O_HOSTKEY },
	{ "csv", required_argument, NULL, O_CSV },
	{ "sub-type", required_argument, NULL, O_SUBTYPE },
	{ "tags", required_argument, NULL, O_TAGS },
	{ "fw-types", required_argument, NULL, O_FWTYPES },
	{ "devinfo", required_argument, NULL, O_DEVINFO },
	{ "report", required_argument, NULL, O_REPORT },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "ca-attempts", required_argument, NULL, O_ATTEMPTS },
	{ "shell-buffer", required_argument, NULL, O_SHELLBUF },
	{ "slot", required_argument, NULL, O_SLOT },
	{ "onboard", no_argument, NULL, O_ONBOARD },
	{ "api-key-file", required_argument, NULL, O_APIKEY },
	{ "cloud-endpoint", required_argument, NULL, O_CLOUD_EP },
	{ "cloud-stage", required_argument, NULL, O_CLOUD_STAGE },
	{ "onboard-queue", required_argument, NULL, O_QUEUE },
	{ "cloud-attempts", required_argument, NULL, O_CLOUD_ATTEMPTS },
	{ "help", no_argument, NULL, O_HELP },
};

static int parse_eol(const char *s, enum nrf91_eol *out)
{
	if (strcmp(s, "crlf") == 0)
		*out = NRF91_EOL_CRLF;
	else if (strcmp(s, "lf") == 0)
		*out = NRF91_EOL_LF;
	else
		return -1;
	return 0;
}

/* A fixture slot name as the CA records it. */
int prov_cli_slot_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-:+@", s[i]) != NULL))
			return 0;
	return i >= 1 && i <= 64;
}

static int one(struct prov_cli *pc, int c, const char *arg)
{
	const char *cmd = pc->cmd;
	char *end;

	switch (c) {
	case O_PORT:
		if (pc->nports >= PROV_CLI_MAX_PORTS) {
			fprintf(stderr, "%s: at most %d --port\n", cmd, PROV_CLI_MAX_PORTS);
			return NRFCA_EXIT_USAGE;
		}
		pc->ports[pc->nports++] = arg;
		break;
	case O_SERVER: pc->server = arg; break;
	case O_TOKEN: pc->token = arg; break;
	case O_CABUNDLE: pc->bundle = arg; break;
	case O_CLIENTCERT: pc->client_cert = arg; break;
	case O_CLIENTKEY: pc->client_key = arg; break;
	case O_CFG: pc->cfg_path = arg; break;
	case O_JOURNAL: pc->journal = arg; break;
	case O_BAUD: {
		unsigned long b;

		errno = 0;
		b = strtoul(arg, &end, 10);
		if (errno || *end || b > 4000000 || !nrfca_serial_baud_ok((unsigned)b)) {
			fprintf(stderr, "%s: baud rate '%s' is not supported\n", cmd, arg);
			return NRFCA_EXIT_USAGE;
		}
		pc->o.modem.port.baud = (unsigned)b;
		break;
	}
	case O_NORTS: pc->o.modem.port.rtscts = 0; break;
	case O_PREFIX:
		if (nrfca_at_prefix_parse(arg, &pc->o.modem.at.prefix) != 0) {
			fprintf(stderr, "%s: --at-prefix must be auto, none or shell\n", cmd);
			return NRFCA_EXIT_USAGE;
		}
		break;
	case O_SECTAG:
		errno = 0;
		pc->sec_tag = strtoll(arg, &end, 10);
		if (errno || *end || end == arg || pc->sec_tag < 0 || pc->sec_tag > NRF91_SEC_TAG_MAX) {
			fprintf(stderr, "%s: --sec-tag must be 0..%u\n", cmd, NRF91_SEC_TAG_MAX);
			return NRFCA_EXIT_USAGE;
		}
		break;
	case O_EOL: {
		enum nrf91_eol v;

		if (parse_eol(arg, &v) != 0) {
			fprintf(stderr, "%s: --line-ending must be crlf or lf\n", cmd);
			return NRFCA_EXIT_USAGE;
		}
		pc->eol = (int)v;
		break;
	}
	case O_REPLACE: pc->o.replace = 1; break;
	case O_ONLINE: pc->o.online = 1; break;
	case O_ID: pc->o.id = arg; break;
	case O_PROFILE: pc->profile = arg; break;
	case O_COAP: pc->coap = 1; break;
	case O_HOSTKEY: pc->o.host_key = 1; break;
	case O_CSV: pc->o.csv = arg; break;
	case O_SUBTYPE: pc->o.sub_type = arg; break;
	case O_TAGS: pc->o.tags = arg; break;
	case O_FWTYPES: pc->o.fw_types = arg; break;
	case O_DEVINFO: pc->o.devinfo = arg; break;
	case O_REPORT: pc->o.report = arg; break;
	case O_VERBOSE: pc->verbose = 1; break;
	case O_QUIET: pc->quiet = 1; break;
	case O_ATTEMPTS: {
		unsigned long a;

		errno = 0;
		a = strtoul(arg, &end, 10);
		if (errno || *end || a < 1 || a > 100) {
			fprintf(stderr, "%s: --ca-attempts must be 1..100\n", cmd);
			return NRFCA_EXIT_USAGE;
		}
		pc->o.ca.attempts = (unsigned)a;
		break;
	}
	case O_SHELLBUF:
		errno = 0;
		pc->shell_buffer = strtoll(arg, &end, 10);
		if (errno || *end || end == arg || pc->shell_buffer < NRFCA_AT_SHELL_BUFFER_MIN ||
		    pc->shell_buffer > 1048576) {
			fprintf(stderr, "%s: --shell-buffer must be %u..1048576 bytes\n", cmd,
				NRFCA_AT_SHELL_BUFFER_MIN);
			return NRFCA_EXIT_USAGE;
		}
		break;
	case O_SLOT:
		if (!prov_cli_slot_ok(arg)) {
			fprintf(stderr, "%s: --slot must be 1..64 letters, digits or . _ - : + @\n",
				cmd);
			return NRFCA_EXIT_USAGE;
		}
		pc->o.slot = arg;
		break;
	case O_ONBOARD: pc->onboard = 1; break;
	case O_APIKEY: pc->cloud_o.api_key_file = arg; break;
	case O_CLOUD_EP: pc->cloud_o.endpoint = arg; break;
	case O_CLOUD_STAGE: pc->cloud_stage = arg; break;
	case O_QUEUE: pc->cloud_o.queue = arg; break;
	case O_CLOUD_ATTEMPTS: {
		unsigned long a;

		errno = 0;
		a = strtoul(arg, &end, 10);
		if (errno || *end || a < 1 || a > 20) {
			fprintf(stderr, "%s: --cloud-attempts must be 1..20\n", cmd);
			return NRFCA_EXIT_USAGE;
		}
		pc->cloud_o.attempts = (unsigned)a;
		break;
	}
	}
	return 0;
}

int prov_cli_parse(struct prov_cli *pc, const char *cmd, int argc, char **argv,
		   const struct prov_cli_extra *x, void (*help)(FILE *f))
{
	struct option lo[sizeof(common_opts) / sizeof(common_opts[0]) + 32];
	size_t n = 0, i;
	int c, rc;

	memset(pc, 0, sizeof(*pc));
	pc->cmd = cmd;
	pc->sec_tag = -1;
	pc->shell_buffer = -1;
	pc->eol = -1;
	nrfca_stationcfg_init(&pc->cfg);
	pc->o.modem.port.baud = NRFCA_SERIAL_DEFAULT_BAUD;
	pc->o.modem.port.rtscts = 1;
	pc->o.modem.at.prefix = NRFCA_AT_PREFIX_AUTO;
	for (i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		lo[n++] = common_opts[i];
	for (i = 0; x != NULL && x->opts != NULL && x->opts[i].name != NULL &&
	     n + 1 < sizeof(lo) / sizeof(lo[0]); i++)
		lo[n++] = x->opts[i];
	memset(&lo[n], 0, sizeof(lo[n]));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == O_HELP || c == 'h') {
			help(stdout);
			return -1;
		}
		if (c >= PROV_CLI_EXTRA_BASE && x != NULL && x->handle != NULL) {
			rc = x->handle(x->ctx, c, optarg);
			if (rc != 0)
				return rc;
			continue;
		}
		if (c < O_PORT || c >= O_HELP)
			return nrfca_cli_bad_option(cmd, argv, c);
		rc = one(pc, c, optarg);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
		return NRFCA_EXIT_USAGE;
	}
	return 0;
}

/* --onboard: the queue defaults to the journal; the key is tried before the
 * modem is touched. */
static int cloud_preflight(const char *cmd, struct nrfca_prov_cloud_opts *co, const char *stage,
			   const struct nrfca_prov_opts *o, char *queue, size_t cap,
			   struct nrfca_prov_cloud **out, char *warning, size_t wcap)
{
	struct nrfca_err e = { 0 };
	int rc;

	if (co->api_key_file == NULL) {
		fprintf(stderr, "%s: --onboard needs --api-key-file K (the nRF Cloud "
			"API key in a file of mode 0600)\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	if (stage != NULL && (co->endpoint != NULL ||
			      (co->endpoint = nrfcloud_stage_endpoint(stage)) == NULL)) {
		fprintf(stderr, "%s: --cloud-stage must be prod, beta or dev, "
			"without --cloud-endpoint\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	if (co->queue == NULL) {
		if (o->journal_dir == NULL) {
			fprintf(stderr, "%s: --onboard needs --onboard-queue F\n", cmd);
			return NRFCA_EXIT_USAGE;
		}
		if (nrfca_mkdir_private(o->journal_dir, &e) != 0) {
			fprintf(stderr, "%s: %s\n", cmd, e.msg);
			return NRFCA_EXIT_LOCAL_IO;
		}
		snprintf(queue, cap, "%s/onboard-queue.csv", o->journal_dir);
		co->queue = queue;
	}
	co->sub_type = o->sub_type;
	co->tags = o->tags;
	co->fw_types = o->fw_types;
	co->ca_bundle = NULL;
	rc = nrfca_prov_cloud_create(co, out, warning, wcap, &e);
	if (rc != 0)
		fprintf(stderr, "%s: nRF Cloud: %s (exit %d, %s; the modem was not "
			"touched)\n", cmd, e.msg, rc, nrfca_exit_info((enum nrfca_exit)rc).name);
	return rc;
}

int prov_cli_finish(struct prov_cli *pc)
{
	struct nrfca_prov_opts *o = &pc->o;
	struct nrfca_err e = { 0 };
	const char *cmd = pc->cmd;

	if (pc->verbose && pc->quiet) {
		fprintf(stderr, "%s: --verbose and --quiet exclude each other\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	if (pc->coap && pc->profile != NULL && strcmp(pc->profile, "nrf-cloud-coap") != 0) {
		fprintf(stderr, "%s: --coap asks for profile nrf-cloud-coap; it cannot be "
			"combined with --profile %s\n", cmd, pc->profile);
		return NRFCA_EXIT_USAGE;
	}
	if (o->id != NULL && (o->id[0] == '\0' || strlen(o->id) > 64 || strchr(o->id, '"') ||
			      strchr(o->id, ','))) {
		fprintf(stderr, "%s: --id must be 1..64 characters without '\"' or ','\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	if (pc->cfg_path != NULL && nrfca_stationcfg_load(pc->cfg_path, &pc->cfg, &e) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, e.msg);
		return e.code == NRFCA_E_IO ? NRFCA_EXIT_LOCAL_IO : NRFCA_EXIT_USAGE;
	}
	o->modem.port.path = pc->nports > 0 ? pc->ports[0] : NULL;
	o->ca.url = pc->server ? pc->server : pc->cfg.server;
	o->ca.token_file = pc->token ? pc->token : pc->cfg.token_file;
	o->ca.ca_bundle = pc->bundle ? pc->bundle : pc->cfg.ca_bundle;
	o->ca.client_cert = pc->client_cert ? pc->client_cert : pc->cfg.client_cert;
	o->ca.client_key = pc->client_key ? pc->client_key : pc->cfg.client_key;
	o->profile = pc->profile ? pc->profile : pc->coap ? "nrf-cloud-coap" : pc->cfg.profile;
	o->sec_tag = pc->sec_tag >= 0 ? (uint32_t)pc->sec_tag :
		     pc->cfg.sec_tag >= 0 ? (uint32_t)pc->cfg.sec_tag : NRFCA_PROV_DEFAULT_SEC_TAG;
	o->eol = pc->eol >= 0 ? (enum nrf91_eol)pc->eol :
		 pc->cfg.line_ending >= 0 ? (enum nrf91_eol)pc->cfg.line_ending : NRF91_EOL_CRLF;
	o->modem.at.shell_buffer = pc->shell_buffer >= 0 ? (size_t)pc->shell_buffer :
				   pc->cfg.shell_buffer > 0 ? (size_t)pc->cfg.shell_buffer : 0;
	if (pc->journal != NULL)
		o->journal_dir = pc->journal;
	else if (pc->cfg.journal != NULL)
		o->journal_dir = pc->cfg.journal;
	else if (pc->cfg.dir != NULL) {
		snprintf(pc->jdir, sizeof(pc->jdir), "%s/journal", pc->cfg.dir);
		o->journal_dir = pc->jdir;
	} else if (nrfca_journal_default_dir(pc->jdir, sizeof(pc->jdir), &e) == 0) {
		o->journal_dir = pc->jdir;
	} else if (!o->host_key) {
		fprintf(stderr, "%s: %s\n", cmd, e.msg);
		return NRFCA_EXIT_USAGE;
	}
	if (pc->nports == 0 || o->ca.url == NULL) {
		fprintf(stderr, "%s: --port DEV and --server URL (or server= in --station-config) "
			"are required; see --help\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	if (pc->onboard) {
		int rc = cloud_preflight(cmd, &pc->cloud_o, pc->cloud_stage, o, pc->queue,
					 sizeof(pc->queue), &pc->cloud, pc->cloud_warning,
					 sizeof(pc->cloud_warning));

		if (rc != 0)
			return rc;
		o->on_done = nrfca_prov_cloud_done;
		o->on_done_ctx = pc->cloud;
	} else if (pc->cloud_o.api_key_file || pc->cloud_o.endpoint || pc->cloud_stage ||
		   pc->cloud_o.queue || pc->cloud_o.attempts) {
		fprintf(stderr, "%s: --api-key-file, --cloud-endpoint, --cloud-stage, "
			"--onboard-queue and --cloud-attempts go with --onboard\n", cmd);
		return NRFCA_EXIT_USAGE;
	}
	return 0;
}

void prov_cli_clear(struct prov_cli *pc)
{
	nrfca_prov_cloud_free(pc->cloud);
	pc->cloud = NULL;
	nrfca_stationcfg_clear(&pc->cfg);
}
