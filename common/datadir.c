/* datadir.c - the shipped data folder, relative to the running program. */
#include "datadir.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NRFCA_DATADIR_REL
#define NRFCA_DATADIR_REL "../share/nrfca"   /* from the folder of the programs */
#endif
#ifndef NRFCA_DATADIR_ABS
#define NRFCA_DATADIR_ABS "/usr/local/share/nrfca"
#endif

static char data_dir[PATH_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find(void)
{
	char exe[PATH_MAX], *slash, *real;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	snprintf(data_dir, sizeof(data_dir), "%s", NRFCA_DATADIR_ABS);
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	if (strlen(exe) + strlen(NRFCA_DATADIR_REL) + 2 > sizeof(exe))
		return;
	strcat(exe, "/" NRFCA_DATADIR_REL);
	real = realpath(exe, NULL);
	if (real != NULL && strlen(real) < sizeof(data_dir))
		strcpy(data_dir, real);
	free(real);
}

const char *nrfca_data_dir(void)
{
	pthread_once(&once, find);
	return data_dir;
}
