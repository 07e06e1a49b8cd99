/* Big-endian (network order) loads and stores on byte pointers.
 *
 * Byte by byte, so they are safe on unaligned packet data (UBSan-clean) and
 * compile to single loads/stores with a byte swap on x86-64. Callers check
 * bounds first.
 */
#ifndef PRISM_BASE_BYTES_H
#define PRISM_BASE_BYTES_H

#include <stdint.h>

static inline uint16_t prism_load_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t prism_load_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t prism_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void prism_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void prism_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
