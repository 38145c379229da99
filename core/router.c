/*
 * router.c - routes: parsed and checked with the same schema engine as the rest of the
 * config (config_object_validate), then matched against events with fnmatch(3) globs and
 * simple field conditions.
 */
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config_object.h"
#include "config_where.h"
#include "event.h"
#include "router.h"
#include "util.h"

#define NO_RANGE 0, 0

static const lh_config_field_t route_fields[] = {
    {CONFIG_FIELD_SIZE, "name", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "The route's name, [a-z0-9_-]+ and unique: deliveries record it, and "
     "`leadhubd replay --route NAME` uses it."},
    {CONFIG_FIELD_SIZE, "from", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "A source instance's name, or a glob of names such as \"linkedin*\" or \"*\"."},
    {CONFIG_FIELD_SIZE, "types", LH_CONFIG_LIST, LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN, NULL, 1, 0,
     NULL, "Event type globs, such as lead.* or meeting.scheduled."},
    {CONFIG_FIELD_SIZE, "where", LH_CONFIG_JSON, 0, NULL, NO_RANGE, NULL,
     "Conditions on event fields, all of which must hold: "
     "{lead.email: {exists: true}, lead.company: {equals: Acme}}."},
    {CONFIG_FIELD_SIZE, "to", LH_CONFIG_LIST, LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN, NULL, 1, 0,
     NULL, "The sink instances that matching events are delivered to."},
    {CONFIG_FIELD_SIZE, "settle", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "0s", 0,
     3600000, NULL,
     "How long its deliveries wait before their first attempt, so that the events a provider "
     "sends together (a Stripe Checkout and its invoice) are all in the hub first, and the "
     "sink acts on the lead they resolve to together. 0 to 1h."},
    LH_FIELD_END,
};

static const char *const operators[] = {"exists", "equals", "not_equals", "in", "matches"};
static const char *const top_fields[] = {"type", "source",  "source_id", "occurred_at",
                                         "lead", "meeting", "data"};
static const char *const lead_fields[] = {
    "email", "first_name",   "last_name",   "company",      "title",
    "phone", "linkedin_url", "external_id", "external_ids", "attributes"};
static const char *const meeting_fields[] = {"external_id", "title",     "starts_at", "ends_at",
                                             "timezone",    "organizer", "location",  "online_url",
                                             "status",      "all_day"};

struct condition {
    char *field; /* "lead.company", for messages */
    char **path; /* its segments */
    size_t depth;
    int exists;     /* -1: not asked; 0: must be absent; 1: must be present */
    json_t *equals; /* owned or NULL */
    json_t *not_equals;
    json_t *in;    /* array */
    char *matches; /* glob, case-insensitive */
};

struct route {
    char *name;
    char *from;
    char **types;
    size_t type_count;
    struct condition *conditions;
    size_t condition_count;
    char **to;
    size_t to_count;
    int64_t settle_ms;
};

struct router {
    struct route *routes;
    size_t count;
    atomic_int references;
};

