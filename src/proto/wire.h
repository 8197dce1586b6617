/**
 * Big-endian field access shared by the wire formats in src/proto. Network
 * byte order is fixed by every RFC we parse, so these read and write bytes
 * one at a time: no alignment requirement, no host-order dependence.
 * Callers check bounds before calling; nothing here knows a length.
 */
#ifndef WEIR_PROTO_WIRE_H
#define WEIR_PROTO_WIRE_H

#include <stdint.h>

static inline uint16_t weir_wire_get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t weir_wire_get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t weir_wire_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t weir_wire_get64(const uint8_t *p)
{
    return (uint64_t)weir_wire_get32(p) << 32 | weir_wire_get32(p + 4);
}

static inline void weir_wire_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void weir_wire_put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void weir_wire_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void weir_wire_put64(uint8_t *p, uint64_t v)
{
    weir_wire_put32(p, (uint32_t)(v >> 32));
    weir_wire_put32(p + 4, (uint32_t)v);
}

#endif
