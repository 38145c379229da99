/*
 * cmd_connect.c - `leadhubd connect INSTANCE`: the OAuth consent of one instance, from a
 * terminal. The authorization-code flow with PKCE (oauth_consent.h): the command prints the
 * URL to open, receives the provider's redirect on a loopback listener (or, with
 * --no-browser, as the address pasted from the browser that could not load it), checks the
 * state, exchanges the code and stores the grant sealed in the database, where every
 * replica's host->oauth2_token() finds it.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "commands.h"
#include "config.h"
#include "connect_loopback.h"
#include "log.h"
#include "oauth_consent.h"
#include "oauth_provider.h"
#include "store_pg.h"
#include "util.h"

#define PASTE_MAX 8192

static const char connect_usage[] =
    "Usage: leadhubd connect INSTANCE [-c FILE] [--no-browser] [--port N] [--timeout DUR]\n"
    "\n"
    "Runs the OAuth consent of INSTANCE: prints the address to open in a browser, where you\n"
    "sign in to the provider and allow access. The provider sends the browser back to this\n"
    "command (http://127.0.0.1:PORT/callback), which exchanges the code and stores the grant\n"
    "in the database, sealed with secrets_key; the daemon's replicas use it within seconds.\n"
    "The instance file needs only the app's client id and secret.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "      --no-browser      the browser is on another machine: paste the address it is\n"
    "                        sent to (it does not load) when the command asks for it\n"
    "  -p, --port N          the port of the redirect address (default: a free one; use a\n"
    "                        fixed one when the provider wants the exact URL registered)\n"
    "  -t, --timeout DUR     how long to wait for the browser (default 10m)\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit codes: 0 the grant is stored; 1 invalid configuration, INSTANCE takes no OAuth\n"
    "consent, no secrets_key, the provider refused, or the redirect is not this consent's;\n"
    "2 bad command line; 3 the database or the token endpoint is unreachable, or the wait\n"
    "timed out.\n";

struct connect_options {
    const char *path;
    const char *name;
    bool no_browser;
    int port;
    int64_t timeout_ms;
};

static int parse_options(int argc, char **argv, struct connect_options *o)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"no-browser", no_argument, NULL, 'n'},
        {"port", required_argument, NULL, 'p'},   {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    *o = (struct connect_options){.path = commands_default_config(), .timeout_ms = 600000};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:p:t:h", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'c':
            o->path = optarg;
            break;
        case 'n':
            o->no_browser = true;
            break;
        case 'p':
            o->port = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || o->port < 1 || o->port > 65535) {
                fprintf(stderr, "leadhubd connect: --port takes a number from 1 to 65535\n");
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (util_parse_duration_ms(optarg, &o->timeout_ms) != 0 || o->timeout_ms <= 0) {
                fprintf(stderr, "leadhubd connect: --timeout takes a duration such as 5m\n");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(connect_usage, stdout);
            return EXIT_OK;
        default:
            fputs(connect_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "leadhubd connect: name one connector instance\n\n%s", connect_usage);
        return EXIT_USAGE;
    }
    o->name = argv[optind];
    return -1; /* go on */
}

/* The address pasted by the user: one line from stdin (NULL at end of input). */
static char *read_pasted(void)
{
    char *line = malloc(PASTE_MAX + 2);
    if (line == NULL || fgets(line, PASTE_MAX + 2, stdin) == NULL) {
        free(line);
        return NULL;
    }
    return line;
}

/* What was granted, for the operator: how long access lasts without another consent. */
static void describe_grant(const struct oauth_grant *grant, const char *name)
{
    char when[32];
    util_format_rfc3339(grant->expires_at_ms, when);
    if (grant->refresh_token == NULL) {
        printf("  The provider gave no refresh token: access ends with the access token at %s; "
               "run `leadhubd connect %s` again before then.\n",
               when, name);
    } else {
        printf("  A refresh token was granted: the daemon keeps access tokens fresh.\n");
    }
    if (grant->refresh_expires_at_ms > 0) {
        util_format_rfc3339(grant->refresh_expires_at_ms, when);
        long long days = (long long)((grant->refresh_expires_at_ms - util_now_ms()) / 86400000);
        printf("  The refresh token ends at %s (%lld days): consent again before then; "
               "GET /v1/connectors/%s shows the days left.\n",
               when, days, name);
    }
    if (grant->scope != NULL) {
        printf("  Scopes granted: %s\n", grant->scope);
    }
}

