/* Reading files from tests/data in Criterion tests. */
#ifndef WEIR_TEST_DATA_H
#define WEIR_TEST_DATA_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "weir/alloc.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

/*
 * Reads tests/data/<relpath> whole, NUL-terminated; *len (if non-NULL) gets
 * its size. The caller frees with weir_free. Fails the test if unreadable.
 */
static inline char *test_data_read(const char *relpath, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/%s", WEIR_SOURCE_ROOT, relpath);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = weir_malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)size;
    return buf;
}

#endif
