#include <stdio.h>
#include "commands.h"
int cmd_parse(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "nrfca parse: being written\n");
	return 1;
}