/* The redirect's query: from the loopback listener, or pasted. NULL: none (reason printed). */
static char *receive(const struct connect_options *o, struct connect_loopback *loopback,
                     const char *redirect_uri)
{
    if (loopback != NULL) {
        printf("Waiting for the provider to send the browser to %s (Ctrl-C to give up) ...\n",
               redirect_uri);
        fflush(stdout);
        char *query = connect_loopback_wait(loopback, o->timeout_ms);
        if (query == NULL) {
            fprintf(stderr, "leadhubd connect: no redirect came within the timeout\n");
        }
        return query;
    }
    printf("After you allow access, the browser is sent to %s?code=... and fails to load.\n"
           "Paste that whole address here and press Enter:\n",
           redirect_uri);
    fflush(stdout);
    char *line = read_pasted();
    if (line == NULL) {
        fprintf(stderr, "leadhubd connect: no address was pasted\n");
    }
    return line;
}

/* The consent itself, once everything it needs is at hand. */
static int run_consent(const struct connect_options *o, const struct config_instance *ci,
                       const struct plugin *plugin, json_t *settings,
                       const struct oauth_endpoints *endpoints, struct seal_keyring *keyring,
                       struct store *store)
{
    int rc = EXIT_RUNTIME;
    char *error = NULL;
    struct connect_loopback *loopback = NULL;
    struct oauth_consent consent = {0};
    struct oauth_redirect redirect = {0};
    struct oauth_grant grant = {0};
    char *query = NULL;
    char redirect_uri[64];
    int port = o->port > 0 ? o->port : 0;
    if (oauth_consent_begin(&consent, &error) != 0) {
        fprintf(stderr, "leadhubd connect: %s\n", error);
        goto out;
    }
    if (!o->no_browser) {
        loopback = connect_loopback_start(port, consent.state, &error);
        if (loopback == NULL) {
            fprintf(stderr, "leadhubd connect: %s; give another --port, or use --no-browser\n",
                    error);
            goto out;
        }
        port = connect_loopback_port(loopback);
    } else if (port == 0) {
        port = 8765; /* nothing listens: any port the provider takes for a loopback address */
    }
    snprintf(redirect_uri, sizeof(redirect_uri), "http://127.0.0.1:%d/callback", port);
    if (oauth_consent_address(&consent, endpoints, redirect_uri, &error) != 0) {
        fprintf(stderr, "leadhubd connect: %s\n", error);
        goto out;
    }
    printf("Consent for %s (plugin %s). Open this address in a browser%s, sign in to the "
           "provider and allow access:\n\n  %s\n\n",
           ci->name, plugin->name, o->no_browser ? "" : " on this machine",
           consent.authorization_url);
    query = receive(o, loopback, redirect_uri);
    if (query == NULL) {
        goto out;
    }
    rc = EXIT_INVALID;
    if (oauth_redirect_parse(query, &redirect) != 0) {
        fprintf(stderr, "leadhubd connect: that address carries no code (paste the whole "
                        "address the browser was sent to, from http:// on)\n");
        goto out;
    }
    if (!oauth_state_matches(consent.state, redirect.state)) {
        fprintf(stderr, "leadhubd connect: the address does not carry this consent's state: "
                        "it is not the answer to the URL above; start again\n");
        goto out;
    }
    if (redirect.error != NULL) {
        char *text = util_printf("the provider did not grant access: %s%s%s", redirect.error,
                                 redirect.error_description ? ": " : "",
                                 redirect.error_description ? redirect.error_description : "");
        fprintf(stderr, "leadhubd connect: %s\n", text ? text : "refused");
        if (loopback != NULL) {
            connect_loopback_answer(loopback, 400, "access not granted", text ? text : "");
        }
        free(text);
        goto out;
    }
    atomic_bool stopping;
    atomic_init(&stopping, false);
    struct host_services services = {.stopping = &stopping, .keyring = keyring};
    pthread_mutex_init(&services.store_mutex, NULL);
    services.metrics = metrics_create();
    struct instance *instance = instance_new(ci, plugin, json_incref(settings), &services);
    lh_status_t status = LH_RETRY;
    if (instance != NULL && services.metrics != NULL) {
        struct lh_ctx ctx;
        ctx_init(&ctx, instance, NULL);
        status = oauth_consent_complete(&ctx, endpoints, redirect.code, redirect_uri,
                                        consent.verifier, store, keyring, &grant, &error);
        ctx_clear(&ctx);
    } else {
        error = strdup("out of memory");
    }
    instance_release(instance);
    metrics_free(services.metrics);
    pthread_mutex_destroy(&services.store_mutex);
    if (status != LH_OK) {
        fprintf(stderr, "leadhubd connect: %s\n", error != NULL ? error : "failed");
        bool transient = status == LH_RETRY || status == LH_RETRY_AFTER;
        if (loopback != NULL) {
            connect_loopback_answer(loopback, transient ? 502 : 400, "consent failed",
                                    error ? error : "");
        }
        rc = transient ? EXIT_RUNTIME : EXIT_INVALID;
        goto out;
    }
    printf("%s is connected: the grant is stored in the database, sealed with key %s.\n", ci->name,
           seal_keyring_current_id(keyring));
    describe_grant(&grant, ci->name);
    if (loopback != NULL) {
        char *text = util_printf("%s is connected. You can close this window.", ci->name);
        connect_loopback_answer(loopback, 200, "connected", text ? text : "");
        free(text);
    }
    rc = EXIT_OK;
out:
    connect_loopback_stop(loopback);
    oauth_grant_clear(&grant);
    oauth_redirect_clear(&redirect);
    oauth_consent_clear(&consent);
    if (query != NULL) {
        explicit_bzero(query, strlen(query));
    }
    free(query);
    free(error);
    return rc;
}

