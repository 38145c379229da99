/*
 * mail_dsn.h - who bounced, from a delivery status report's `message/delivery-status` part
 * (RFC 3464), for bounces whose headers do not say (Exchange's do not carry
 * X-Failed-Recipients). A connector that reads the report's parts (Gmail format=full,
 * Graph's MIME content) passes that part's text.
 *
 * Each per-recipient block whose `Action` is `failed` gives its `Final-Recipient` (else its
 * `Original-Recipient`) when the address type is `rfc822` or `utf-8`; `delayed`, `delivered`,
 * `relayed` and `expanded` blocks give nothing. Field names are compared ignoring case and
 * folded lines are unfolded.
 *
 * Pure and thread-safe.
 */
#ifndef LEADHUB_MAIL_DSN_H
#define LEADHUB_MAIL_DSN_H

#include <stddef.h>

#include "mail_address.h"

/*
 * mail_dsn_failed_recipients - the failed recipients of a report, normalized as
 * mail_address.h says, each once, without display names.
 *   out: filled; free with mail_address_list_clear(), also after an error.
 *   Returns 0, or -1 when out of memory.
 */
int mail_dsn_failed_recipients(const char *text, size_t length, struct mail_address_list *out);

#endif
