/*
 * A slow UTF-8 check written from RFC 3629's definition (decode each code
 * point, then judge its value), with nothing in common with ws.c's DFA:
 * the oracle test_ws.c and fuzz_ws.c compare the DFA with.
 */
#ifndef TURBO_TESTS_UTF8_REF_H
#define TURBO_TESTS_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Is some code point in [lo, hi] a Unicode scalar value that needs at
 * least min to be encoded (so is not overlong in this length)? */
static inline bool utf8_ref_range_ok(uint32_t lo, uint32_t hi, uint32_t min)
{
    if (lo < min)
        lo = min;
    if (hi > 0x10FFFF)
        hi = 0x10FFFF;
    if (lo > hi)
        return false;
    /* Not all of [lo, hi] inside the surrogates D800-DFFF. */
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/*
 * True when p[0..n) is valid UTF-8; with partial_end, also when it stops
 * inside a sequence that some continuation bytes would complete validly.
 */
static inline bool utf8_ref_valid(const uint8_t *p, size_t n, bool partial_end)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t len;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        size_t j = 1;
        for (; j < len && i + j < n; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (j < len) {
            if (!partial_end)
                return false;
            unsigned missing = (unsigned)(6 * (len - j));
            return utf8_ref_range_ok(cp << missing, (cp << missing) | ((1u << missing) - 1), min);
        }
        if (!utf8_ref_range_ok(cp, cp, min))
            return false;
        i += len;
    }
    return true;
}

#endif
