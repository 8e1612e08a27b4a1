/* cmd_onboard.c - `nrfca onboard`: command line, per-device report, exit status. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "onboard.h"

#define SHOWN_PROBLEMS 20
#define CMD "nrfca onboard"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca onboard (--csv F | --queue F) --api-key-file K [options]\n"
		"\n"
		"Put provisioned devices into nRF Cloud: the rows of an onboarding CSV (what\n"
		"`nrfca provision --csv` writes) go to nRF Cloud's OnboardDevices endpoint\n"
		"(POST /v1/devices, text/csv) in uploads of at most %u rows; each upload is\n"
		"followed until its bulk operation SUCCEEDED or FAILED, and a FAILED one's\n"
		"error summary is mapped back to the devices. Every row is checked before\n"
		"anything is sent; a file with a bad row is refused whole.\n"
		"\n"
		"Input (one of):\n"
		"  --csv F                onboarding CSV: id,subType,tags,fwTypes,\"certificate\"\n"
		"                         (no header; a first row without a PEM is skipped)\n"
		"  --queue F              the station's onboarding queue (`nrfca provision\n"
		"                         --onboard`): what it holds is sent (with --check),\n"
		"                         settled rows leave it, refused rows go to F.refused\n"
		"  --public-keys          --csv holds public keys (id,\"PEM public key\") for JWT\n"
		"                         devices: registered with RegisterPublicKeys\n"
		"                         (POST /v1/devices/public-keys)\n"
		"nRF Cloud:\n"
		"  --api-key-file K       file holding the team's API key; mode 0600 (never give\n"
		"                         the key itself on the command line)\n"
		"  --endpoint URL         API base URL without /v1 (default %s)\n"
		"  --stage S              prod, beta or dev: Nordic's hosts, as nrf_cloud_onboard\n"
		"  --ca-bundle F          PEM bundle to verify nRF Cloud's TLS certificate\n"
		"  --check                first ask which devices exist (GET /v1/devices/{id}):\n"
		"                         those are reported EXISTS and not sent again\n"
		"  --attempts N           tries per request on network failure, 429, 5xx\n"
		"                         (default 8; Retry-After is honoured, waits capped at 30 s)\n"
		"  --poll-interval S      longest wait between two status polls (default 5)\n"
		"  --wait S               give up following one upload after S seconds\n"
		"                         (default 600; its devices are then UNCONFIRMED)\n"
		"Output:\n"
		"  --results F            results CSV: device_id,result,row,bulk_ops_request_id,\n"
		"                         message; result is OK, EXISTS, ERROR, NOT_SENT or\n"
		"                         UNCONFIRMED; row counts a skipped header\n"
		"  --quiet                only the summary line and problems\n"
		"\n"
		"Exit status 0 when every device is OK or EXISTS; 11 when nRF Cloud refused the\n"
		"API key or devices; 12 when it could not be reached or an outcome is unknown.\n"
		"\n", NRFCLOUD_MAX_ROWS, NRFCLOUD_DEFAULT_ENDPOINT);
	nrfca_exit_print_table(f);
}

enum {
	O_CSV = 256, O_QUEUE, O_PUBKEYS, O_KEY, O_ENDPOINT, O_STAGE, O_BUNDLE, O_CHECK,
	O_ATTEMPTS, O_POLL, O_WAIT, O_RESULTS, O_QUIET, O_HELP
};

static int parse_seconds(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void cloud_notify(void *ctx, const char *msg)
{
	nrfca_progress_note(ctx, "%s", msg);
}

static void report(const struct nrfca_ob_set *s, const struct nrfca_ob_summary *sum,
		   const char *what, const char *results)
{
	size_t i, shown = 0;

	for (i = 0; s != NULL && i < s->n; i++) {
		const struct nrfca_ob_row *r = &s->rows[i];

		if (r->result == NRFCA_OB_OK || r->result == NRFCA_OB_EXISTS)
			continue;
		if (shown++ < SHOWN_PROBLEMS)
			fprintf(stderr, "nrfca onboard: row %zu, device %s: %s: %s\n", r->row, r->id,
				nrfca_ob_result_name(r->result), r->message ? r->message : "");
	}
	if (shown > SHOWN_PROBLEMS)
		fprintf(stderr, "nrfca onboard: ... and %zu more devices with problems%s%s\n",
			shown - SHOWN_PROBLEMS, results ? "; all are in " : "", results ? results : "");
	if (sum->first.code != NRFCA_OK && (sum->auth_failed || sum->unreachable))
		fprintf(stderr, "nrfca onboard: %s\n", sum->first.msg);
	printf("nRF Cloud %s: %zu OK, %zu already onboarded, %zu refused, %zu not sent, %zu "
	       "unconfirmed; %zu upload%s%s%s%s\n", what, sum->count[NRFCA_OB_OK],
	       sum->count[NRFCA_OB_EXISTS], sum->count[NRFCA_OB_ERROR],
	       sum->count[NRFCA_OB_NOT_SENT], sum->count[NRFCA_OB_UNCONFIRMED], sum->uploads,
	       sum->uploads == 1 ? "" : "s", results ? " (results: " : "", results ? results : "",
	       results ? ")" : "");
	fflush(stdout);
}

int cmd_onboard(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "csv", required_argument, NULL, O_CSV },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "public-keys", no_argument, NULL, O_PUBKEYS },
		{ "api-key-file", required_argument, NULL, O_KEY },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "stage", required_argument, NULL, O_STAGE },
		{ "ca-bundle", required_argument, NULL, O_BUNDLE },
		{ "check", no_argument, NULL, O_CHECK },
		{ "attempts", required_argument, NULL, O_ATTEMPTS },
		{ "poll-interval", required_argument, NULL, O_POLL },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "results", required_argument, NULL, O_RESULTS },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfcloud_opts co = { 0 };
	struct nrfca_ob_opts oo = { 0 };
	struct nrfca_ob_set set = { 0 };
	struct nrfca_ob_summary sum;
	struct nrfca_err e = { 0 };
	const char *csv = NULL, *queue = NULL, *stage = NULL;
	int pubkeys = 0, quiet = 0, c, rc, busy = 0;
	double secs;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CSV: csv = optarg; break;
		case O_QUEUE: queue = optarg; break;
		case O_PUBKEYS: pubkeys = 1; break;
		case O_KEY: co.api_key_file = optarg; break;
		case O_ENDPOINT: co.endpoint = optarg; break;
		case O_STAGE: stage = optarg; break;
		case O_BUNDLE: co.ca_bundle = optarg; break;
		case O_CHECK: oo.check = 1; break;
		case O_ATTEMPTS: {
			unsigned long a;

			errno = 0;
			a = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || a < 1 || a > 50)
				return nrfca_cli_usage_error(CMD, "--attempts '%s' must be 1..50", optarg);
			co.attempts = (unsigned)a;
			break;
		}
		case O_POLL:
			if (parse_seconds(optarg, 0.05, 300, &secs) != 0)
				return nrfca_cli_usage_error(CMD, "--poll-interval '%s' must be 0.05..300 "
							     "seconds", optarg);
			oo.poll_max_ms = (unsigned)(secs * 1000.0);
			break;
		case O_WAIT:
			if (parse_seconds(optarg, 1, 86400, &secs) != 0)
				return nrfca_cli_usage_error(CMD, "--wait '%s' must be 1..86400 seconds",
							     optarg);
			oo.wait_ms = (unsigned long)(secs * 1000.0);
			break;
		case O_RESULTS: oo.results = optarg; break;
		case O_QUIET: quiet = 1; break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return NRFCA_EXIT_OK;
		default:
			return nrfca_cli_bad_option(CMD, argv, c);
		}
	}
	if (optind < argc)
		/* not echoed: it may be a pasted API key */
		return nrfca_cli_usage_error(CMD, "unexpected argument %d (not shown); the API key "
					     "goes in a file: --api-key-file", optind);
	if ((csv == NULL) == (queue == NULL))
		return nrfca_cli_usage_error(CMD, "give one of --csv F or --queue F");
	if (co.api_key_file == NULL)
		return nrfca_cli_usage_error(CMD, "needs --api-key-file K (a file holding the nRF "
					     "Cloud API key, mode 0600)");
	if (stage != NULL && co.endpoint != NULL)
		return nrfca_cli_usage_error(CMD, "--endpoint and --stage exclude each other");
	if (stage != NULL && (co.endpoint = nrfcloud_stage_endpoint(stage)) == NULL)
		return nrfca_cli_usage_error(CMD, "--stage '%s' is not a stage; use prod, beta "
					     "or dev", stage);
	if (pubkeys && (queue != NULL || oo.check))
		return nrfca_cli_usage_error(CMD, "--public-keys goes with --csv only, without "
					     "--check (RegisterPublicKeys replaces a device's key: "
					     "nothing to check; a queue holds both kinds of rows)");
	oo.progress = nrfca_progress_create(stderr, quiet ? NRFCA_PROGRESS_QUIET :
					    NRFCA_PROGRESS_NORMAL, -1, 1);
	if (oo.progress == NULL)
		return NRFCA_EXIT_FAILURE;
	co.notify = cloud_notify;
	co.notify_ctx = oo.progress;
	if (nrfcloud_create(&co, &oo.cloud, &e) != 0) {
		fprintf(stderr, "nrfca onboard: %s\n", e.msg);
		rc = e.code == NRFCA_E_IO ? NRFCA_EXIT_LOCAL_IO : NRFCA_EXIT_USAGE;
		goto out;
	}
	if (csv != NULL) {
		if (nrfca_ob_load(csv, pubkeys ? NRFCLOUD_REGISTER_PUBLIC_KEYS :
				  NRFCLOUD_ONBOARD_DEVICES, &set, &e) != 0) {
			fprintf(stderr, "nrfca onboard: %s\n", e.msg);
			rc = NRFCA_EXIT_LOCAL_IO;
			goto out;
		}
		if (set.header)
			fprintf(stderr, "nrfca onboard: %s: row 1 has no PEM: taken as a header and "
				"not sent (nRF Cloud takes no header)\n", csv);
		if (set.cn_mismatch > 0)
			fprintf(stderr, "nrfca onboard: note: %zu certificate%s a CN other than "
				"the device id (first: row %zu); the device must connect with its "
				"device id as MQTT client id\n", set.cn_mismatch,
				set.cn_mismatch == 1 ? " has" : "s have", set.cn_example);
		if (nrfca_ob_run(&oo, &set, &sum, &e) != 0) {
			nrfca_progress_end(oo.progress);
			fprintf(stderr, "nrfca onboard: %s\n", e.msg);
			rc = NRFCA_EXIT_LOCAL_IO;
			goto out;
		}
		nrfca_progress_end(oo.progress);
		report(&set, &sum, pubkeys ? "public keys" : "onboarding", oo.results);
	} else {
		if (nrfca_ob_queue_drain(queue, &oo, &sum, &busy, NULL, &e) != 0) {
			nrfca_progress_end(oo.progress);
			fprintf(stderr, "nrfca onboard: %s\n", e.msg);
			rc = NRFCA_EXIT_LOCAL_IO;
			goto out;
		}
		nrfca_progress_end(oo.progress);
		if (busy) {
			printf("nRF Cloud queue %s: another nrfca is sending it now; nothing done\n",
			       queue);
			rc = NRFCA_EXIT_OK;
			goto out;
		}
		if (oo.results == NULL && (sum.count[NRFCA_OB_ERROR] || sum.count[NRFCA_OB_NOT_SENT] ||
					   sum.count[NRFCA_OB_UNCONFIRMED]) && sum.first.code)
			fprintf(stderr, "nrfca onboard: %s\n", sum.first.msg);
		report(NULL, &sum, "queue", oo.results);
		if (sum.count[NRFCA_OB_ERROR] > 0)
			fprintf(stderr, "nrfca onboard: %zu refused row%s moved to %s.refused: fix "
				"and send with --csv\n", sum.count[NRFCA_OB_ERROR],
				sum.count[NRFCA_OB_ERROR] == 1 ? "" : "s", queue);
	}
	rc = nrfca_ob_exit(&sum);
out:
	nrfca_ob_set_clear(&set);
	nrfcloud_free(oo.cloud);
	nrfca_progress_free(oo.progress);
	return rc;
}
