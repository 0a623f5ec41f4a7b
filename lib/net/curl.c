/* SPDX-License-Identifier: MIT */
/* libcurl's process-wide set-up, shared by the network layer and the chat client. */
#include <curl/curl.h>
#include <pthread.h>

#include "../util/util.h"
#include "net.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void global_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int net_global_init(struct cact_error *err)
{
	pthread_once(&once, global_init);
	if (init_rc != CURLE_OK)
		return ut_err(err, CACT_ESYS, "curl_global_init: %s", curl_easy_strerror(init_rc));
	return 0;
}
