/* SPDX-License-Identifier: MIT */
/*
 * libcurl's process-wide set-up, shared by the network layer, the chat
 * client and the MCP client; and libcurl itself, loaded at its first use
 * (util/lazy.h says why). The curl_* functions cact calls are defined here
 * under their own names, hidden in libcact, and call libcurl's through
 * pointers: the callers and their type checks are those of <curl/curl.h>.
 */
#define CURL_DISABLE_TYPECHECK /* the checks are macros named as the functions defined here */
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>

#include "../util/lazy.h"
#include "../util/util.h"
#include "net.h"

/* X(return type, name, parameters, arguments, result when libcurl is missing) */
#define CURL_FNS(X)                                                                                \
	X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                    \
	X(CURL *, curl_easy_init, (void), (), NULL)                                                \
	X(CURLcode, curl_easy_perform, (CURL * h), (h), CURLE_FAILED_INIT)                         \
	X(CURLM *, curl_multi_init, (void), (), NULL)                                              \
	X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * h), (m, h), CURLM_INTERNAL_ERROR)   \
	X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * h), (m, h),                      \
	  CURLM_INTERNAL_ERROR)                                                                    \
	X(CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running),                  \
	  CURLM_INTERNAL_ERROR)                                                                    \
	X(CURLMcode, curl_multi_poll,                                                              \
	  (CURLM * m, struct curl_waitfd extra[], unsigned int n_extra, int timeout_ms, int *ret), \
	  (m, extra, n_extra, timeout_ms, ret), CURLM_INTERNAL_ERROR)                              \
	X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left), NULL)                \
	X(CURLMcode, curl_multi_cleanup, (CURLM * m), (m), CURLM_INTERNAL_ERROR)                   \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist * list, const char *s),       \
	  (list, s), NULL)                                                                         \
	X(time_t, curl_getdate, (const char *p, const time_t *unused), (p, unused), -1)

#define MEMBER(ret, name, params, args, missing) ret(*name) params;
static struct {
	CURL_FNS(MEMBER)
	CURLcode (*curl_easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*curl_easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*curl_easy_strerror)(CURLcode);
	void (*curl_easy_cleanup)(CURL *);
	void (*curl_slist_free_all)(struct curl_slist *);
} fn;

#define SYM(ret, name, params, args, missing) {#name, (void **)&fn.name},
static const struct lazy_sym syms[] = {
	CURL_FNS(SYM){"curl_easy_setopt", (void **)&fn.curl_easy_setopt},
	{"curl_easy_getinfo", (void **)&fn.curl_easy_getinfo},
	{"curl_easy_strerror", (void **)&fn.curl_easy_strerror},
	{"curl_easy_cleanup", (void **)&fn.curl_easy_cleanup},
	{"curl_slist_free_all", (void **)&fn.curl_slist_free_all},
};
static struct lazy_lib libcurl = LAZY_LIB("libcurl.so.4", syms);

#define WRAP(ret, name, params, args, missing)                         \
	ret name params                                                \
	{                                                              \
		return lazy_load(&libcurl) ? (missing) : fn.name args; \
	}
CURL_FNS(WRAP)

/* The third argument's type follows from the option's number (CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (lazy_load(&libcurl))
		return rc;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (lazy_load(&libcurl))
		return rc;
	va_start(ap, info);
	rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
	return lazy_load(&libcurl) ? libcurl.why : fn.curl_easy_strerror(code);
}

void curl_easy_cleanup(CURL *h)
{
	if (!lazy_load(&libcurl))
		fn.curl_easy_cleanup(h);
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (!lazy_load(&libcurl))
		fn.curl_slist_free_all(list);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void global_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int net_global_init(struct cact_error *err)
{
	if (lazy_load(&libcurl))
		return ut_err(err, CACT_ESYS, "%s", libcurl.why);
	pthread_once(&once, global_init);
	if (init_rc != CURLE_OK)
		return ut_err(err, CACT_ESYS, "curl_global_init: %s", curl_easy_strerror(init_rc));
	return 0;
}
