/*
 * decay.c - the arithmetic of the engagement score: exponential decay by half-life, and the
 * curve from a decayed sum to 0..100.
 *
 * Note: plugins link jansson and libc only (the Makefile gives them no -lm), so e^x is
 * computed here. This also keeps scores bit-for-bit the same on every machine, whatever
 * its libm: the scorer promises the same result for the same snapshot.
 */
#include <stdint.h>
#include <string.h>

#include "engagement.h"

/* ln 2 split in two (as fdlibm does), so that k * LN2_HIGH is exact for the k used here. */
#define LN2_HIGH 6.93147180369123816490e-01
#define LN2_LOW  1.90821492927058770002e-10
#define INV_LN2  1.44269504088896338700e+00
#define LN2      0.69314718055994530942

/* Below this e^x is under the smallest normal double: it counts as 0. */
#define EXP_MIN (-708.0)
#define EXP_MAX 709.0

/* 2^k for -1022 <= k <= 1023, from the exponent bits of a double. */
static double power_of_two(int k)
{
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double value;
    memcpy(&value, &bits, sizeof(value));
    return value;
}

double decay_exp(double x)
{
    if (x < EXP_MIN) {
        return 0.0;
    }
    if (x > EXP_MAX) {
        x = EXP_MAX; /* no caller goes there: sums and ages are bounded far below */
    }
    /* x = k ln 2 + r with |r| <= ln 2 / 2, so e^x = 2^k e^r */
    double estimate = x * INV_LN2;
    int k = (int)(estimate < 0 ? estimate - 0.5 : estimate + 0.5);
    double r = (x - k * LN2_HIGH) - k * LN2_LOW;
    /* Taylor series of e^r: with |r| <= 0.347 the first term left out, r^14 / 14!, is below
     * 5e-18, under half an ulp of the result */
    double term = 1.0;
    double sum = 1.0;
    for (int n = 1; n <= 13; n++) {
        term *= r / n;
        sum += term;
    }
    return sum * power_of_two(k);
}

double decay_factor(int64_t age_ms, int64_t half_life_ms)
{
    if (age_ms <= 0) {
        return 1.0;
    }
    return decay_exp(-LN2 * ((double)age_ms / (double)half_life_ms));
}

double decay_curve(double sum, double scale)
{
    if (!(sum > 0)) {
        return 0.0;
    }
    return 100.0 * (1.0 - decay_exp(-sum / scale));
}
