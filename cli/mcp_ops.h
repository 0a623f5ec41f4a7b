/* SPDX-License-Identifier: MIT */
/* cact mcp's log: lines for people, or JSON lines (--log-format json). */
#ifndef CACT_CLI_MCP_OPS_H
#define CACT_CLI_MCP_OPS_H

#include <cact/cact.h>

/* JSON lines from now on (1) or lines for people (0, the default). */
void mcp_log_set_json(int on);
int mcp_log_is_json(void);

/* A cact_mcp_log_fn: one JSON line, or for people the server's own events only. */
void mcp_log_event(void *user, const struct cact_mcp_log_event *ev);

/* One event of the command itself: "cact mcp: MESSAGE", or a JSON line. */
void mcp_log_line(const char *level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
