/*
 * config_ref.h - references in config strings, resolved at load:
 *   ${NAME}            the environment variable NAME; unset is an error naming it
 *   ${NAME:-fallback}  NAME, or the fallback when NAME is unset or empty; the fallback may
 *                      itself hold references (${A:-${file:/run/secrets/a}})
 *   ${file:/abs/path}  the file's contents (at most CONFIG_REF_MAX_FILE bytes), one
 *                      trailing "\n" or "\r\n" removed: mounted secrets
 *   $${                a literal "${"
 * Text and references mix ("https://${HOST}/x"). Error messages name the variable or the
 * path, never a resolved value nor the text around the reference: the text may be a secret.
 */
#ifndef LEADHUB_CONFIG_REF_H
#define LEADHUB_CONFIG_REF_H

#include <stdbool.h>

#include "config_where.h"
#include "diag.h"

#define CONFIG_REF_MAX_FILE (64 * 1024)

/* What a resolved text was made of (secrets require one reference, fallbacks included). */
struct config_ref_info {
    bool single;           /* text is exactly one reference and nothing else */
    bool literal_fallback; /* some ${NAME:-...} falls back on text that is not exactly one
                              reference (used or not): a literal where a secret would be */
};

/*
 * config_ref_resolve - expand every reference in `text`.
 *   text:       borrowed.
 *   where, key: where text was written, for diagnostics (borrowed; may be NULL).
 *   out:        on success a NEW string (free()).
 *   info_out:   may be NULL; what text was made of.
 *   Returns 0, or -1 with an error in diags and *out NULL.
 */
int config_ref_resolve(const char *text, const struct config_where *where, const char *key,
                       char **out, struct config_ref_info *info_out, struct diag_list *diags);

#endif
