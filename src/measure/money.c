/* Exact money: integer division rounded half-even, and printing minor units. */
#include "measure/measure_impl.h"

#include <stdio.h>

eng__i128 eng__div_half_even(eng__i128 x, eng__i128 den)
{
    int neg = x < 0;
    if (neg)
        x = -x;
    eng__i128 q = x / den, r = x % den;
    eng__i128 twice = r * 2;
    if (twice > den || (twice == den && (q & 1)))
        q++;
    return neg ? -q : q;
}

eng__i128 eng__pow10_128(int k)
{
    eng__i128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

void eng__money_fmt(char *buf, size_t cap, int64_t v, int places)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t p = 1;
    for (int i = 0; i < places; i++)
        p *= 10;
    if (places == 0)
        snprintf(buf, cap, "%s%llu", v < 0 ? "-" : "", (unsigned long long)a);
    else
        snprintf(buf, cap, "%s%llu.%0*llu", v < 0 ? "-" : "", (unsigned long long)(a / p), places,
                 (unsigned long long)(a % p));
}
