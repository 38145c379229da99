/*
 * cmd_plugins.c - `leadhubd plugins`: what the loader finds on the plugin path, and
 * `leadhubd plugins info NAME`: one plugin's documentation, generated from its descriptor
 * and config schema.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "diag.h"
#include "loader.h"
#include "oauth_provider.h"
#include "util.h"

static const char list_usage[] =
    "Usage: leadhubd plugins [--plugin-path DIR]... [-c FILE]\n"
    "       leadhubd plugins info NAME [--plugin-path DIR]... [-c FILE]\n"
    "\n"
    "Lists the plugins on the plugin path: name, kind, version, plugin ABI and file. Files\n"
    "the loader refused follow on stderr, one line each with the reason; `plugins info NAME`\n"
    "gives the whole diagnostic and a hint.\n"
    "\n"
    "Options:\n"
    "  --plugin-path DIR   look for plugins in DIR; repeat for several directories\n"
    "  -c, --config FILE   take plugin_path from this config file\n"
    "  -h, --help          this help; `leadhubd plugins info --help` for info\n"
    "\n"
    "The plugin path is, in order of precedence: the --plugin-path options; plugin_path in\n"
    "the config file (-c FILE, or " COMMANDS_DEFAULT_CONFIG_TEXT " when it exists); the\n"
    "plugins directory next to leadhubd (build/plugins in a build tree) and\n"
    "../lib/leadhub/plugins (an installed tree).\n"
    "\n"
    "Exit codes:\n"
    "  0  listed (refused files are reported, and do not fail the listing)\n"
    "  1  the config file is invalid (its diagnostics are printed)\n"
    "  2  bad command line\n";

static const char info_usage[] =
    "Usage: leadhubd plugins info NAME [--plugin-path DIR]... [-c FILE]\n"
    "\n"
    "Documents the plugin NAME: version, kind, description, plugin ABI, file, the callbacks\n"
    "it provides, for a source the event types it declares it emits (what routes can\n"
    "match), and its settings (type, default, range, description) as a connector instance\n"
    "file under connectors_dir would set them. For a refused plugin, prints why it was\n"
    "refused and how to fix it.\n"
    "\n"
    "Options: --plugin-path DIR, -c FILE, as for `leadhubd plugins`.\n"
    "\n"
    "Exit codes:\n"
    "  0  documented\n"
    "  1  no plugin of that name (the available ones are listed), the plugin was refused,\n"
    "     or the config file is invalid\n"
    "  2  bad command line\n";

struct plugins_options {
    char **dirs; /* --plugin-path values: borrowed from argv; the array is malloc'd */
    size_t dir_count;
    const char *config_file; /* -c, or NULL */
    bool info;
    const char *info_name;
    bool help;
};

/* Value of an option given as "--name VALUE" or "--name=VALUE"; advances *i past it.
 * Returns NULL when arg is not this option; sets *missing when it is but has no value. */
static const char *option_value(int argc, char **argv, int *i, const char *long_name,
                                const char *short_name, bool *missing)
{
    const char *arg = argv[*i];
    if (arg == NULL) {
        return NULL;
    }
    size_t n = strlen(long_name);
    if (strncmp(arg, long_name, n) == 0 && arg[n] == '=') {
        return arg + n + 1;
    }
    if (strcmp(arg, long_name) != 0 && (short_name == NULL || strcmp(arg, short_name) != 0)) {
        return NULL;
    }
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

static int parse_options(int argc, char **argv, struct plugins_options *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        const char *value;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            opts->help = true;
        } else if ((value = option_value(argc, argv, &i, "--plugin-path", NULL, &missing))) {
            char **dirs = realloc(opts->dirs, (opts->dir_count + 1) * sizeof(*dirs));
            if (dirs == NULL) {
                fprintf(stderr, "leadhubd plugins: out of memory\n");
                return EXIT_RUNTIME;
            }
            opts->dirs = dirs;
            opts->dirs[opts->dir_count++] = (char *)value;
        } else if ((value = option_value(argc, argv, &i, "--config", "-c", &missing))) {
            opts->config_file = value;
        } else if (missing) {
            fprintf(stderr, "leadhubd plugins: %s needs a value\n", arg);
            return EXIT_USAGE;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "leadhubd plugins: unknown option '%s'\n", arg);
            return EXIT_USAGE;
        } else if (!opts->info && strcmp(arg, "info") == 0) {
            opts->info = true;
        } else if (opts->info && opts->info_name == NULL) {
            opts->info_name = arg;
        } else {
            fprintf(stderr, "leadhubd plugins: unexpected argument '%s'\n", arg);
            return EXIT_USAGE;
        }
    }
    if (opts->info && opts->info_name == NULL && !opts->help) {
        fprintf(stderr, "leadhubd plugins info: which plugin? Usage: leadhubd plugins info "
                        "NAME\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Where to look, by the precedence in list_usage. On success *dirs_out points at either
 * the options' array or *owned_dirs (malloc'd, freed by the caller with
 * free_dirs()). Only plugin_path is read from a config file: listing plugins must not
 * need the environment the rest of the file refers to. */
static int resolve_plugin_path(const struct plugins_options *opts, char ***owned_dirs,
                               size_t *owned_count, char *const **dirs_out, size_t *count_out)
{
    *owned_dirs = NULL;
    *owned_count = 0;
    if (opts->dir_count > 0) {
        *dirs_out = opts->dirs;
        *count_out = opts->dir_count;
        return EXIT_OK;
    }
    const char *file = opts->config_file;
    if (file == NULL && access(commands_default_config(), F_OK) == 0) {
        file = commands_default_config();
    }
    if (file != NULL) {
        struct diag_list diags = {0};
        if (config_read_plugin_path(file, owned_dirs, owned_count, &diags) != 0) {
            diag_print(&diags, stderr);
            fprintf(stderr,
                    "leadhubd plugins: the plugin path comes from %s, which is "
                    "invalid; fix it, or name the directories with --plugin-path DIR\n",
                    file);
            diag_list_free(&diags);
            return EXIT_INVALID;
        }
        diag_list_free(&diags);
        if (*owned_count > 0) {
            *dirs_out = *owned_dirs;
            *count_out = *owned_count;
            return EXIT_OK;
        }
        free(*owned_dirs);
        *owned_dirs = NULL;
    }
    *owned_count = loader_default_path(owned_dirs);
    *dirs_out = *owned_dirs;
    *count_out = *owned_count;
    return EXIT_OK;
}

static void print_path(FILE *out, char *const *dirs, size_t count)
{
    if (count == 0) {
        fputs("(none)", out);
    }
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "%s%s", i > 0 ? ":" : "", dirs[i]);
    }
}

