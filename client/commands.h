/*
 * commands.h - the subcommands of `nrfca`, one function each.
 * Each returns the process exit status (see exit.h / `nrfca --help`).
 */
#ifndef NRFCA_CLIENT_COMMANDS_H
#define NRFCA_CLIENT_COMMANDS_H

int cmd_parse(int argc, char **argv);
int cmd_creds(int argc, char **argv);
int cmd_provision(int argc, char **argv);
int cmd_line(int argc, char **argv);
int cmd_onboard(int argc, char **argv);

#endif
