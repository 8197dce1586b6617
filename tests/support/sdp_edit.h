/* Editing captured SDP text in tests: whole-text replacement and line edits (CRLF lines). */
#ifndef WEIR_TEST_SDP_EDIT_H
#define WEIR_TEST_SDP_EDIT_H

#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"

/* Every occurrence of from replaced by to; text is freed, the result is new (weir_free it). */
static inline char *replace_all(char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), cap = strlen(text) + 1, len = 0;
    for (const char *p = text; (p = strstr(p, from)); p += fl)
        cap += tl;
    char *out = weir_malloc(cap);
    const char *p = text;
    for (const char *hit; (hit = strstr(p, from)); p = hit + fl) {
        memcpy(out + len, p, (size_t)(hit - p));
        len += (size_t)(hit - p);
        memcpy(out + len, to, tl);
        len += tl;
    }
    strcpy(out + len, p);
    weir_free(text);
    return out;
}

/* Lines starting with prefix dropped (with == NULL) or replaced by with. */
static inline char *edit_lines(char *text, const char *prefix, const char *with)
{
    char *out = weir_malloc(strlen(text) + 1 + (with ? strlen(with) * 64 : 0));
    size_t len = 0;
    for (char *line = text; *line;) {
        char *eol = strstr(line, "\r\n");
        char *next = eol ? eol + 2 : line + strlen(line);
        if (strncmp(line, prefix, strlen(prefix))) {
            memcpy(out + len, line, (size_t)(next - line));
            len += (size_t)(next - line);
        } else if (with) {
            len += (size_t)sprintf(out + len, "%s\r\n", with);
        }
        line = next;
    }
    out[len] = '\0';
    weir_free(text);
    return out;
}

#endif
