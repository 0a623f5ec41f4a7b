/* SPDX-License-Identifier: MIT */
/*
 * cact: a CodeAct runtime. Model-written Python runs in a kernel-enforced
 * sandbox forked from a warm interpreter. This umbrella header pulls in the
 * whole public API.
 */
#ifndef CACT_H
#define CACT_H

#include <cact/agent.h>
#include <cact/codeact.h>
#include <cact/error.h>
#include <cact/mcp.h>
#include <cact/request.h>
#include <cact/result.h>
#include <cact/runtime.h>
#include <cact/sandbox_session.h>
#include <cact/tools.h>

#define CACT_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually linked ("0.1.0"). */
CACT_API const char *cact_version(void);

#ifdef __cplusplus
}
#endif
#endif
