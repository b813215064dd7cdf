/*
 * turbo._turbo.Server: the libturbo server the package drives (server.c).
 */
#ifndef TURBO_PY_SERVER_H
#define TURBO_PY_SERVER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

extern PyTypeObject tpy_ServerType;

#endif
