/*
 * datadir.h - where the files nrfca ships (policies, trust anchors) are.
 *
 * The shipped folder is found relative to the running program, so an
 * installed tree (/usr/bin/nrfca-server -> /usr/share/nrfca), a staged one
 * (DESTDIR) and the build tree (build/bin -> build/share/nrfca, which CMake
 * links to the sources) all find their own copy.  When the program's path
 * cannot be read, the install location chosen at build time is used.
 */
#ifndef NRFCA_DATADIR_H
#define NRFCA_DATADIR_H

/* "/usr/share/nrfca" (no trailing slash); never NULL; computed once. */
const char *nrfca_data_dir(void);

#endif
