/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: bytes written by a hostile guest into the host<->guest wire
 * socket. Feeds them through the incremental frame decoder in arbitrary
 * chunkings (the first byte picks the chunk size) and parses every complete
 * frame, as the host's supervisor does.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_decoder d;
	size_t chunk, off;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	/* A small cap, so that the over-cap path is reachable. */
	wire_decoder_init(&d, 4096);
	for (off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;

		while (n > 0) {
			char *frame = NULL;
			size_t used = 0, flen = 0;
			int rc = wire_decoder_feed(&d, data + off, n, &used, &frame, &flen);

			if (rc < 0) {
				wire_decoder_reset(&d);
				return 0;
			}
			off += used;
			n -= used;
			if (rc == 1) {
				json_t *msg = NULL;
				enum wire_type type;
				struct cact_error err;

				if (wire_parse(frame, flen, &msg, &type, &err) == 0) {
					/* A parsed frame is an object with a known type. */
					if (!json_is_object(msg) || type == WIRE_UNKNOWN)
						abort();
					json_decref(msg);
				}
				free(frame);
			}
		}
	}
	wire_decoder_reset(&d);
	return 0;
}
