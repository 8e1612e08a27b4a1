/*
 * sim_shell.h - the Zephyr shell in front of the simulated modem, as on
 * firmware that exposes the modem through nRF Connect SDK's `at` shell
 * command (lib/at_shell) instead of a plain AT host.
 *
 * Line discipline (Zephyr subsys/shell/shell.c, shell_ops.c): every raw CR
 * or LF ends a command (CR LF counts once); bytes above 127 and unknown
 * control characters are dropped; a command holds at most buff_size - 1
 * characters (CONFIG_SHELL_CMD_BUFF_SIZE), further characters are dropped
 * without echo; with echo on every stored character is echoed and the echo
 * wraps with CR LF when prompt + command reach a multiple of the terminal
 * width (80).  Arguments are split like shell_utils.c make_argv: spaces
 * separate, '...' and "..." group and are removed, a backslash outside
 * quotes escapes the next character, inside quotes only \<quote>, \0ooo and
 * \xhh are escapes.  Errors: "<word>: command not found", "not terminated:
 * <quote>", "Too many arguments in the command." (CONFIG_SHELL_ARGC_MAX 20).
 *
 * The `at` command (lib/at_shell/at_shell.c) sends argv[1] to the modem;
 * when it starts with AT%CMNG=0 each two-character sequence \n becomes CR LF
 * first (CONFIG_AT_SHELL_UNESCAPE_LF); the modem's answer is printed with
 * shell_print, then the prompt `uart:~$ `.  Output line feeds become CR LF
 * (SHELL_FLAG_OLF_CRLF of the UART backend).
 *
 * Ownership: the shell borrows the modem; the caller frees both.
 */
#ifndef SIM_SHELL_H
#define SIM_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_modem.h"

#define SIM_SHELL_BUFF_DEFAULT 4096u   /* what Nordic's nRF Cloud samples configure */
#define SIM_SHELL_BUFF_MIN 16u
#define SIM_SHELL_BUFF_MAX 65536u

struct sim_shell_opts {
	bool echo;           /* CONFIG_SHELL_ECHO_STATUS (default on) */
	size_t buff_size;    /* CONFIG_SHELL_CMD_BUFF_SIZE; 0 = SIM_SHELL_BUFF_DEFAULT */
	bool events;         /* `at events_enable` already given: URCs are printed */
};

struct sim_shell;

struct sim_shell *sim_shell_create(const struct sim_shell_opts *o, struct sim_modem *m);
void sim_shell_free(struct sim_shell *sh);

/* Bytes from the host; echo, answers and prompts go to emit. */
void sim_shell_feed(struct sim_shell *sh, const uint8_t *in, size_t n, sim_emit_fn emit,
		    void *ctx);

/* Split a command line in place like the Zephyr shell.  Returns the number
 * of arguments (at most max), sets *quote to the quote character left open
 * by the last argument (0 when none) and *more when arguments were left
 * over beyond max.  Exposed for the simulator's tests. */
size_t sim_shell_split(char *line, char **argv, size_t max, char *quote, bool *more);

#endif