int cmd_connect(int argc, char **argv)
{
    struct connect_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    struct diag_list diags = {0};
    struct config *config = NULL;
    struct plugin_registry plugins = {0};
    json_t **settings = NULL;
    struct store *store = NULL;
    struct oauth_endpoints endpoints = {0};
    char *error = NULL;
    rc = EXIT_INVALID;
    log_set_stream(stderr);
    if (config_load(o.path, &config, &diags) != 0) {
        goto out;
    }
    binding_load_plugins(config, &plugins, &diags);
    settings = calloc(config->instance_count + 1, sizeof(*settings));
    if (settings == NULL) {
        goto out;
    }
    binding_check_instances(config, &plugins, true, settings, &diags);
    if (diag_error_count(&diags) > 0) {
        goto out;
    }
    size_t index = config->instance_count;
    for (size_t i = 0; i < config->instance_count; i++) {
        index = strcmp(config->instances[i].name, o.name) == 0 ? i : index;
    }
    if (index == config->instance_count) {
        fprintf(stderr, "leadhubd connect: no instance named \"%s\" in %s\n", o.name, o.path);
        goto out;
    }
    const struct config_instance *ci = &config->instances[index];
    const struct plugin *plugin = loader_find(&plugins, ci->plugin);
    const lh_oauth_provider_t *provider = plugin != NULL ? oauth_provider_of(plugin->desc) : NULL;
    if (provider == NULL) {
        fprintf(stderr,
                "leadhubd connect: instance \"%s\" takes no OAuth consent: its plugin %s "
                "declares no OAuth provider\n",
                o.name, ci->plugin);
        goto out;
    }
    if (oauth_provider_resolve(provider, settings[index], &endpoints, &error) != 0) {
        fprintf(stderr, "leadhubd connect: %s: %s\n  in %s\n", o.name, error, ci->file);
        goto out;
    }
    if (config->keyring == NULL) {
        fprintf(stderr, "leadhubd connect: no secrets_key is configured, so the grant could not "
                        "be stored\n  hint: " SEAL_KEY_HINT "\n");
        goto out;
    }
    store = store_open(config->database_url, &error);
    if (store == NULL) {
        char *shown = store_redact_url(config->database_url);
        fprintf(stderr, "leadhubd connect: cannot connect to %s: %s\n", shown ? shown : "",
                error ? error : "?");
        free(shown);
        rc = EXIT_RUNTIME;
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run_consent(&o, ci, plugin, settings[index], &endpoints, config->keyring, store);
    curl_global_cleanup();
out:
    if (diag_error_count(&diags) > 0) {
        diag_print(&diags, stderr);
    }
    diag_list_free(&diags);
    oauth_endpoints_clear(&endpoints);
    store_close(store);
    for (size_t i = 0; settings != NULL && i < config->instance_count; i++) {
        json_decref(settings[i]);
    }
    free(settings);
    free(error);
    loader_free(&plugins);
    config_free(config);
    return rc;
}
