/* test_hash.c: common/hash.h against the published FNV-1a vectors, and the MurmurHash3
 * finalizer's spread of neighbouring keys. */
#include <stdint.h>

#include "check.h"
#include "hash.h"

int main(void)
{
    CHECK(hash_fnv1a32_str("") == 0x811c9dc5u, "FNV-1a 32 offset basis");
    CHECK(hash_fnv1a32_str("a") == 0xe40c292cu, "FNV-1a 32 of \"a\": %08x",
          (unsigned)hash_fnv1a32_str("a"));
    CHECK(hash_fnv1a32_str("foobar") == 0xbf9cf968u, "FNV-1a 32 of \"foobar\"");
    CHECK(hash_fnv1a64("", 0) == 0xcbf29ce484222325ull, "FNV-1a 64 offset basis");
    CHECK(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull, "FNV-1a 64 of \"a\"");
    CHECK(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ull, "FNV-1a 64 of \"foobar\"");
    CHECK(hash_fnv1a64("foobarX", 6) == hash_fnv1a64("foobar", 6), "only n bytes count");

    CHECK(hash_mix64(0) == 0, "the finalizer maps 0 to 0");
    /* Neighbouring keys (consecutive /24 prefixes) land far apart: about half the bits differ. */
    int worst = 64;
    for (uint64_t k = 1; k < 4096; k++) {
        int bits = __builtin_popcountll(hash_mix64(k << 8) ^ hash_mix64((k + 1) << 8));
        worst = bits < worst ? bits : worst;
    }
    CHECK(worst >= 12, "neighbouring keys differ in at least 12 bits (worst %d)", worst);
    return check_report();
}
