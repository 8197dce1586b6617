/**
 * EBML (RFC 8794) encoding for the WebM writer: element IDs, size varints
 * (§4), and the element types Matroska uses (unsigned and signed integers,
 * floats, strings, binary, masters). Everything is appended to a growable
 * byte buffer the caller owns; nothing here can fail except by running out
 * of memory (which aborts, weir_alloc).
 */
#ifndef WREC_EBML_H
#define WREC_EBML_H

#include <stddef.h>
#include <stdint.h>

typedef struct wrec_ebml_buf {
    /* owned: */
    uint8_t *data;
    /* state: */
    size_t len, cap;
} wrec_ebml_buf;

/* The reserved all-ones size of one octet width 8: "unknown size" (§6.2). */
#define WREC_EBML_UNKNOWN_SIZE 0x01ffffffffffffffull
/* The largest size an 8-octet varint can carry (all-ones is reserved). */
#define WREC_EBML_MAX_SIZE 0x00fffffffffffffeull

void wrec_ebml_bytes(wrec_ebml_buf *b, const void *p, size_t n);
void wrec_ebml_free(wrec_ebml_buf *b);

/** An element ID as its own octets (the marker bits are part of the ID). */
void wrec_ebml_id(wrec_ebml_buf *b, uint32_t id);
/** A data size as the shortest varint (never all-ones); v <= WREC_EBML_MAX_SIZE. */
void wrec_ebml_size(wrec_ebml_buf *b, uint64_t v);
/** The 8-octet unknown size. */
void wrec_ebml_unknown_size(wrec_ebml_buf *b);

void wrec_ebml_uint(wrec_ebml_buf *b, uint32_t id, uint64_t v);
void wrec_ebml_int(wrec_ebml_buf *b, uint32_t id, int64_t v);
void wrec_ebml_float(wrec_ebml_buf *b, uint32_t id, double v); /* 8 octets */
void wrec_ebml_string(wrec_ebml_buf *b, uint32_t id, const char *s);
void wrec_ebml_binary(wrec_ebml_buf *b, uint32_t id, const void *p, size_t n);
/** A master element whose body was built in child. */
void wrec_ebml_master(wrec_ebml_buf *b, uint32_t id, const wrec_ebml_buf *child);

#endif