static bool in_list(const char *value, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(value, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void free_strings(char **strings, size_t count)
{
    for (size_t i = 0; strings != NULL && i < count; i++) {
        free(strings[i]);
    }
    free(strings);
}

static void condition_clear(struct condition *c)
{
    free(c->field);
    free_strings(c->path, c->depth);
    json_decref(c->equals);
    json_decref(c->not_equals);
    json_decref(c->in);
    free(c->matches);
}

static void route_clear(struct route *r)
{
    free(r->name);
    free(r->from);
    free_strings(r->types, r->type_count);
    for (size_t i = 0; i < r->condition_count; i++) {
        condition_clear(&r->conditions[i]);
    }
    free(r->conditions);
    free_strings(r->to, r->to_count);
}

static void router_destroy(struct router *router)
{
    for (size_t i = 0; i < router->count; i++) {
        route_clear(&router->routes[i]);
    }
    free(router->routes);
    free(router);
}

void router_free(struct router *router)
{
    router_release(router);
}

struct router *router_acquire(struct router *router)
{
    if (router != NULL) {
        atomic_fetch_add(&router->references, 1);
    }
    return router;
}

void router_release(struct router *router)
{
    if (router != NULL && atomic_fetch_sub(&router->references, 1) == 1) {
        router_destroy(router);
    }
}

size_t router_count(const struct router *router)
{
    return router != NULL ? router->count : 0;
}

long router_find(const struct router *router, const char *name)
{
    for (size_t i = 0; router != NULL && i < router->count; i++) {
        if (strcmp(router->routes[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

int64_t router_settle_ms(const struct router *router, const char *route)
{
    long i = router_find(router, route);
    return i >= 0 ? router->routes[i].settle_ms : 0;
}

/* A copy of a list of strings from a normalized LIST value. */
static char **copy_list(const json_t *list, size_t *count_out)
{
    size_t n = json_array_size(list);
    char **out = calloc(n + 1, sizeof(*out));
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(json_string_value(json_array_get(list, i)));
        if (out[i] == NULL) {
            free_strings(out, i);
            return NULL;
        }
    }
    *count_out = n;
    return out;
}

static bool glob_chars_valid(const char *glob, const char *extra)
{
    if (glob[0] == '\0') {
        return false;
    }
    for (const char *p = glob; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '*' || *p == '?' ||
              strchr(extra, *p) != NULL)) {
            return false;
        }
    }
    return true;
}

static bool has_glob(const char *text)
{
    return strpbrk(text, "*?[") != NULL;
}

/* Is `field` a path into the event model (docs/events.md)? */
static bool field_path_valid(char **path, size_t depth)
{
    if (depth == 0 || !in_list(path[0], top_fields, UTIL_ARRAY_LEN(top_fields))) {
        return false;
    }
    if (strcmp(path[0], "lead") == 0) {
        return depth == 1 || (in_list(path[1], lead_fields, UTIL_ARRAY_LEN(lead_fields)) &&
                              (depth == 2 || strcmp(path[1], "attributes") == 0 ||
                               (strcmp(path[1], "external_ids") == 0 && depth == 3)));
    }
    if (strcmp(path[0], "meeting") == 0) {
        return depth == 1 || (in_list(path[1], meeting_fields, UTIL_ARRAY_LEN(meeting_fields)) &&
                              (depth == 2 || (strcmp(path[1], "organizer") == 0 && depth == 3)));
    }
    return strcmp(path[0], "data") == 0 || depth == 1;
}

static char **split_path(const char *field, size_t *depth_out)
{
    size_t n = 1;
    for (const char *p = field; *p != '\0'; p++) {
        n += *p == '.';
    }
    char **path = calloc(n + 1, sizeof(*path));
    char *copy = strdup(field);
    if (path == NULL || copy == NULL) {
        free(path);
        free(copy);
        return NULL;
    }
    size_t i = 0;
    char *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); part != NULL && i < n;
         part = strtok_r(NULL, ".", &save)) {
        path[i++] = strdup(part);
    }
    free(copy);
    *depth_out = i;
    return path;
}

static void parse_condition(struct condition *c, const char *field, const json_t *spec,
                            const char *key, const struct config_where *where,
                            struct diag_list *diags)
{
    c->exists = -1;
    c->field = strdup(field);
    c->path = split_path(field, &c->depth);
    if (c->field == NULL || c->path == NULL) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
        return;
    }
    if (!field_path_valid(c->path, c->depth)) {
        config_where_error(diags, where, key, NULL,
                           "use an event field of docs/events.md: type, source, source_id, "
                           "occurred_at, lead.<field>, meeting.<field> or data.<anything>",
                           "\"%s\" is not a field of the event model", field);
        return;
    }
    if (!json_is_object(spec) || json_object_size(spec) == 0) {
        config_where_error(diags, where, key, NULL,
                           "write a mapping of operators: exists, equals, not_equals, in, matches",
                           "expected a mapping of conditions");
        return;
    }
    const char *op;
    json_t *value;
    json_object_foreach((json_t *)spec, op, value)
    {
        char *op_key = util_printf("%s.%s", key, op);
        if (!in_list(op, operators, UTIL_ARRAY_LEN(operators))) {
            config_where_error(diags, where, op_key, NULL,
                               "operators: exists, equals, not_equals, in, matches",
                               "unknown operator \"%s\"", op);
        } else if (strcmp(op, "exists") == 0) {
            if (!json_is_boolean(value)) {
                config_where_error(diags, where, op_key, NULL, "write true or false",
                                   "exists takes true or false");
            } else {
                c->exists = json_is_true(value);
            }
        } else if (strcmp(op, "in") == 0) {
            if (!json_is_array(value) || json_array_size(value) == 0) {
                config_where_error(diags, where, op_key, NULL, "write a list of values",
                                   "in takes a non-empty list");
            } else {
                c->in = json_incref(value);
            }
        } else if (strcmp(op, "matches") == 0) {
            if (!json_is_string(value)) {
                config_where_error(diags, where, op_key, NULL,
                                   "write a glob such as \"*@acme.com\"",
                                   "matches takes a glob string");
            } else {
                c->matches = strdup(json_string_value(value));
            }
        } else if (json_is_object(value) || json_is_array(value)) {
            config_where_error(diags, where, op_key, NULL,
                               "compare with a string, number or boolean",
                               "%s takes a single value", op);
        } else if (strcmp(op, "equals") == 0) {
            c->equals = json_incref(value);
        } else {
            c->not_equals = json_incref(value);
        }
        free(op_key);
    }
}

/* Scorers are sources too: of the lead.scored events their crossings emit. */
static bool scorer_named(const struct config *config, const char *name)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(config->scoring, i, entry)
    {
        const char *scorer = json_string_value(json_object_get(entry, "name"));
        if (scorer != NULL && strcmp(scorer, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool scorer_glob_matches(const struct config *config, const char *glob)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(config->scoring, i, entry)
    {
        const char *scorer = json_string_value(json_object_get(entry, "name"));
        if (scorer != NULL && fnmatch(glob, scorer, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* The instance of the config named `name`, or NULL. */
static const struct config_instance *find_instance(const struct config *config, const char *name)
{
    return config_instance_find(config, name);
}

/* The kind bits of an instance's plugin, or 0 when its plugin is unknown (reported by the
 * binding already). */
static uint32_t instance_kind(const struct plugin_registry *plugins,
                              const struct config_instance *instance)
{
    const struct plugin *plugin = loader_find(plugins, instance->plugin);
    return plugin != NULL ? plugin->desc->kind : 0;
}

/* Does a source instance's plugin declare that it may emit a type matching `glob`?
 * true when it declares nothing (any type) or its plugin is unknown. */
static bool source_may_emit(const struct plugin_registry *plugins,
                            const struct config_instance *instance, const char *glob)
{
    const struct plugin *plugin = loader_find(plugins, instance->plugin);
    if (plugin == NULL || plugin->desc->event_types == NULL) {
        return true;
    }
    for (const char *const *t = plugin->desc->event_types; *t != NULL; t++) {
        if (fnmatch(glob, *t, 0) == 0) {
            return true;
        }
    }
    return false;
}

static void check_from(const struct route *r, const struct config *config,
                       const struct plugin_registry *plugins, const char *prefix,
                       const struct config_where *where, struct diag_list *diags)
{
    char *key = util_printf("%s.from", prefix);
    if (!glob_chars_valid(r->from, "_-[]!")) {
        config_where_error(diags, where, key, NULL,
                           "write an instance name, or a glob of them such as \"linkedin*\"",
                           "\"%s\" is not an instance name or glob", r->from);
    } else if (!has_glob(r->from)) {
        const struct config_instance *instance = find_instance(config, r->from);
        uint32_t kind = instance != NULL ? instance_kind(plugins, instance) : 0;
        if (instance == NULL && scorer_named(config, r->from)) {
            /* a scorer: its lead.scored events */
        } else if (instance == NULL) {
            /* An internal app's source (POST /v1/events) is legitimate, a typo is not;
             * neither can be told from here, so warn, in words that cover both. */
            diag_add(diags, DIAG_WARNING, where->file, config_where_line(where, key), key, NULL,
                     "name a connector instance of connectors_dir (its `name`), or the "
                     "`source` an internal app posts to /v1/events",
                     "no connector instance named \"%s\": the route carries only events "
                     "posted to /v1/events with that source",
                     r->from);
        } else if (kind != 0 && (kind & LH_KIND_SOURCE) == 0) {
            config_where_error(diags, where, key, NULL, "route from a source instance",
                               "\"%s\" is not a source (its plugin %s is a %s)", r->from,
                               instance->plugin, loader_kind_name(kind));
        } else if (!instance->enabled) {
            diag_add(diags, DIAG_WARNING, where->file, config_where_line(where, key), key, NULL,
                     NULL, "\"%s\" is disabled: this route carries nothing until it is enabled",
                     r->from);
        }
    } else {
        bool any = false;
        for (size_t i = 0; i < config->instance_count; i++) {
            const struct config_instance *instance = &config->instances[i];
            any |= instance->enabled && fnmatch(r->from, instance->name, 0) == 0 &&
                   (instance_kind(plugins, instance) & LH_KIND_SOURCE) != 0;
        }
        if (!any && !scorer_glob_matches(config, r->from)) {
            diag_add(diags, DIAG_WARNING, where->file, config_where_line(where, key), key, NULL,
                     NULL, "\"%s\" matches no enabled source instance", r->from);
        }
    }
    free(key);
}

static void check_types(const struct route *r, const struct config *config,
                        const struct plugin_registry *plugins, const char *prefix,
                        const struct config_where *where, struct diag_list *diags)
{
    for (size_t t = 0; t < r->type_count; t++) {
        char *full = util_printf("%s.types[%zu]", prefix, t);
        if (!glob_chars_valid(r->types[t], "._")) {
            config_where_error(diags, where, full, NULL,
                               "write an event type or glob: lead.*, meeting.scheduled, *",
                               "\"%s\" is not an event type glob", r->types[t]);
            free(full);
            continue;
        }
        if (!has_glob(r->types[t]) && !event_type_known(r->types[t])) {
            config_where_error(diags, where, full, NULL,
                               "use a type of docs/events.md, or custom.<name>",
                               "\"%s\" is not an event type", r->types[t]);
            free(full);
            continue;
        }
        bool emitted = false, any_source = false;
        if (scorer_glob_matches(config, r->from)) {
            any_source = true;
            emitted |= fnmatch(r->types[t], "lead.scored", 0) == 0;
        }
        for (size_t i = 0; i < config->instance_count; i++) {
            const struct config_instance *instance = &config->instances[i];
            if (!instance->enabled || fnmatch(r->from, instance->name, 0) != 0 ||
                (instance_kind(plugins, instance) & LH_KIND_SOURCE) == 0) {
                continue;
            }
            any_source = true;
            emitted |= source_may_emit(plugins, instance, r->types[t]);
        }
        if (any_source && !emitted) {
            diag_add(diags, DIAG_WARNING, where->file, config_where_line(where, full), full, NULL,
                     "`leadhubd plugins info PLUGIN` lists the types a plugin emits",
                     "no source of this route emits an event of type \"%s\"", r->types[t]);
        }
        free(full);
    }
}

static void check_to(const struct route *r, const struct config *config,
                     const struct plugin_registry *plugins, const char *prefix,
                     const struct config_where *where, struct diag_list *diags)
{
    for (size_t t = 0; t < r->to_count; t++) {
        char *key = util_printf("%s.to[%zu]", prefix, t);
        const struct config_instance *instance = find_instance(config, r->to[t]);
        uint32_t kind = instance != NULL ? instance_kind(plugins, instance) : 0;
        if (instance == NULL) {
            config_where_error(diags, where, key, NULL,
                               "name a sink connector instance of connectors_dir",
                               "no connector instance named \"%s\"", r->to[t]);
        } else if (kind != 0 && (kind & LH_KIND_SINK) == 0) {
            config_where_error(diags, where, key, NULL, "deliver to a sink instance",
                               "\"%s\" is not a sink (its plugin %s is a %s)", r->to[t],
                               instance->plugin, loader_kind_name(kind));
        } else if (!instance->enabled) {
            diag_add(diags, DIAG_WARNING, where->file, config_where_line(where, key), key, NULL,
                     NULL, "\"%s\" is disabled: its deliveries wait until it is enabled", r->to[t]);
        }
        for (size_t u = 0; u < t; u++) {
            if (strcmp(r->to[u], r->to[t]) == 0) {
                config_where_error(diags, where, key, NULL, NULL, "\"%s\" is listed twice",
                                   r->to[t]);
            }
        }
        free(key);
    }
}

static void parse_route(struct route *r, const json_t *item, size_t index,
                        const struct config *config, const struct plugin_registry *plugins,
                        const struct config_where *where, struct diag_list *diags)
{
    char *prefix = config_key_index("routes", index);
    json_t *values = config_object_validate(item, route_fields, prefix, where, diags);
    if (values == NULL) {
        free(prefix);
        return;
    }
    r->name = strdup(json_string_value(json_object_get(values, "name")));
    r->from = strdup(json_string_value(json_object_get(values, "from")));
    r->types = copy_list(json_object_get(values, "types"), &r->type_count);
    r->to = copy_list(json_object_get(values, "to"), &r->to_count);
    r->settle_ms = json_integer_value(json_object_get(values, "settle"));
    if (r->name == NULL || r->from == NULL || r->types == NULL || r->to == NULL) {
        config_where_error(diags, where, prefix, NULL, NULL, "out of memory");
        goto out;
    }
    char *name_key = util_printf("%s.name", prefix);
    if (!util_instance_name_valid(r->name)) {
        config_where_error(diags, where, name_key, NULL, "use [a-z0-9_-], at most 63 characters",
                           "\"%s\" is not a valid route name", r->name);
    }
    free(name_key);
    check_from(r, config, plugins, prefix, where, diags);
    check_types(r, config, plugins, prefix, where, diags);
    check_to(r, config, plugins, prefix, where, diags);

    const json_t *where_spec = json_object_get(values, "where");
    if (where_spec != NULL && !json_is_null(where_spec)) {
        char *where_key = util_printf("%s.where", prefix);
        if (!json_is_object(where_spec)) {
            config_where_error(
                diags, where, where_key, NULL, "write a mapping of field -> conditions",
                "expected a mapping, got %s", json_is_array(where_spec) ? "a list" : "a scalar");
        } else {
            r->conditions = calloc(json_object_size(where_spec) + 1, sizeof(*r->conditions));
            if (r->conditions == NULL) {
                config_where_error(diags, where, where_key, NULL, NULL, "out of memory");
                free(where_key);
                goto out;
            }
            const char *field;
            json_t *spec;
            json_object_foreach((json_t *)where_spec, field, spec)
            {
                char *key = util_printf("%s.%s", where_key, field);
                parse_condition(&r->conditions[r->condition_count++], field, spec, key, where,
                                diags);
                free(key);
            }
        }
        free(where_key);
    }
out:
    json_decref(values);
    free(prefix);
}

struct router *router_build(const struct config *config, const struct plugin_registry *plugins,
                            struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    struct config_where where = {.file = config->file, .lines = config->lines};
    struct router *router = calloc(1, sizeof(*router));
    if (router != NULL) {
        atomic_init(&router->references, 1);
    }
    const json_t *routes = config->routes;
    size_t n = json_array_size(routes);
    if (router == NULL || (router->routes = calloc(n + 1, sizeof(*router->routes))) == NULL) {
        diag_add(diags, DIAG_ERROR, config->file, 0, "routes", NULL, NULL, "out of memory");
        router_free(router);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct route *r = &router->routes[router->count++];
        parse_route(r, json_array_get(routes, i), i, config, plugins, &where, diags);
        for (size_t j = 0; r->name != NULL && j + 1 < router->count; j++) {
            if (router->routes[j].name != NULL && strcmp(router->routes[j].name, r->name) == 0) {
                char *key = util_printf("routes[%zu].name", i);
                config_where_error(diags, &where, key, NULL, "give every route its own name",
                                   "route name \"%s\" is used twice", r->name);
                free(key);
            }
        }
    }
    if (diag_error_count(diags) > errors_before) {
        router_free(router);
        return NULL;
    }
    return router;
}

/* --- matching ----------------------------------------------------------------------------- */

static const json_t *lookup(const json_t *event, char **path, size_t depth)
{
    const json_t *value = event;
    for (size_t i = 0; i < depth && value != NULL; i++) {
        value = json_object_get(value, path[i]);
    }
    return value != NULL && !json_is_null(value) ? value : NULL;
}

static bool value_equals(const json_t *value, const json_t *expected)
{
    if (value == NULL) {
        return false;
    }
    /* numbers compare by value whether written 5 or 5.0 */
    if (json_is_number(value) && json_is_number(expected)) {
        return json_number_value(value) == json_number_value(expected);
    }
    return json_equal((json_t *)value, (json_t *)expected) != 0;
}

static bool condition_holds(const struct condition *c, const json_t *event)
{
    const json_t *value = lookup(event, c->path, c->depth);
    if (c->exists >= 0 && (value != NULL) != (c->exists == 1)) {
        return false;
    }
    if (c->equals != NULL && !value_equals(value, c->equals)) {
        return false;
    }
    if (c->not_equals != NULL && value_equals(value, c->not_equals)) {
        return false;
    }
    if (c->in != NULL) {
        bool found = false;
        size_t i;
        const json_t *item;
        json_array_foreach(c->in, i, item)
        {
            found |= value_equals(value, item);
        }
        if (!found) {
            return false;
        }
    }
    if (c->matches != NULL &&
        (!json_is_string(value) || fnmatch(c->matches, json_string_value(value), FNM_CASEFOLD))) {
        return false;
    }
    return true;
}

static bool route_matches(const struct route *r, const json_t *event)
{
    const char *source = json_string_value(json_object_get(event, "source"));
    const char *type = json_string_value(json_object_get(event, "type"));
    if (source == NULL || type == NULL || fnmatch(r->from, source, 0) != 0) {
        return false;
    }
    bool typed = false;
    for (size_t t = 0; t < r->type_count && !typed; t++) {
        typed = fnmatch(r->types[t], type, 0) == 0;
    }
    if (!typed) {
        return false;
    }
    for (size_t c = 0; c < r->condition_count; c++) {
        if (!condition_holds(&r->conditions[c], event)) {
            return false;
        }
    }
    return true;
}

size_t router_match(const struct router *router, const json_t *event, long only_route,
                    router_emit_fn emit, void *arg)
{
    if (router == NULL) {
        return 0;
    }
    /* its source stored it to be seen, not sent (a LinkedIn test lead): no route takes it */
    if (json_is_false(json_object_get(json_object_get(event, "data"), "routable"))) {
        return 0;
    }
    /* destinations already emitted for this event: few, so a small array will do */
    const char *sent[64];
    size_t sent_count = 0;
    for (size_t i = 0; i < router->count; i++) {
        const struct route *r = &router->routes[i];
        if ((only_route >= 0 && (size_t)only_route != i) || !route_matches(r, event)) {
            continue;
        }
        for (size_t t = 0; t < r->to_count; t++) {
            bool seen = false;
            for (size_t s = 0; s < sent_count && !seen; s++) {
                seen = strcmp(sent[s], r->to[t]) == 0;
            }
            if (seen || sent_count == UTIL_ARRAY_LEN(sent)) {
                continue;
            }
            sent[sent_count++] = r->to[t];
            emit(r->name, r->to[t], arg);
        }
    }
    return sent_count;
}
