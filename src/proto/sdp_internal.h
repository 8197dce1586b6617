/*
 * Shared by sdp.c, sdp_parse.c, sdp_attr.c and sdp_write.c only: the arena every
 * weir_sdp allocates from, and the parser's line and attribute entry points
 * that the builder reuses.
 */
#ifndef WEIR_PROTO_SDP_INTERNAL_H
#define WEIR_PROTO_SDP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/sdp.h"

/** An empty model with an arena: v=0 and nothing else set. Never fails. */
weir_sdp *weir_sdp_new(void);

/**
 * size zeroed bytes from sdp's arena, aligned for any type when align is
 * true. NULL once the arena would pass WEIR_SDP_MAX_MEMORY.
 */
void *weir_sdp_alloc(weir_sdp *sdp, size_t size, bool align);

/** A NUL-terminated copy of n bytes of s in the arena, or NULL at the limit. */
char *weir_sdp_strndup(weir_sdp *sdp, const char *s, size_t n);
char *weir_sdp_strdup(weir_sdp *sdp, const char *s);

/**
 * Appends one zeroed element to the array *arrp (a T ** passed as void *)
 * holding *n elements of elem bytes, growing it in the arena by doubling.
 * Returns the new element, or NULL at the memory limit with the array
 * unchanged.
 */
void *weir_sdp_push(weir_sdp *sdp, void *arrp, size_t *n, size_t elem);

#define WEIR_SDP_PUSH(sdp, arr, n) weir_sdp_push((sdp), &(arr), &(n), sizeof *(arr))

/*
 * Parses the value of one m= line (text after "m=", modified in place) and
 * appends the section to sdp. On error returns -WEIR_E*, sets *why to a
 * static reason and leaves sdp unchanged.
 */
int weir_sdp_parse_media_line(weir_sdp *sdp, char *value, const char **why);

/*
 * Parses one attribute (text after "a=", modified in place) into the session
 * (m NULL) or section m. On error returns -WEIR_E*, sets *why to a static
 * reason and leaves the model unchanged.
 */
int weir_sdp_parse_attribute(weir_sdp *sdp, weir_sdp_media *m, char *text, const char **why);

/* Appends a format (copied) to m; checks it is a payload type when m is RTP. */
int weir_sdp_media_push_format(weir_sdp *sdp, weir_sdp_media *m, const char *fmt, const char **why);

/* ---- lexing, shared by sdp_parse.c and sdp_attr.c ---- */

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits off the next token. RFC 8866 separates fields by one SP; runs of
 * blanks are accepted since some stacks emit them. */
static inline char *next_token(char **p)
{
    char *s = *p;
    while (is_blank(*s))
        s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *e = s;
    while (*e && !is_blank(*e))
        e++;
    if (*e)
        *e++ = '\0';
    *p = e;
    return s;
}

/* What is left after leading blanks, verbatim; NULL when nothing is. */
static inline char *rest_of(char **p)
{
    char *s = *p;
    while (is_blank(*s))
        s++;
    *p = s + strlen(s);
    return *s ? s : NULL;
}

/* RFC 8866 token-char: visible ASCII except the specials "(),/:;<=>?@[\]{}. */
static inline bool is_token_char(unsigned char c)
{
    switch (c) {
    case '"':
    case '(':
    case ')':
    case ',':
    case '/':
    case ':':
    case ';':
    case '<':
    case '=':
    case '>':
    case '?':
    case '@':
    case '[':
    case '\\':
    case ']':
    case '{':
    case '}':
        return false;
    default:
        return c > 0x20 && c < 0x7f;
    }
}

static inline bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_token_char((unsigned char)*s))
            return false;
    return true;
}

/* RFC 8851 rid-id: 1*(alpha-numeric / "-" / "_"). */
static inline bool is_rid_id(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static inline bool to_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static inline bool to_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!to_u64(s, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static inline bool to_pt(const char *s, uint8_t *pt)
{
    uint32_t v;
    if (!to_u32(s, 127, &v))
        return false;
    *pt = (uint8_t)v;
    return true;
}

#endif
