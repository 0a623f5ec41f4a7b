/* SPDX-License-Identifier: MIT */
/*
 * Text from the sandbox, the model or an MCP server made safe to show on a
 * terminal: what a terminal would act on, or what would hide or reorder
 * text, is written as a visible escape instead.
 *
 * Escaped, in both modes:
 *   - C0 controls (U+0000-U+001F) and DEL: \r, and \xNN for the others
 *     (\n and \t too in TERM_NAME);
 *   - C1 controls (U+0080-U+009F), bidirectional controls (U+061C,
 *     U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), line and paragraph
 *     separators (U+2028, U+2029) and invisible characters (U+00AD,
 *     U+200B-U+200D, U+2060-U+2064, U+FEFF, tags U+E0000-U+E007F): \uNNNN,
 *     or \UNNNNNNNN above U+FFFF;
 *   - every byte that is not part of well-formed UTF-8 (stray continuation
 *     bytes, truncated sequences, overlong forms, surrogates, above
 *     U+10FFFF): \xNN, one escape per byte.
 * Hex digits are lower case. Other characters, ASCII or not, are copied.
 *
 * TERM_NAME is for one-line values (file names, tool names, messages): \n
 * and \t are escaped too, and a backslash is written \\, so the output
 * decodes back to the input: two different names never print the same.
 *
 * TERM_TEXT is for text shown as lines (code, a JSON dump, a tool result):
 * \n and \t are kept, and a backslash is kept as is so that code and JSON
 * read as written. It is not injective (a literal "\x1b" in code prints as
 * an escaped ESC does); callers that need the difference report how many
 * escapes they made (n_escaped).
 */
#ifndef CACT_CLI_TERM_H
#define CACT_CLI_TERM_H

#include <stddef.h>

enum term_mode { TERM_NAME, TERM_TEXT };

/*
 * The escaped form of s[0..len) (NUL bytes included), NUL-terminated: at
 * most 4 * len + 1 bytes, measured before it is allocated. Owned: release with term_free(). Never NULL: out of memory, it
 * is a static "\?(out of memory)". *n_escaped (may be NULL) receives the
 * number of escapes made (a \\ for a backslash is not counted). Thread-safe.
 */
char *term_escape(const char *s, size_t len, enum term_mode mode, size_t *n_escaped);
/* Same for a C string. */
char *term_escape_str(const char *s, enum term_mode mode);
/* Releases a term_escape result; NULL is a no-op. */
void term_free(char *escaped);

/*
 * The largest n <= max (and <= len) such that cutting s at n does not split
 * a well-formed UTF-8 sequence of s[0..len): where to cut text to show a
 * part of it.
 */
size_t term_cut(const char *s, size_t len, size_t max);

#endif
