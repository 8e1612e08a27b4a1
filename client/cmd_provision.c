/* cmd_provision.c - `nrfca provision`: command line, station config, summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "journal.h"
#include "nrfcloud.h"
#include "prov_cloud.h"
#include "provision.h"
#include "stationcfg.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca provision --port DEV --server URL [--token-file F] [options]\n"
		"\n"
		"Provision one nRF91 modem end to end: check the firmware, switch offline,\n"
		"read IMEI and UUID, generate the key inside the modem (AT%%KEYGEN), check the\n"
		"attestation, ask the CA for a certificate, check it, write the trust bundle\n"
		"(type 0) and the certificate (type 1), read them back, and record the device.\n"
		"\n"
		"Station (flags win over --station-config):\n"
		"  --server URL           CA base URL (https://; http:// only for loopback)\n"
		"  --token-file F         file with the station's bearer secret\n"
		"  --ca-bundle F          PEM bundle to verify the CA's TLS certificate\n"
		"  --client-cert F        PEM client certificate of the station (mutual TLS;\n"
		"                         the CA must have it bound to a credential)\n"
		"  --client-key F         its PEM private key (default: in the --client-cert file)\n"
		"  --station-config F     key = value file (max %u bytes; `#` comments); keys:\n"
		"                         server, token_file, ca_bundle, client_cert,\n"
		"                         client_key, profile, sec_tag,\n"
		"                         line_ending, journal; unknown keys are refused;\n"
		"                         relative paths are relative to the file\n"
		"  --journal DIR          station journal (default: journal= of the station\n"
		"                         config, else journal/ next to it, else\n"
		"                         ~/.local/state/nrfca/journal)\n"
		"Modem:\n"
		"  --port DEV             serial port of the modem\n"
		"  --baud B               baud rate (default 115200)\n"
		"  --no-rtscts            no RTS/CTS hardware flow control\n"
		"  --at-prefix P          auto (default), none (plain AT) or shell (Zephyr)\n"
		"  --sec-tag N            security tag (default %u)\n"
		"  --line-ending E        crlf (default) or lf inside written PEMs\n"
		"  --replace              delete existing credentials at the sec_tag first and\n"
		"                         replace the device's rows in --csv / --devinfo\n"
		"  --online               AT+CFUN=1 at the end (default: the modem stays offline)\n"
		"Certificate:\n"
		"  --id ID                uuid (default: CN is the device UUID), imei (CN=<IMEI>),\n"
		"                         nrf-imei (CN=nrf-<IMEI>), or a fixed CN\n"
		"  --profile P            CA profile (default: the server's default)\n"
		"  --coap                 the nrf-cloud-coap profile (AWS + CoAP roots)\n"
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
		"A failed run says what state the modem is in. The %%KEYGEN output is kept in\n"
		"the journal until the device is provisioned: rerunning after a failure sends\n"
		"the same CSR again (the CA replays its certificate) instead of a new key.\n"
		"\n", NRFCA_STATIONCFG_MAX, NRFCA_PROV_DEFAULT_SEC_TAG, NRFCA_ONBOARD_MAX_ROWS,
		NRFCLOUD_DEFAULT_ENDPOINT);
	nrfca_exit_print_table(f);
}

enum {
	O_PORT = 256, O_SERVER, O_TOKEN, O_CABUNDLE, O_CFG, O_JOURNAL, O_BAUD, O_NORTS,
	O_PREFIX, O_SECTAG, O_EOL, O_REPLACE, O_ONLINE, O_ID, O_PROFILE, O_COAP, O_HOSTKEY,
	O_CSV, O_SUBTYPE, O_TAGS, O_FWTYPES, O_DEVINFO, O_REPORT, O_VERBOSE, O_QUIET,
	O_ATTEMPTS, O_ONBOARD, O_APIKEY, O_CLOUD_EP, O_CLOUD_STAGE, O_QUEUE, O_CLOUD_ATTEMPTS, O_HELP,
	O_CLIENTCERT, O_CLIENTKEY
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

/* --onboard: the queue defaults to the journal; the key is tried before the
 * modem is touched. */
static int cloud_preflight(struct nrfca_prov_cloud_opts *co, const char *stage,
			   const struct nrfca_prov_opts *o, char *queue, size_t cap,
			   struct nrfca_prov_cloud **out, char *warning, size_t wcap)
{
	struct nrfca_err e = { 0 };
	int rc;

