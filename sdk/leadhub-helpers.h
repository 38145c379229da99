/*
 * leadhub-helpers.h - helpers every connector needs, shipped with the SDK (docs/sdk.md,
 * "Helpers"). Header only: static inline functions using libc and jansson, nothing to
 * link. Their names are stable within SDK 2.
 *
 *   lh_url.h        URL, query and form building with percent-encoding  (lh_url_*)
 *   lh_time.h       provider times (epoch s/ms, ISO 8601, RFC 2822) to RFC 3339 (lh_time_*)
 *   lh_key.h        SHA-256 and checkpoint keys from emails and long ids  (lh_key_*, lh_sha256*)
 *   lh_ratelimit.h  Retry-After, x-ratelimit-reset; writes retried on 429 only
 *                   (lh_retry_after_ms, lh_ratelimit_reset_ms, lh_http_retry_delay_ms,
 *                   lh_http_write)
 *   lh_cursor.h     the "time cursor plus seen-set" polling pattern      (lh_cursor_*)
 */
#ifndef LEADHUB_HELPERS_H
#define LEADHUB_HELPERS_H

#include "leadhub.h"
#include "leadhub/lh_cursor.h"
#include "leadhub/lh_key.h"
#include "leadhub/lh_ratelimit.h"
#include "leadhub/lh_time.h"
#include "leadhub/lh_url.h"

#endif /* LEADHUB_HELPERS_H */
