/* The C types of note 004's byte-order section, as this platform's C compiler sizes them. */
#include <stdio.h>
#include <stdint.h>
int main(void) {
    printf("%zu %zu %zu %zu %zu %lld %lld %llu\n", sizeof(short), sizeof(int), sizeof(long),
           sizeof(int32_t), sizeof(uint32_t), (long long)INT32_MIN, (long long)INT32_MAX,
           (unsigned long long)UINT32_MAX);
    return 0;
}
