/* Allocation wrappers: out of memory is fatal (see include/weir/alloc.h). */
#include "weir/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void default_fatal(size_t size)
{
    fprintf(stderr, "weir: out of memory allocating %zu bytes\n", size);
    abort();
}

/* Process-wide by nature: set once at start-up (tests replace it). */
static void (*fatal_hook)(size_t) = default_fatal;

void weir_alloc_set_fatal_hook(void (*hook)(size_t size))
{
    fatal_hook = hook ? hook : default_fatal;
}

void *weir_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        fatal_hook(size);
    return p;
}

void *weir_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        fatal_hook(n * size);
    return p;
}

void *weir_realloc(void *old, size_t size)
{
    void *p = realloc(old, size ? size : 1);
    if (!p)
        fatal_hook(size);
    return p;
}

char *weir_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = weir_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *weir_strdup(const char *s)
{
    return weir_strndup(s, strlen(s));
}

void weir_free(void *p)
{
    free(p);
}
