/* cmd_line.c - `nrfca line`: command line, then the line (line.h). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "line.h"
#include "prov_cli.h"

enum { L_WATCH = PROV_CLI_EXTRA_BASE, L_ONCE, L_JSON, L_PLAIN, L_BELL };

struct line_cli {
	const char *watch;
	int once, json, plain, bell;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca line (--port DEV ... | --watch FOLDER/PATTERN) --server URL\n"
		"                  [--token-file F] [--once] [--json | --plain] [--bell]\n"
		"                  [provision options]\n"
		"\n"
		"Provision several nRF91 modems at once, board after board: the whole `nrfca\n"
		"provision` flow on every port, one thread per board, with one live table on a\n"
		"terminal. Each request carries the slot name (the port's file name), which\n"
		"the CA records with the certificate.\n"
		"\n"
		"Ports:\n"
		"  --port DEV             a port to serve (repeat for every slot); a board that\n"
		"                         appears there again after it was removed is\n"
		"                         provisioned again\n"
		"  --watch F/PATTERN      serve every name in folder F matching PATTERN (shell\n"
		"                         wildcards), e.g. '/dev/serial/by-id/usb-SEGGER_*-if00':\n"
		"                         a board that appears is provisioned, its row shows the\n"
		"                         result until it is removed (inotify, no polling)\n"
		"  --once                 each listed port (or board present at the start) once,\n"
		"                         then exit: 0 only if every slot passed; the last line\n"
		"                         is the session summary\n"
		"Output (on standard output):\n"
		"  (a terminal)           a table redrawn in place: CA, totals, failures by\n"
		"                         reason, devices per hour; per slot the device, step\n"
		"                         n/11, elapsed time and a big PASS or FAIL with the\n"
		"                         reason\n"
		"  (not a terminal)       one timestamped line per event\n"
		"  --plain                timestamped lines on a terminal too\n"
		"  --json                 one JSON object per event: {\"time\", \"event\" (plug,\n"
		"                         step, note, pass, fail, unplug, interrupt, left),\n"
		"                         \"slot\", \"port\", \"device\", \"step\", \"step_name\",\n"
		"                         \"serial\", \"exit_code\", \"reason\", \"modem_state\", ...};\n"
		"                         the last is {\"event\": \"summary\", ...}\n"
		"  --bell                 ring the terminal bell when a board fails\n"
		"  --verbose              every note of every step in lines and JSON\n"
		"\n"
		"Ctrl-C once: boards in progress finish, no new one starts; twice: stop at\n"
		"once, every unfinished device is named with its state (a rerun resumes it\n"
		"from its journal entry). --csv, --devinfo and --report are shared by all\n"
		"slots (appended under a lock, one row per device; --report gets one JSON line\n"
		"per device).\n"
		"\n"
		"Provision options (as for `nrfca provision`; --slot is set per port):\n");
	prov_cli_usage_options(f, "");
	nrfca_exit_print_table(f);
}

static int handle(void *ctx, int id, const char *arg)
{
	struct line_cli *lc = ctx;

	switch (id) {
	case L_WATCH:
		if (lc->watch != NULL)
			return nrfca_cli_usage_error("nrfca line", "--watch given twice");
		lc->watch = arg;
		break;
	case L_ONCE: lc->once = 1; break;
	case L_JSON: lc->json = 1; break;
	case L_PLAIN: lc->plain = 1; break;
	case L_BELL: lc->bell = 1; break;
	}
	return 0;
}

int cmd_line(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "watch", required_argument, NULL, L_WATCH },
		{ "once", no_argument, NULL, L_ONCE },
		{ "json", no_argument, NULL, L_JSON },
		{ "plain", no_argument, NULL, L_PLAIN },
		{ "bell", no_argument, NULL, L_BELL },
		{ NULL, 0, NULL, 0 },
	};
	struct line_cli lc = { 0 };
	const struct prov_cli_extra x = { extra, handle, &lc };
	struct prov_cli pc;
	struct nrfca_line_opts lo = { 0 };
	struct nrfca_line_summary sum;
	struct nrfca_err e = { 0 };
	int rc, fake_port = 0;

	rc = prov_cli_parse(&pc, "nrfca line", argc, argv, &x, usage);
	if (rc < 0) {
		rc = NRFCA_EXIT_OK;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (lc.watch != NULL && pc.nports == 0) {
		pc.ports[pc.nports++] = lc.watch;    /* prov_cli_finish wants a port */
		fake_port = 1;
	}
	if (lc.json && lc.plain) {
		rc = nrfca_cli_usage_error("nrfca line", "--json and --plain exclude each other");
		goto out;
	}
	if (pc.onboard) {
		rc = nrfca_cli_usage_error("nrfca line", "--onboard is not offered by the line "
					   "yet: write --csv and send it with `nrfca onboard --csv F "
					   "--api-key-file K`");
		goto out;
	}
	if (pc.o.slot != NULL) {
		rc = nrfca_cli_usage_error("nrfca line", "--slot: the line names each slot after "
					   "its port");
		goto out;
	}
	rc = prov_cli_finish(&pc);
	if (rc != 0)
		goto out;
	lo.prov = &pc.o;
	lo.ports = pc.ports;
	lo.nports = pc.nports - (size_t)fake_port;
	lo.watch = lc.watch;
	lo.once = lc.once;
	lo.mode = lc.json ? LINE_JSON : (!lc.plain && isatty(STDOUT_FILENO)) ? LINE_TABLE :
		  LINE_TEXT;
	lo.bell = lc.bell;
	lo.verbose = pc.verbose;
	lo.f = stdout;
	signal(SIGPIPE, SIG_IGN);
	rc = nrfca_line_run(&lo, &sum, &e);
	if (sum.abandoned) {
		/* boards' threads are still running: end without waiting for them */
		fflush(NULL);
		_exit(rc);
	}
	if (rc != 0 && e.msg[0] != '\0' && sum.passed + sum.failed == 0)
		fprintf(stderr, "nrfca line: %s (exit %d, %s)\n", e.msg, rc,
			nrfca_exit_info((enum nrfca_exit)rc).name);
out:
	prov_cli_clear(&pc);
	return rc;
}
