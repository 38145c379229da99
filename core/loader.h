/*
 * loader.h - finds plugins on the plugin path, dlopen()s them and checks their
 * descriptors. A plugin that fails a check is refused with a diagnostic (message, detail,
 * hint) and never called: no entry symbol, wrong magic, another ABI major, a newer ABI
 * minor than the host's, callbacks missing for its kind, a malformed config schema, a
 * name already taken. Nothing a plugin file contains can crash the check (short of code
 * that runs when the object is loaded).
 */
#ifndef LEADHUB_LOADER_H
#define LEADHUB_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "leadhub.h"

/*
 * A loaded plugin. The host reads its descriptor and schema only through the copies made
 * at load (`desc`, whose config_schema points at `schema`): full-size structs of this
 * host's ABI, with the fields an older plugin's smaller structs lack zeroed, so that no
 * code past the loader ever reads beyond what the plugin declared.
 */
struct plugin {
    char *name;              /* desc->name, copied */
    char *path;              /* file it was loaded from */
    void *handle;            /* dlopen() handle */
    const lh_plugin_t *desc; /* the normalized copy (or, in tests, a host-built descriptor) */
    /* NULL-terminated header names at least one of which a genuine webhook POST carries
     * (the descriptor's webhook_signature_headers): a POST carrying none of them may be
     * refused 401 before its body is read. NULL: not declared. Points into the plugin. */
    const char *const *webhook_signature_headers;
    lh_plugin_t *desc_copy;              /* owned: what desc points to for a loaded plugin */
    lh_config_field_t *schema;           /* owned: the normalized schema, LH_FIELD_END-terminated */
    lh_oauth_provider_t *oauth_provider; /* owned: the provider's copy, or NULL */
};

struct plugin_refusal {
    char *path;       /* the refused file */
    char *name;       /* the descriptor's name when it could be read, otherwise
                         the file's base name without ".so" */
    struct diag diag; /* why: message, detail, hint (file = path) */
};

/* Zero-initialize ({0}); free with loader_free(). */
struct plugin_registry {
    struct plugin *plugins;
    size_t count;
    struct plugin_refusal *refused;
    size_t refused_count;
};

/*
 * loader_scan - load every "*.so" in each directory (sorted by name; missing directories
 * are skipped). Accepted plugins go to reg->plugins, refused ones to reg->refused.
 *   Returns the number of plugins accepted by this call.
 */
size_t loader_scan(struct plugin_registry *reg, char *const *dirs, size_t dir_count);

/*
 * loader_load_file - load one file. Returns 0 when accepted, -1 when refused (the
 * refusal is in reg->refused).
 */
int loader_load_file(struct plugin_registry *reg, const char *path);

const struct plugin *loader_find(const struct plugin_registry *reg, const char *name);
const struct plugin_refusal *loader_find_refused(const struct plugin_registry *reg,
                                                 const char *name);

/*
 * loader_default_path - where plugins are looked for when the config names no
 * plugin_path: <dir of the running executable>/plugins (the build tree: build/leadhubd,
 * build/plugins) and <dir of the executable>/../lib/leadhub/plugins (an installed tree),
 * in that order, whichever exist.
 *   dirs_out: malloc'd array of malloc'd strings; free each and the array.
 *   Returns the count.
 */
size_t loader_default_path(char ***dirs_out);

/* "source", "sink", "source+sink", "scorer" */
const char *loader_kind_name(uint32_t kind);

/* dlclose()s every plugin. Safe on a zeroed registry. */
void loader_free(struct plugin_registry *reg);

#endif