static void list_plugins(const struct plugin_registry *reg, char *const *dirs, size_t count)
{
    printf("plugin path: ");
    print_path(stdout, dirs, count);
    printf("\n");
    if (reg->count == 0) {
        printf("no plugins found (name a directory with --plugin-path DIR, or set plugin_path in "
               "the config)\n");
    } else {
        int name_width = (int)strlen("NAME");
        int version_width = (int)strlen("VERSION");
        for (size_t i = 0; i < reg->count; i++) {
            int n = (int)strlen(reg->plugins[i].name);
            int v = (int)strlen(reg->plugins[i].desc->version);
            name_width = n > name_width ? n : name_width;
            version_width = v > version_width ? v : version_width;
        }
        printf("%-*s  %-11s  %-*s  %-4s  %s\n", name_width, "NAME", "KIND", version_width,
               "VERSION", "ABI", "FILE");
        for (size_t i = 0; i < reg->count; i++) {
            const struct plugin *p = &reg->plugins[i];
            char abi[16];
            snprintf(abi, sizeof(abi), "%u.%u", (unsigned)p->desc->abi_major,
                     (unsigned)p->desc->abi_minor);
            printf("%-*s  %-11s  %-*s  %-4s  %s\n", name_width, p->name,
                   loader_kind_name(p->desc->kind), version_width, p->desc->version, abi, p->path);
        }
    }
    fflush(stdout);
    if (reg->refused_count == 0) {
        return;
    }
    fprintf(stderr, "\nrefused %zu file%s:\n", reg->refused_count,
            reg->refused_count == 1 ? "" : "s");
    for (size_t i = 0; i < reg->refused_count; i++) {
        const struct plugin_refusal *r = &reg->refused[i];
        if (r->diag.detail != NULL) {
            fprintf(stderr, "  %s: %s: %s\n", r->name, r->diag.message, r->diag.detail);
        } else {
            fprintf(stderr, "  %s: %s\n", r->name, r->diag.message);
        }
    }
    fprintf(stderr, "`leadhubd plugins info NAME` says how to fix one.\n");
}

static void print_callbacks(const lh_plugin_t *desc)
{
    const struct {
        const char *name;
        bool present;
    } callbacks[] = {
        {"validate", desc->validate != NULL},
        {"init", desc->init != NULL},
        {"destroy", desc->destroy != NULL},
        {"poll", desc->poll != NULL},
        {"webhook", desc->webhook != NULL},
        {"deliver", desc->deliver != NULL},
        {"deliver_batch", desc->deliver_batch != NULL},
        {"score", desc->score != NULL},
    };
    const char *sep = "";
    for (size_t i = 0; i < UTIL_ARRAY_LEN(callbacks); i++) {
        if (callbacks[i].present) {
            printf("%s%s", sep, callbacks[i].name);
            sep = ", ";
        }
    }
    printf("\n");
}

/* What a source's webhook path takes, and what a genuine request carries. */
static void print_webhook(const struct plugin *p)
{
    const lh_plugin_t *desc = p->desc;
    if (desc->webhook == NULL) {
        return;
    }
    bool get = (desc->flags & LH_PLUGIN_WEBHOOK_GET) != 0;
    bool concurrent = (desc->flags & LH_PLUGIN_WEBHOOK_CONCURRENT) != 0;
    printf("webhook:     %s%s\n", get ? "GET, POST" : "POST",
           concurrent ? " (runs beside polls)" : "");
    if (p->webhook_signature_headers != NULL) {
        printf("signed with: ");
        for (size_t i = 0; p->webhook_signature_headers[i] != NULL; i++) {
            printf("%s%s", i > 0 ? " or " : "", p->webhook_signature_headers[i]);
        }
        printf("\n");
    }
}