	if (co->api_key_file == NULL) {
		fprintf(stderr, "nrfca provision: --onboard needs --api-key-file K (the nRF Cloud "
			"API key in a file of mode 0600)\n");
		return NRFCA_EXIT_USAGE;
	}
	if (stage != NULL && (co->endpoint != NULL ||
			      (co->endpoint = nrfcloud_stage_endpoint(stage)) == NULL)) {
		fprintf(stderr, "nrfca provision: --cloud-stage must be prod, beta or dev, "
			"without --cloud-endpoint\n");
		return NRFCA_EXIT_USAGE;
	}
	if (co->queue == NULL) {
		if (o->journal_dir == NULL) {
			fprintf(stderr, "nrfca provision: --onboard needs --onboard-queue F\n");
			return NRFCA_EXIT_USAGE;
		}
		if (nrfca_mkdir_private(o->journal_dir, &e) != 0) {
			fprintf(stderr, "nrfca provision: %s\n", e.msg);
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
		fprintf(stderr, "nrfca provision: nRF Cloud: %s (exit %d, %s; the modem was not "
			"touched)\n", e.msg, rc, nrfca_exit_info((enum nrfca_exit)rc).name);
	return rc;
}

int cmd_provision(int argc, char **argv)
{
	static const struct option lo[] = {
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
		{ "onboard", no_argument, NULL, O_ONBOARD },
		{ "api-key-file", required_argument, NULL, O_APIKEY },
		{ "cloud-endpoint", required_argument, NULL, O_CLOUD_EP },
		{ "cloud-stage", required_argument, NULL, O_CLOUD_STAGE },
		{ "onboard-queue", required_argument, NULL, O_QUEUE },
		{ "cloud-attempts", required_argument, NULL, O_CLOUD_ATTEMPTS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_prov_opts o;
	struct nrfca_prov_result r;
	struct nrfca_stationcfg cfg;
	struct nrfca_err e = { 0 };
	const char *cfg_path = NULL, *server = NULL, *token = NULL, *bundle = NULL;
	const char *client_cert = NULL, *client_key = NULL;
	const char *profile = NULL, *journal = NULL;
	struct nrfca_prov_cloud_opts cloud_o = { 0 };
	struct nrfca_prov_cloud *cloud = NULL;
	const char *cloud_stage = NULL;
	char queue[PATH_MAX], cloud_warning[NRFCA_ERR_MSG_MAX + 200];
	int onboard = 0;
	long long sec_tag = -1;
	int eol = -1, coap = 0, verbose = 0, quiet = 0, c, rc;
	char jdir[PATH_MAX], *end;
	enum nrfca_progress_level lvl;

	memset(&o, 0, sizeof(o));
	nrfca_stationcfg_init(&cfg);
	o.modem.port.baud = NRFCA_SERIAL_DEFAULT_BAUD;
	o.modem.port.rtscts = 1;
	o.modem.at.prefix = NRFCA_AT_PREFIX_AUTO;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_PORT: o.modem.port.path = optarg; break;
		case O_SERVER: server = optarg; break;
		case O_TOKEN: token = optarg; break;
		case O_CABUNDLE: bundle = optarg; break;
		case O_CLIENTCERT: client_cert = optarg; break;
		case O_CLIENTKEY: client_key = optarg; break;
		case O_CFG: cfg_path = optarg; break;
		case O_JOURNAL: journal = optarg; break;
		case O_BAUD: {
			unsigned long b;

			errno = 0;
			b = strtoul(optarg, &end, 10);
			if (errno || *end || b > 4000000 || !nrfca_serial_baud_ok((unsigned)b)) {
				fprintf(stderr, "nrfca provision: baud rate '%s' is not supported\n",
					optarg);
				return NRFCA_EXIT_USAGE;
			}
			o.modem.port.baud = (unsigned)b;
			break;
		}
		case O_NORTS: o.modem.port.rtscts = 0; break;
		case O_PREFIX:
			if (nrfca_at_prefix_parse(optarg, &o.modem.at.prefix) != 0) {
				fprintf(stderr, "nrfca provision: --at-prefix must be auto, none or "
					"shell\n");
				return NRFCA_EXIT_USAGE;
			}
			break;
		case O_SECTAG:
			errno = 0;
			sec_tag = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || sec_tag < 0 ||
			    sec_tag > NRF91_SEC_TAG_MAX) {
				fprintf(stderr, "nrfca provision: --sec-tag must be 0..%u\n",
					NRF91_SEC_TAG_MAX);
				return NRFCA_EXIT_USAGE;
			}
			break;
		case O_EOL: {
			enum nrf91_eol v;

			if (parse_eol(optarg, &v) != 0) {
				fprintf(stderr, "nrfca provision: --line-ending must be crlf or lf\n");
				return NRFCA_EXIT_USAGE;
			}
			eol = (int)v;
			break;
		}
		case O_REPLACE: o.replace = 1; break;
		case O_ONLINE: o.online = 1; break;
		case O_ID: o.id = optarg; break;
		case O_PROFILE: profile = optarg; break;
		case O_COAP: coap = 1; break;
		case O_HOSTKEY: o.host_key = 1; break;
		case O_CSV: o.csv = optarg; break;
		case O_SUBTYPE: o.sub_type = optarg; break;
		case O_TAGS: o.tags = optarg; break;
		case O_FWTYPES: o.fw_types = optarg; break;
		case O_DEVINFO: o.devinfo = optarg; break;
		case O_REPORT: o.report = optarg; break;
		case O_VERBOSE: verbose = 1; break;
		case O_QUIET: quiet = 1; break;
		case O_ATTEMPTS: {
			unsigned long a;

			errno = 0;
			a = strtoul(optarg, &end, 10);
			if (errno || *end || a < 1 || a > 100) {
				fprintf(stderr, "nrfca provision: --ca-attempts must be 1..100\n");
				return NRFCA_EXIT_USAGE;
			}
			o.ca.attempts = (unsigned)a;
			break;
		}
		case O_ONBOARD: onboard = 1; break;
		case O_APIKEY: cloud_o.api_key_file = optarg; break;
		case O_CLOUD_EP: cloud_o.endpoint = optarg; break;
		case O_CLOUD_STAGE: cloud_stage = optarg; break;
		case O_QUEUE: cloud_o.queue = optarg; break;
		case O_CLOUD_ATTEMPTS: {
			unsigned long a;

			errno = 0;
			a = strtoul(optarg, &end, 10);
			if (errno || *end || a < 1 || a > 20) {
				fprintf(stderr, "nrfca provision: --cloud-attempts must be 1..20\n");
				return NRFCA_EXIT_USAGE;
			}
			cloud_o.attempts = (unsigned)a;
			break;
		}
		case O_HELP:
		case 'h':
			usage(stdout);
			return NRFCA_EXIT_OK;
		default:
			return nrfca_cli_bad_option("nrfca provision", argv, c);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nrfca provision: unexpected argument '%s'\n", argv[optind]);
		return NRFCA_EXIT_USAGE;
	}
	if (verbose && quiet) {
		fprintf(stderr, "nrfca provision: --verbose and --quiet exclude each other\n");
		return NRFCA_EXIT_USAGE;
	}
	if (coap && profile != NULL && strcmp(profile, "nrf-cloud-coap") != 0) {
		fprintf(stderr, "nrfca provision: --coap asks for profile nrf-cloud-coap; it "
			"cannot be combined with --profile %s\n", profile);
		return NRFCA_EXIT_USAGE;
	}
	if (o.id != NULL && (o.id[0] == '\0' || strlen(o.id) > 64 || strchr(o.id, '"') ||
			     strchr(o.id, ','))) {
		fprintf(stderr, "nrfca provision: --id must be 1..64 characters without '\"' "
			"or ','\n");
		return NRFCA_EXIT_USAGE;
	}
	if (cfg_path != NULL && nrfca_stationcfg_load(cfg_path, &cfg, &e) != 0) {
		fprintf(stderr, "nrfca provision: %s\n", e.msg);
		rc = e.code == NRFCA_E_IO ? NRFCA_EXIT_LOCAL_IO : NRFCA_EXIT_USAGE;
		goto out;
	}
	o.ca.url = server ? server : cfg.server;
	o.ca.token_file = token ? token : cfg.token_file;
	o.ca.ca_bundle = bundle ? bundle : cfg.ca_bundle;
	o.ca.client_cert = client_cert ? client_cert : cfg.client_cert;
	o.ca.client_key = client_key ? client_key : cfg.client_key;
	o.profile = profile ? profile : coap ? "nrf-cloud-coap" : cfg.profile;
	o.sec_tag = sec_tag >= 0 ? (uint32_t)sec_tag :
		    cfg.sec_tag >= 0 ? (uint32_t)cfg.sec_tag : NRFCA_PROV_DEFAULT_SEC_TAG;
	o.eol = eol >= 0 ? (enum nrf91_eol)eol :
		cfg.line_ending >= 0 ? (enum nrf91_eol)cfg.line_ending : NRF91_EOL_CRLF;
	if (journal != NULL)
		o.journal_dir = journal;
	else if (cfg.journal != NULL)
		o.journal_dir = cfg.journal;
	else if (cfg.dir != NULL) {
		snprintf(jdir, sizeof(jdir), "%s/journal", cfg.dir);
		o.journal_dir = jdir;
	} else if (nrfca_journal_default_dir(jdir, sizeof(jdir), &e) == 0) {
		o.journal_dir = jdir;
	} else if (!o.host_key) {
		fprintf(stderr, "nrfca provision: %s\n", e.msg);
		rc = NRFCA_EXIT_USAGE;
		goto out;
	}
	if (o.modem.port.path == NULL || o.ca.url == NULL) {
		fprintf(stderr, "nrfca provision: --port DEV and --server URL (or server= in "
			"--station-config) are required; see --help\n");
		rc = NRFCA_EXIT_USAGE;
		goto out;
	}
	if (onboard) {
		rc = cloud_preflight(&cloud_o, cloud_stage, &o, queue, sizeof(queue), &cloud,
				     cloud_warning, sizeof(cloud_warning));
		if (rc != 0)
			goto out;
		o.on_done = nrfca_prov_cloud_done;
		o.on_done_ctx = cloud;
	} else if (cloud_o.api_key_file || cloud_o.endpoint || cloud_stage || cloud_o.queue ||
		   cloud_o.attempts) {
		fprintf(stderr, "nrfca provision: --api-key-file, --cloud-endpoint, --cloud-stage, "
			"--onboard-queue and --cloud-attempts go with --onboard\n");
		rc = NRFCA_EXIT_USAGE;
		goto out;
	}
	lvl = quiet ? NRFCA_PROGRESS_QUIET : verbose ? NRFCA_PROGRESS_VERBOSE :
	      NRFCA_PROGRESS_NORMAL;
	o.progress = nrfca_progress_create(stderr, lvl, -1, 11);
	if (o.progress == NULL) {
		rc = NRFCA_EXIT_FAILURE;
		goto out;
	}
	o.modem.at.trace = verbose ? nrfca_progress_trace : NULL;
	o.modem.at.trace_ctx = o.progress;
	rc = nrfca_provision(&o, &r, &e);
	nrfca_progress_end(o.progress);
	if (rc != 0) {
		fprintf(stderr, "nrfca provision: %s (exit %d, %s)\n", e.msg, rc,
			nrfca_exit_info((enum nrfca_exit)rc).name);
		if (r.modem_state[0])
			fprintf(stderr, "nrfca provision: modem state: %s\n", r.modem_state);
	} else {
		printf("provisioned %s serial %s sec_tag %u in %.1f s%s; modem %s\n",
		       r.device_id, r.serial, (unsigned)o.sec_tag, r.seconds,
		       r.resumed ? " (resumed)" : "",
		       r.online ? "online (AT+CFUN=1)" : "left offline (AT+CFUN=4)");
		fflush(stdout);
	}
	if (cloud != NULL) {
		struct nrfca_progress *cp = nrfca_progress_create(stderr, lvl, -1, 1);
		int crc;

		if (cloud_warning[0])
			fprintf(stderr, "nrfca provision: %s\n", cloud_warning);
		crc = nrfca_prov_cloud_send(cloud, cp, stdout);
		nrfca_progress_free(cp);
		if (rc == 0)
			rc = crc;
	}
	nrfca_progress_free(o.progress);
out:
	nrfca_prov_cloud_free(cloud);
	nrfca_stationcfg_clear(&cfg);
	return rc;
}
