/*
 * pty_check - can this machine make pseudo-terminals?  The modem simulator
 * and the station's serial tests need them; where devpts is not mounted
 * (a minimal chroot or container) they would fail one by one with
 * "No such device".  This check runs first (CTest fixture "pty") and says
 * what is missing, once.  Exit 0 when a pty pair opens, else 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	const char *name;
	int m, s, e;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || (name = ptsname(m)) == NULL) {
		e = errno;
		fprintf(stderr, "no pseudo-terminals (%s): mount devpts on /dev/pts "
			"(mount -t devpts devpts /dev/pts); the modem simulator and station "
			"tests need them\n", strerror(e));
		return 1;
	}
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0) {
		e = errno;
		fprintf(stderr, "no pseudo-terminals: %s cannot be opened (%s): mount devpts on "
			"/dev/pts with ptmx access (mount -t devpts devpts /dev/pts)\n", name,
			strerror(e));
		return 1;
	}
	close(s);
	close(m);
	printf("pseudo-terminals: ok (%s)\n", name);
	return 0;
}
