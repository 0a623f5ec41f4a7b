/* SPDX-License-Identifier: MIT */
/*
 * The embedded CPython of the guest: configured isolated (no site, no user
 * paths, no PYTHON* variables), its standard streams unbuffered on fds 1 and
 * 2, and the runner module (runner.py) loaded into it.
 */
#ifndef CACT_PYG_H
#define CACT_PYG_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

/* Initializes the interpreter with the standard library and extra import folders. */
int pyg_init(const char *stdlib, const char *const *extra, size_t n_extra, struct cact_error *err);
/*
 * Installs the runner's helpers; with imports, also imports the common
 * modules and freezes the garbage collector (not for a one-shot runtime,
 * whose single execution would pay for them).
 */
void pyg_preload(int imports);
/*
 * Imports one module in the zygote (a runtime's preload option): 0, or -1
 * with why ("ModuleNotFoundError: No module named 'x'").
 */
int pyg_import(const char *name, char *why, size_t size);
/*
 * Around the pyg_import calls of a runtime's preload (end 0, then 1): a
 * private settings folder for matplotlib meanwhile, and gc.freeze after.
 */
void pyg_preload_step(int end);
/*
 * In a child just forked from the zygote: what must differ from one
 * execution to the next (the random module's seed), then, with run, a
 * warm-up run, output discarded (a one-shot runtime's only execution would
 * pay for it). The interpreter's own fork hooks (PyOS_AfterFork_Child)
 * are not run: the zygote is single-threaded and holds no lock when it
 * forks, so there is nothing for them to repair, and they would copy about
 * 250 pages per child. 0, or -1 when it failed: the child must not run
 * anyone's code then.
 */
int pyg_warm(int run);
/*
 * Sets up the execution's helpers: the request caps the guest checks
 * before sending, and, when network is non-zero, http_get and friends and
 * the urllib / http.client routing. 0 or -1.
 */
int pyg_configure(int network, uint64_t tool_args_max, uint64_t http_body_max);

/*
 * Runs code as __main__. *report receives the runner's JSON report (owned,
 * free()); may be NULL if even that failed. Returns the exit code. With
 * session, __main__ is kept from the run before, SIGINT raises
 * KeyboardInterrupt while the code runs, and nothing of the interpreter's
 * exit-time work is done (threads stay, atexit handlers wait).
 */
int pyg_run(const char *code, size_t len, int session, char **report);

/*
 * Sessions: SIGINT interrupts the code from now on (runner.arm), called
 * just before the "running" frame, after which the host may send it.
 */
void pyg_arm(void);

/*
 * Sessions (lib/guest/child.c): closes (1) or opens (0) the gate that
 * holds the code's requests between two runs; sends a frame of ours with
 * the requests' lock held, so that it never lands inside one of theirs;
 * waits for the next exec frame (payload owned, free()), whichever thread
 * reads it. The GIL is released while they wait. -1 when the host is gone.
 */
void pyg_gate(int closed);
int pyg_send(const void *frame, size_t len);
int pyg_next_exec(size_t max, char **payload, size_t *len);

/* "3.11.2" */
const char *pyg_version(void);

#endif
