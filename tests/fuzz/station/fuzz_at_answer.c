/* libFuzzer target: whatever a modem (or a hostile device on the USB port)
 * answers.  The input is written to one end of a socketpair and the AT
 * engine reads it as the answer to a command (line assembly, echo, URC and
 * ANSI handling, final-line matching, limits); each received line is also
 * given to the nRF91 answer parsers (%CMNG list lines, firmware strings).
 * An odd first byte talks through a Zephyr shell (echo in pieces, prompts,
 * the shell's own refusals). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "at.h"
#include "nrf91.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_at_opts o = { NRFCA_AT_PREFIX_NONE, NULL, NULL, NULL, 0 };
	struct nrfca_at_call call = { 200, NULL, 0 };
	struct nrfca_at_result r;
	struct nrfca_serial *port = NULL;
	struct nrfca_at *at = NULL;
	struct nrfca_err e;
	int sv[2], code;
	size_t i;

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	if (size > 0 && (data[0] & 1))
		o.prefix = NRFCA_AT_PREFIX_SHELL;
	{
		int big = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	if (size > 0 && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	if (nrfca_serial_from_fd(sv[0], "fuzz", &port, &e) != 0 ||
	    nrfca_at_create(port, &o, &at, &e) != 0)
		goto out;
	memset(&r, 0, sizeof(r));
	if (nrfca_at_cmd(at, "AT%CMNG=1", &call, &r, &e) == 0 || r.nlines > 0) {
		for (i = 0; i < r.nlines; i++) {
			struct nrf91_cred cred;
			struct nrf91_fw fw;

			(void)nrf91_cmng_parse_line(r.lines[i], &cred, &e);
			(void)nrf91_fw_parse(r.lines[i], &fw, &e);
			(void)nrf91_imei_valid(r.lines[i]);
			(void)nrfca_at_classify_final(r.lines[i], &code);
		}
	}
	nrfca_at_result_clear(&r);
out:
	nrfca_at_free(at);
	nrfca_serial_close(port);
	close(sv[1]);
	return 0;
}
