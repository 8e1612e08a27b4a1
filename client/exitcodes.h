/*
 * exitcodes.h - exit statuses of `nrfca` (the station client).
 *
 * These numbers are a contract with the scripts that drive stations on a
 * factory line (DESIGN.md): never renumber, only append.  The table of
 * names and meanings is what `--help` prints.
 */
#ifndef NRFCA_CLIENT_EXITCODES_H
#define NRFCA_CLIENT_EXITCODES_H

#include <stdio.h>

enum nrfca_exit {
	NRFCA_EXIT_OK = 0,            /* done */
	NRFCA_EXIT_FAILURE = 1,       /* unexpected internal failure */
	NRFCA_EXIT_USAGE = 2,
	NRFCA_EXIT_MODEM_SILENT = 3,  /* modem not answering: port, timeouts, garbled answers */
	NRFCA_EXIT_FW_TOO_OLD = 4,
	NRFCA_EXIT_MODEM_REFUSED = 5, /* ERROR / +CME ERROR */
	NRFCA_EXIT_CA_REFUSED = 6,    /* policy */
	NRFCA_EXIT_CA_UNREACHABLE = 7,
	NRFCA_EXIT_VERIFY_FAILED = 8,
	NRFCA_EXIT_DUPLICATE = 9,     /* already provisioned: needs --replace */
	NRFCA_EXIT_LOCAL_IO = 10,     /* local files */
	NRFCA_EXIT_CLOUD_REFUSED = 11,    /* nRF Cloud refused devices or the API key */
	NRFCA_EXIT_CLOUD_UNREACHABLE = 12, /* nRF Cloud unreachable, outcome unknown */
	NRFCA_EXIT_CREDENTIAL = 13,   /* the station's own credential: missing or refused */
	NRFCA_EXIT_INTERRUPTED = 14,  /* nrfca line stopped at once: devices left unfinished */
	NRFCA_EXIT_MAX
};

struct nrfca_exit_info {
	const char *name;
	const char *meaning;
};

/* Name and meaning of an exit status (never NULL). */
static inline struct nrfca_exit_info nrfca_exit_info(enum nrfca_exit c)
{
	static const struct nrfca_exit_info table[NRFCA_EXIT_MAX] = {
		[NRFCA_EXIT_OK] = { "ok", "done" },
		[NRFCA_EXIT_FAILURE] = { "failure", "unexpected internal failure" },
		[NRFCA_EXIT_USAGE] = { "usage",
			"wrong command line or station config (also: --at-prefix the firmware "
			"does not speak)" },
		[NRFCA_EXIT_MODEM_SILENT] = { "modem-silent",
			"modem not answering (port cannot be opened or is busy, timeout, "
			"port closed, garbled answer)" },
		[NRFCA_EXIT_FW_TOO_OLD] = { "firmware-too-old",
			"modem firmware too old (%KEYGEN needs 1.3.0 on nRF9160, 2.0.0 on nRF91x1)" },
		[NRFCA_EXIT_MODEM_REFUSED] = { "modem-refused",
			"modem refused a command (ERROR or +CME ERROR), or a command does not "
			"fit the Zephyr shell's buffer" },
		[NRFCA_EXIT_CA_REFUSED] = { "ca-refused",
			"CA refused this device or profile (policy; also found before the modem "
			"is touched)" },
		[NRFCA_EXIT_CA_UNREACHABLE] = { "ca-unreachable", "CA unreachable" },
		[NRFCA_EXIT_VERIFY_FAILED] = { "verify-failed",
			"verification failed (modem IMEI of the wrong form, attestation binding, "
			"certificate, or hash read back)" },
		[NRFCA_EXIT_DUPLICATE] = { "duplicate",
			"already provisioned / duplicate (use --replace)" },
		[NRFCA_EXIT_LOCAL_IO] = { "local-io", "local I/O error (files)" },
		[NRFCA_EXIT_CLOUD_REFUSED] = { "cloud-refused",
			"nRF Cloud refused devices or the API key (see the results file)" },
		[NRFCA_EXIT_CLOUD_UNREACHABLE] = { "cloud-unreachable",
			"nRF Cloud unreachable, or the outcome of an upload unknown" },
		[NRFCA_EXIT_CREDENTIAL] = { "station-credential",
			"the CA refused this station's credential (HTTP 401, or 403 for the "
			"route), or its token file is missing or unreadable; nothing was done to "
			"the modem, or the journal keeps its key for the rerun" },
		[NRFCA_EXIT_INTERRUPTED] = { "interrupted",
			"stopped at once by a second Ctrl-C (nrfca line): devices were left "
			"unfinished, each named with its state and what a rerun does" },
	};
	static const struct nrfca_exit_info unknown = { "unknown", "unknown exit status" };

	if ((unsigned)c >= NRFCA_EXIT_MAX)
		return unknown;
	return table[c];
}

/* Print the table, one "  N  meaning" line each, for --help. */
static inline void nrfca_exit_print_table(FILE *f)
{
	int i;

	fprintf(f, "exit status:\n");
	for (i = 0; i < NRFCA_EXIT_MAX; i++)
		fprintf(f, "  %2d  %s\n", i, nrfca_exit_info((enum nrfca_exit)i).meaning);
}

#endif
