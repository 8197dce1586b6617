/**
 * Allocation that never returns NULL: out of memory calls the fatal hook
 * (default: log and abort). Error paths are kept for what really happens
 * to a server, not for malloc failing.
 */
#ifndef WEIR_ALLOC_H
#define WEIR_ALLOC_H

#include <stddef.h>

void *weir_malloc(size_t size);
void *weir_calloc(size_t n, size_t size);
void *weir_realloc(void *p, size_t size);
char *weir_strdup(const char *s);
char *weir_strndup(const char *s, size_t n);
void weir_free(void *p);
/** Replaces the out-of-memory hook (it must not return). */
void weir_alloc_set_fatal_hook(void (*hook)(size_t size));

#define WEIR_NEW(type) ((type *)weir_calloc(1, sizeof(type)))

#endif
