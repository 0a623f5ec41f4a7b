/* SPDX-License-Identifier: MIT */
/*
 * Corpus replayer: runs a libFuzzer target over every file of a folder,
 * so the harness is exercised by any compiler in the ordinary test suite.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	struct dirent *de;
	size_t files = 0;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 1;
	}
	while ((de = readdir(d))) {
		char path[4096];
		unsigned char *buf;
		long len;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
			LLVMFuzzerTestOneInput(buf, (size_t)len);
			files++;
		}
		free(buf);
		fclose(f);
	}
	closedir(d);
	printf("replayed %zu inputs\n", files);
	if (files == 0) {
		fprintf(stderr, "no corpus files in %s\n", argv[1]);
		return 1;
	}
	return 0;
}
