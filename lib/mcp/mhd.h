/* SPDX-License-Identifier: MIT */
/* libmicrohttpd, loaded at its first use (util/lazy.h says why). */
#ifndef CACT_MCP_MHD_H
#define CACT_MCP_MHD_H

#include <cact/error.h>

/* Loads libmicrohttpd; 0, or CACT_ESYS naming what is missing. Call before MHD_start_daemon. */
int mcp_mhd_load(struct cact_error *err);

#endif