/* What a source declares it emits: routes and docs/config.md point here. */
static void print_event_types(const lh_plugin_t *desc)
{
    if ((desc->kind & LH_KIND_SOURCE) == 0) {
        return;
    }
    printf("emits:       ");
    if (desc->event_types == NULL || desc->event_types[0] == NULL) {
        printf("any event type (the plugin declares none)\n");
        return;
    }
    for (size_t i = 0; desc->event_types[i] != NULL; i++) {
        printf("%s%s", i > 0 ? ", " : "", desc->event_types[i]);
    }
    printf("\n");
}

/* The OAuth provider whose consent its instances take (`leadhubd connect`). */
static void print_oauth_provider(const lh_plugin_t *desc)
{
    const lh_oauth_provider_t *provider = oauth_provider_of(desc);
    if (provider == NULL) {
        return;
    }
    printf("oauth:       consent with `leadhubd connect INSTANCE`%s%s\n",
           (provider->flags & LH_OAUTH_PKCE) != 0 ? ", PKCE" : "",
           (provider->flags & LH_OAUTH_TOKEN_SCOPE) != 0 ? ", scope sent with the code" : "");
    printf("  authorize: %s\n", provider->authorization_url);
    printf("  token:     %s\n", provider->token_url);
    if (provider->scopes != NULL && provider->scopes[0] != '\0') {
        printf("  scopes:    %s\n", provider->scopes);
    }
    for (const char *const *p = provider->authorization_params; p != NULL && *p != NULL; p++) {
        printf("  parameter: %s\n", *p);
    }
    printf("  client:    %s, %s\n",
           provider->client_id_setting != NULL ? provider->client_id_setting : "client_id",
           provider->client_secret_setting != NULL ? provider->client_secret_setting
                                                   : "client_secret");
}

static int plugin_info(const struct plugin_registry *reg, const char *name, char *const *dirs,
                       size_t count)
{
    const struct plugin *p = loader_find(reg, name);
    if (p != NULL) {
        const lh_plugin_t *desc = p->desc;
        printf("name:        %s\n", p->name);
        printf("version:     %s\n", desc->version);
        printf("kind:        %s\n", loader_kind_name(desc->kind));
        printf("description: %s\n", desc->description);
        printf("ABI:         %u.%u\n", (unsigned)desc->abi_major, (unsigned)desc->abi_minor);
        printf("file:        %s\n", p->path);
        printf("reentrant:   %s\n", (desc->flags & LH_PLUGIN_REENTRANT) != 0 ? "yes" : "no");
        printf("callbacks:   ");
        print_callbacks(desc);
        print_webhook(p);
        print_event_types(desc);
        print_oauth_provider(desc);
        printf("\nsettings:\n");
        config_schema_describe(desc->config_schema, stdout);
        return EXIT_OK;
    }

    const struct plugin_refusal *refused = loader_find_refused(reg, name);
    if (refused != NULL) {
        /* diag_print takes a list; it only reads it */
        struct diag_list one = {.items = (struct diag *)&refused->diag, .count = 1};
        diag_print(&one, stderr);
        return EXIT_INVALID;
    }

    fprintf(stderr, "leadhubd plugins info: no plugin named \"%s\" on the plugin path (", name);
    print_path(stderr, dirs, count);
    fprintf(stderr, ")\n");
    if (reg->count == 0) {
        fprintf(stderr, "no plugins were found there\n");
    } else {
        fprintf(stderr, "available:");
        for (size_t i = 0; i < reg->count; i++) {
            fprintf(stderr, "%s %s", i > 0 ? "," : "", reg->plugins[i].name);
        }
        fprintf(stderr, "\n");
    }
    return EXIT_INVALID;
}

int cmd_plugins(int argc, char **argv)
{
    struct plugins_options opts = {0};
    char **owned_dirs = NULL;
    size_t owned_count = 0;
    struct plugin_registry reg = {0};
    char *const *dirs = NULL;
    size_t dir_count = 0;

    int rc = parse_options(argc, argv, &opts);
    if (rc != EXIT_OK) {
        if (rc == EXIT_USAGE) {
            fputs(opts.info ? info_usage : list_usage, stderr);
        }
        goto out;
    }
    if (opts.help) {
        fputs(opts.info ? info_usage : list_usage, stdout);
        goto out;
    }

    rc = resolve_plugin_path(&opts, &owned_dirs, &owned_count, &dirs, &dir_count);
    if (rc != EXIT_OK) {
        goto out;
    }
    loader_scan(&reg, dirs, dir_count);
    if (opts.info) {
        rc = plugin_info(&reg, opts.info_name, dirs, dir_count);
    } else {
        list_plugins(&reg, dirs, dir_count);
        rc = EXIT_OK;
    }

out:
    loader_free(&reg);
    for (size_t i = 0; i < owned_count; i++) {
        free(owned_dirs[i]);
    }
    free(owned_dirs);
    free(opts.dirs);
    return rc;
}
