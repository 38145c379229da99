/*
 * google_quota.c - the per-mailbox quota budget. Google counts quota units per user per
 * minute and refuses (403 userRateLimitExceeded, 429) beyond them; paying units from a
 * bucket refilled at the allowed rate keeps the connector under the limit instead of
 * learning it from refusals. The bucket holds one second's worth (at least one watch), so
 * a poll that starts with a full bucket cannot burst far past the rate, and it starts
 * empty.
 */
#include "google.h"

#define QUOTA_CAPACITY_MIN 100.0 /* the dearest call: users.watch */

void google_quota_init(struct google_quota *quota, double units_per_second, int64_t now_ms)
{
    quota->rate = units_per_second;
    quota->capacity = units_per_second > QUOTA_CAPACITY_MIN ? units_per_second : QUOTA_CAPACITY_MIN;
    /* empty: a restarted process does not know what the last one spent just before */
    quota->units = 0;
    quota->updated_ms = now_ms;
}

int google_quota_take(struct google_quota *quota, double units, int64_t now_ms, int64_t *wait_ms)
{
    if (now_ms > quota->updated_ms) {
        quota->units += (double)(now_ms - quota->updated_ms) * quota->rate / 1000.0;
        if (quota->units > quota->capacity) {
            /* empty: a restarted process does not know what the last one spent just before */
            quota->units = 0;
        }
        quota->updated_ms = now_ms;
    }
    if (quota->units >= units) {
        quota->units -= units;
        return 0;
    }
    /* come back when half the bucket is there, not just this call's units: a poll per
     * call would spend more on commits than on mail; and half, not full, so that the
     * bucket never overflows while the caller is away (no budget is lost) */
    double want = units > quota->capacity / 2 ? units : quota->capacity / 2;
    *wait_ms = (int64_t)((want - quota->units) * 1000.0 / quota->rate) + 1;
    return -1;
}
