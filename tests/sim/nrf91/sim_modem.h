/*
 * sim_modem.h - the AT command side of the nRF91 simulator: line assembly,
 * the commands of shared/nrf91/FORMATS.md, CME error rules, %CMNG storage,
 * %KEYGEN and %ATTESTTOKEN, echo, URCs, the command log, and the faults
 * that change what is answered (truncate-keygen, cme527-on, max-cmd,
 * cgsn).  The Zephyr shell in front of the modem is sim_shell.h.
 *
 * The modem does no I/O on the port: sim_modem_feed() takes the bytes the
 * host sent and hands everything to send back to an emit callback.  Timing
 * faults (delay, chunk, close-after) belong to the caller.
 */
#ifndef SIM_MODEM_H
#define SIM_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "error.h"
#include "sim_buf.h"

/* The longest command line accepted; longer lines are answered ERROR. */
#define SIM_LINE_MAX 8192

enum sim_lending {
	SIM_LE_NONE,
	SIM_LE_CRLF,
	SIM_LE_LF,
};

struct sim_opts {
	const char *fw;         /* e.g. "mfw_nrf91x1_2.0.2" */
	const char *imei;       /* 15 digits, NULL: default or from state */
	const char *uuid;       /* 8-4-4-4-12 hex, NULL: random or from state */
	int cfun;               /* initial CFUN (0, 1 or 4) */
	bool echo;              /* plain AT: echo each command line before its answer */
	bool urc;               /* interleave URCs and log lines */
	const char *state_path; /* JSON state file, NULL: none */
	const char *log_path;   /* command log (JSON lines, appended), NULL: none */
	EVP_PKEY *identity;     /* device identity key, borrowed, required */
	/* faults that change answers */
	bool truncate_keygen;
	enum sim_lending cme527_on;
	size_t max_cmd;         /* 0: no limit below SIM_LINE_MAX */
	const char *cgsn;       /* answer AT+CGSN with this line instead of the IMEI */
	bool hold_keygen;       /* mark %KEYGEN answers to be held (sim_modem_held) */
};

enum sim_out_kind {
	SIM_OUT_ECHO,   /* shell echo of input as it arrives */
	SIM_OUT_ANSWER, /* the whole answer to one command, final line included */
	SIM_OUT_PROMPT, /* shell: answer to an empty line or a non-`at` command */
};

/* Where --urc noise goes and how it looks. */
enum sim_noise_phase { SIM_NOISE_BEFORE, SIM_NOISE_AFTER };
enum sim_noise_style {
	SIM_NOISE_PLAIN,        /* URC lines and log lines as an AT host prints them */
	SIM_NOISE_SHELL,        /* shell, `at events_disable`: application log lines only */
	SIM_NOISE_SHELL_EVENTS, /* shell, `at events_enable`: logs and "AT event handler:" URCs */
};

/* Return false to stop processing further input of this feed call. */
typedef bool (*sim_emit_fn)(void *ctx, enum sim_out_kind kind, const uint8_t *p, size_t n);

struct sim_modem;

/* Reads the state file when it exists (credentials, IMEI, UUID). */
struct sim_modem *sim_modem_create(const struct sim_opts *o, struct nrfca_err *e);
void sim_modem_free(struct sim_modem *m);

/* Plain AT: bytes from the host (see sim_shell.h for the shell). */
void sim_modem_feed(struct sim_modem *m, const uint8_t *in, size_t n, sim_emit_fn emit,
		    void *ctx);

/* Run one AT command (no terminator) as the modem does: *answer gets the
 * information lines and the final line, each ending CR LF.  Logged. */
void sim_modem_exec(struct sim_modem *m, const char *cmd, size_t n, struct sbuf *answer);

/* true once after a %KEYGEN answer when hold_keygen is set: the caller
 * holds that answer back (fault keygen-wait). */
bool sim_modem_held(struct sim_modem *m);

/* The URC and log noise of --urc (nothing without it). */
void sim_modem_noise(struct sim_modem *m, enum sim_noise_phase ph, enum sim_noise_style st,
		     struct sbuf *out);

/* One line of the command log: kind "at" or "shell", the text received
 * (cut at 240 bytes; its full length is recorded) and what came of it. */
void sim_modem_log(struct sim_modem *m, const char *kind, const char *text, size_t n,
		   const char *result);

/* Write the state file now (also done after every change). */
int sim_modem_save(struct sim_modem *m, struct nrfca_err *e);

const char *sim_modem_uuid(const struct sim_modem *m);

#endif
