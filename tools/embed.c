/* SPDX-License-Identifier: MIT */
/* Build tool: writes a file's bytes as a C array, for embedding runner.py. */
#include <stdio.h>

int main(int argc, char **argv)
{
	FILE *in, *out;
	int c;
	unsigned long n = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: embed INPUT OUTPUT NAME\n");
		return 2;
	}
	in = fopen(argv[1], "rb");
	out = fopen(argv[2], "w");
	if (!in || !out) {
		perror("embed");
		return 1;
	}
	fprintf(out, "/* Generated from %s; do not edit. */\nstatic const char %s[] = {\n", argv[1],
		argv[3]);
	while ((c = fgetc(in)) != EOF) {
		fprintf(out, "%d,%s", c, (++n % 16) ? "" : "\n");
	}
	fprintf(out, "0\n};\n");
	if (fclose(out) || ferror(in)) {
		perror("embed");
		return 1;
	}
	fclose(in);
	return 0;
}
