/* SPDX-License-Identifier: MIT */
/*
 * The MHD_* functions cact calls, defined under their own names (hidden in
 * libcact) over libmicrohttpd loaded at its first use: the Streamable HTTP
 * transport and the operations listener are the only users, and every
 * other cact command would otherwise load it and its dependencies at start
 * (util/lazy.h).
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>

#include "../util/lazy.h"
#include "../util/util.h"
#include "mhd.h"

/* X(return type, name, parameters, arguments, result when the library is missing) */
#define MHD_FNS(X)                                                                               \
	X(struct MHD_Response *, MHD_create_response_from_buffer,                                \
	  (size_t size, void *buffer, enum MHD_ResponseMemoryMode mode), (size, buffer, mode),   \
	  NULL)                                                                                  \
	X(struct MHD_Response *, MHD_create_response_from_callback,                              \
	  (uint64_t size, size_t block, MHD_ContentReaderCallback crc, void *crc_cls,            \
	   MHD_ContentReaderFreeCallback crfc),                                                  \
	  (size, block, crc, crc_cls, crfc), NULL)                                               \
	X(enum MHD_Result, MHD_add_response_header,                                              \
	  (struct MHD_Response * r, const char *header, const char *content),                    \
	  (r, header, content), MHD_NO)                                                          \
	X(enum MHD_Result, MHD_queue_response,                                                   \
	  (struct MHD_Connection * c, unsigned int status, struct MHD_Response *r),              \
	  (c, status, r), MHD_NO)                                                                \
	X(const char *, MHD_lookup_connection_value,                                             \
	  (struct MHD_Connection * c, enum MHD_ValueKind kind, const char *key), (c, kind, key), \
	  NULL)

#define MEMBER(ret, name, params, args, missing) ret(*name) params;
static struct {
	MHD_FNS(MEMBER)
	struct MHD_Daemon *(*MHD_start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback,
						  void *, MHD_AccessHandlerCallback, void *,
						  va_list);
	void (*MHD_stop_daemon)(struct MHD_Daemon *);
	void (*MHD_destroy_response)(struct MHD_Response *);
	const union MHD_ConnectionInfo *(*MHD_get_connection_info)(struct MHD_Connection *,
								   enum MHD_ConnectionInfoType,
								   ...);
	const union MHD_DaemonInfo *(*MHD_get_daemon_info)(struct MHD_Daemon *,
							   enum MHD_DaemonInfoType, ...);
} fn;

#define SYM(ret, name, params, args, missing) {#name, (void **)&fn.name},
static const struct lazy_sym syms[] = {
	MHD_FNS(SYM){"MHD_start_daemon_va", (void **)&fn.MHD_start_daemon_va},
	{"MHD_stop_daemon", (void **)&fn.MHD_stop_daemon},
	{"MHD_destroy_response", (void **)&fn.MHD_destroy_response},
	{"MHD_get_connection_info", (void **)&fn.MHD_get_connection_info},
	{"MHD_get_daemon_info", (void **)&fn.MHD_get_daemon_info},
};
static struct lazy_lib libmhd = LAZY_LIB("libmicrohttpd.so.12", syms);

int mcp_mhd_load(struct cact_error *err)
{
	return lazy_load(&libmhd) ? ut_err(err, CACT_ESYS, "%s", libmhd.why) : 0;
}

#define WRAP(ret, name, params, args, missing)                        \
	ret name params                                               \
	{                                                             \
		return lazy_load(&libmhd) ? (missing) : fn.name args; \
	}
MHD_FNS(WRAP)

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
				    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (lazy_load(&libmhd)) {
		errno = ELIBACC;
		return NULL;
	}
	va_start(ap, dh_cls);
	d = fn.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *d)
{
	if (!lazy_load(&libmhd))
		fn.MHD_stop_daemon(d);
}

void MHD_destroy_response(struct MHD_Response *r)
{
	if (!lazy_load(&libmhd))
		fn.MHD_destroy_response(r);
}

/*
 * The information cact asks for (a connection's fd and socket context, a
 * daemon's port) takes no further argument: none is passed on.
 */
const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c,
							enum MHD_ConnectionInfoType type, ...)
{
	return lazy_load(&libmhd) ? NULL : fn.MHD_get_connection_info(c, type);
}

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *d, enum MHD_DaemonInfoType type,
						...)
{
	return lazy_load(&libmhd) ? NULL : fn.MHD_get_daemon_info(d, type);
}
