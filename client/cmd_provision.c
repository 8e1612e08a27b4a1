/* cmd_provision.c - `nrfca provision`: command line, station config, summary. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "prov_cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca provision --port DEV --server URL [--token-file F] [options]\n"
		"\n"
		"Provision one nRF91 modem end to end: check the firmware, switch offline,\n"
		"read IMEI and UUID, generate the key inside the modem (AT%%KEYGEN), check the\n"
		"attestation, ask the CA for a certificate, check it, write the trust bundle\n"
		"(type 0) and the certificate (type 1), read them back, and record the device.\n"
		"Several modems at once: nrfca line.\n"
		"\n");
	prov_cli_usage_options(f, "  --port DEV             serial port of the modem\n");
	nrfca_exit_print_table(f);
}

int cmd_provision(int argc, char **argv)
{
	struct prov_cli pc;
	struct nrfca_prov_result r;
	struct nrfca_err e = { 0 };
	enum nrfca_progress_level lvl;
	int rc;

	rc = prov_cli_parse(&pc, "nrfca provision", argc, argv, NULL, usage);
	if (rc < 0) {
		rc = NRFCA_EXIT_OK;
		goto out;
	}
	if (rc == 0 && pc.nports > 1)
		rc = nrfca_cli_usage_error("nrfca provision", "--port given %zu times: one modem "
					   "per run (several at once: nrfca line)", pc.nports);
	if (rc == 0)
		rc = prov_cli_finish(&pc);
	if (rc != 0)
		goto out;
	lvl = pc.quiet ? NRFCA_PROGRESS_QUIET : pc.verbose ? NRFCA_PROGRESS_VERBOSE :
	      NRFCA_PROGRESS_NORMAL;
	pc.o.progress = nrfca_progress_create(stderr, lvl, -1, 11);
	if (pc.o.progress == NULL) {
		rc = NRFCA_EXIT_FAILURE;
		goto out;
	}
	pc.o.modem.at.trace = pc.verbose ? nrfca_progress_trace : NULL;
	pc.o.modem.at.trace_ctx = pc.o.progress;
	rc = nrfca_provision(&pc.o, &r, &e);
	nrfca_progress_end(pc.o.progress);
	if (rc != 0) {
		fprintf(stderr, "nrfca provision: %s (exit %d, %s)\n", e.msg, rc,
			nrfca_exit_info((enum nrfca_exit)rc).name);
		if (r.modem_state[0])
			fprintf(stderr, "nrfca provision: modem state: %s\n", r.modem_state);
	} else {
		printf("provisioned %s serial %s sec_tag %u in %.1f s%s; modem %s\n",
		       r.device_id, r.serial, (unsigned)pc.o.sec_tag, r.seconds,
		       r.resumed ? " (resumed)" : "",
		       r.online ? "online (AT+CFUN=1)" : "left offline (AT+CFUN=4)");
		fflush(stdout);
	}
	if (pc.cloud != NULL) {
		struct nrfca_progress *cp = nrfca_progress_create(stderr, lvl, -1, 1);
		int crc;

		if (pc.cloud_warning[0])
			fprintf(stderr, "nrfca provision: %s\n", pc.cloud_warning);
		crc = nrfca_prov_cloud_send(pc.cloud, cp, stdout);
		nrfca_progress_free(cp);
		if (rc == 0)
			rc = crc;
	}
	nrfca_progress_free(pc.o.progress);
out:
	prov_cli_clear(&pc);
	return rc;
}
