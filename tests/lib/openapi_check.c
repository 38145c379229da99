/* openapi_check.c - a JSON Schema subset checker for docs/openapi.yaml (openapi_check.h). */
#include "openapi_check.h"

#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config_yaml.h"
#include "diag.h"
#include "util.h"

struct openapi {
    json_t *doc;
};

/* Keywords that only annotate: nothing to check. */
static const char *const annotations[] = {"description", "title",   "default",  "example",
                                          "examples",    "summary", "readOnly", "writeOnly",
                                          "deprecated",  NULL};

struct openapi *openapi_load(const char *path, char **error)
{
    struct diag_list diags = {0};
    json_t *doc = NULL;
    *error = NULL;
    if (config_parse_file(path, &doc, NULL, &diags) != 0) {
        *error = diags.count > 0 ? diag_format_one(&diags.items[0])
                                 : util_printf("%s: cannot be read", path);
        diag_list_free(&diags);
        return NULL;
    }
    diag_list_free(&diags);
    struct openapi *api = calloc(1, sizeof(*api));
    if (api == NULL) {
        json_decref(doc);
        *error = strdup("out of memory");
        return NULL;
    }
    api->doc = doc;
    return api;
}

void openapi_free(struct openapi *api)
{
    if (api != NULL) {
        json_decref(api->doc);
        free(api);
    }
}

/* "#/components/schemas/Lead" -> the node, or NULL. */
static const json_t *resolve(const struct openapi *api, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0) {
        return NULL;
    }
    const json_t *node = api->doc;
    char *copy = strdup(ref + 2);
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part != NULL && node != NULL;
         part = strtok_r(NULL, "/", &save)) {
        node = json_object_get(node, part);
    }
    free(copy);
    return node;
}

/* Follows $ref chains of an object with nothing but $ref (responses, parameters). */
static const json_t *deref(const struct openapi *api, const json_t *node)
{
    for (int depth = 0; depth < 16 && json_is_string(json_object_get(node, "$ref")); depth++) {
        node = resolve(api, json_string_value(json_object_get(node, "$ref")));
    }
    return node;
}

static bool is_type(const json_t *value, const char *type)
{
    if (strcmp(type, "object") == 0) {
        return json_is_object(value);
    }
    if (strcmp(type, "array") == 0) {
        return json_is_array(value);
    }
    if (strcmp(type, "string") == 0) {
        return json_is_string(value);
    }
    if (strcmp(type, "boolean") == 0) {
        return json_is_boolean(value);
    }
    if (strcmp(type, "null") == 0) {
        return json_is_null(value);
    }
    if (strcmp(type, "number") == 0) {
        return json_is_number(value);
    }
    if (strcmp(type, "integer") == 0) {
        return json_is_integer(value) ||
               (json_is_real(value) &&
                json_real_value(value) == (double)(long long)json_real_value(value));
    }
    return false;
}

static bool type_matches(const json_t *value, const json_t *type)
{
    if (json_is_string(type)) {
        return is_type(value, json_string_value(type));
    }
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t)
    {
        if (is_type(value, json_string_value(t))) {
            return true;
        }
    }
    return false;
}

static bool in_enum(const json_t *value, const json_t *values)
{
    size_t i;
    const json_t *v;
    json_array_foreach(values, i, v)
    {
        if (json_equal(value, v)) {
            return true;
        }
    }
    return false;
}

static bool matches_pattern(const char *text, const char *pattern, bool *bad_pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        *bad_pattern = true;
        return false;
    }
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The property names a schema evaluates: its properties, those of its $ref and allOf. */
static void evaluated_names(const struct openapi *api, const json_t *schema, json_t *names,
                            int depth)
{
    if (schema == NULL || depth > 16) {
        return;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)json_object_get(schema, "properties"), key, value)
    {
        json_object_set_new(names, key, json_true());
    }
    const json_t *ref = json_object_get(schema, "$ref");
    if (json_is_string(ref)) {
        evaluated_names(api, resolve(api, json_string_value(ref)), names, depth + 1);
    }
    size_t i;
    json_array_foreach(json_object_get(schema, "allOf"), i, value)
    {
        evaluated_names(api, value, names, depth + 1);
    }
}

static int validate(const struct openapi *api, const json_t *schema, const json_t *value,
                    const char *where, struct strbuf *err, int depth);

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        strbuf_appendf(err, "%s: ", where[0] ? where : "(root)");                                  \
        strbuf_appendf(err, __VA_ARGS__);                                                          \
        return -1;                                                                                 \
    } while (0)

static int validate_object(const struct openapi *api, const json_t *schema, const json_t *value,
                           const char *where, struct strbuf *err, int depth)
{
    const json_t *properties = json_object_get(schema, "properties");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(schema, "required"), i, name)
    {
        if (json_object_get(value, json_string_value(name)) == NULL) {
            FAIL("required property \"%s\" is missing", json_string_value(name));
        }
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        char *path = util_printf("%s.%s", where, key);
        const json_t *sub = json_object_get(properties, key);
        int rc = 0;
        if (sub != NULL) {
            rc = validate(api, sub, member, path, err, depth + 1);
        } else if (json_is_false(additional)) {
            strbuf_appendf(err, "%s: property not in the schema", path);
            rc = -1;
        } else if (json_is_object(additional)) {
            rc = validate(api, additional, member, path, err, depth + 1);
        }
        free(path);
        if (rc != 0) {
            return -1;
        }
    }
    if (json_is_false(json_object_get(schema, "unevaluatedProperties"))) {
        json_t *names = json_object();
        evaluated_names(api, schema, names, 0);
        const char *stray = NULL;
        json_object_foreach((json_t *)value, key, member)
        {
            if (stray == NULL && json_object_get(names, key) == NULL) {
                stray = key;
            }
        }
        if (stray != NULL) {
            strbuf_appendf(err, "%s.%s: property not in the schema", where, stray);
            json_decref(names);
            return -1;
        }
        json_decref(names);
    }
    return 0;
}

static int validate_array(const struct openapi *api, const json_t *schema, const json_t *value,
                          const char *where, struct strbuf *err, int depth)
{
    const json_t *min = json_object_get(schema, "minItems");
    const json_t *max = json_object_get(schema, "maxItems");
    if (min != NULL && json_array_size(value) < (size_t)json_integer_value(min)) {
        FAIL("%zu items, fewer than %lld", json_array_size(value),
             (long long)json_integer_value(min));
    }
    if (max != NULL && json_array_size(value) > (size_t)json_integer_value(max)) {
        FAIL("%zu items, more than %lld", json_array_size(value),
             (long long)json_integer_value(max));
    }
    const json_t *items = json_object_get(schema, "items");
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        if (items == NULL) {
            break;
        }
        char *path = util_printf("%s[%zu]", where, i);
        int rc = validate(api, items, item, path, err, depth + 1);
        free(path);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int validate_scalar(const json_t *schema, const json_t *value, const char *where,
                           struct strbuf *err)
{
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        size_t len = json_string_length(value);
        const json_t *min = json_object_get(schema, "minLength");
        const json_t *max = json_object_get(schema, "maxLength");
        if (min != NULL && len < (size_t)json_integer_value(min)) {
            FAIL("shorter than %lld", (long long)json_integer_value(min));
        }
        if (max != NULL && len > (size_t)json_integer_value(max)) {
            FAIL("longer than %lld", (long long)json_integer_value(max));
        }
        const json_t *pattern = json_object_get(schema, "pattern");
        bool bad_pattern = false;
        if (pattern != NULL && !matches_pattern(text, json_string_value(pattern), &bad_pattern)) {
            FAIL("\"%.80s\" does not match %s%s", text, json_string_value(pattern),
                 bad_pattern ? " (a pattern this checker cannot compile)" : "");
        }
        const json_t *format = json_object_get(schema, "format");
        int64_t ms;
        if (json_is_string(format) && strcmp(json_string_value(format), "date-time") == 0 &&
            (strlen(text) < 11 || text[10] != 'T' || util_parse_rfc3339(text, &ms) != 0)) {
            FAIL("\"%.80s\" is not an RFC 3339 date-time", text);
        }
    }
    if (json_is_number(value)) {
        /* jansson keeps integers apart from reals: compare both as doubles */
        double number = json_number_value(value);
        const json_t *min = json_object_get(schema, "minimum");
        const json_t *max = json_object_get(schema, "maximum");
        if (min != NULL && number < json_number_value(min)) {
            FAIL("%g is below the minimum %g", number, json_number_value(min));
        }
        if (max != NULL && number > json_number_value(max)) {
            FAIL("%g is above the maximum %g", number, json_number_value(max));
        }
    }
    return 0;
}

static bool known_keyword(const char *key)
{
    static const char *const keywords[] = {"$ref",
                                           "type",
                                           "enum",
                                           "const",
                                           "properties",
                                           "required",
                                           "additionalProperties",
                                           "unevaluatedProperties",
                                           "items",
                                           "minItems",
                                           "maxItems",
                                           "minLength",
                                           "maxLength",
                                           "minimum",
                                           "maximum",
                                           "pattern",
                                           "format",
                                           "allOf",
                                           "anyOf",
                                           "oneOf",
                                           NULL};
    for (const char *const *k = keywords; *k != NULL; k++) {
        if (strcmp(*k, key) == 0) {
            return true;
        }
    }
    for (const char *const *k = annotations; *k != NULL; k++) {
        if (strcmp(*k, key) == 0) {
            return true;
        }
    }
    return false;
}

/* How many of the alternatives `value` satisfies; the last failure's reason in err. */
static size_t count_passing(const struct openapi *api, const json_t *alternatives,
                            const json_t *value, const char *where, struct strbuf *err, int depth)
{
    size_t passing = 0;
    size_t i;
    const json_t *alternative;
    json_array_foreach(alternatives, i, alternative)
    {
        struct strbuf reason = {0};
        if (validate(api, alternative, value, where, &reason, depth + 1) == 0) {
            passing++;
        } else {
            strbuf_free(err);
            strbuf_append(err, strbuf_value(&reason));
        }
        strbuf_free(&reason);
    }
    return passing;
}

static int validate(const struct openapi *api, const json_t *schema, const json_t *value,
                    const char *where, struct strbuf *err, int depth)
{
    if (depth > 64) {
        FAIL("the schema nests too deeply");
    }
    if (!json_is_object(schema)) {
        FAIL("the document's schema here is not an object");
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)schema, key, member)
    {
        if (!known_keyword(key)) {
            FAIL("the schema uses \"%s\", which this checker does not understand", key);
        }
    }
    const json_t *ref = json_object_get(schema, "$ref");
    if (json_is_string(ref)) {
        const json_t *target = resolve(api, json_string_value(ref));
        if (target == NULL) {
            FAIL("$ref %s resolves to nothing", json_string_value(ref));
        }
        if (validate(api, target, value, where, err, depth + 1) != 0) {
            return -1;
        }
    }
    const json_t *type = json_object_get(schema, "type");
    if (type != NULL && !type_matches(value, type)) {
        char *text = json_dumps(type, JSON_ENCODE_ANY | JSON_COMPACT);
        char *got = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        strbuf_appendf(err, "%s: expected type %s, got %.120s", where[0] ? where : "(root)", text,
                       got);
        free(text);
        free(got);
        return -1;
    }
    const json_t *values = json_object_get(schema, "enum");
    if (values != NULL && !in_enum(value, values)) {
        char *got = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        strbuf_appendf(err, "%s: %.120s is not one of the enum", where[0] ? where : "(root)", got);
        free(got);
        return -1;
    }
    const json_t *constant = json_object_get(schema, "const");
    if (constant != NULL && !json_equal(value, constant)) {
        FAIL("not the constant the schema wants");
    }
    size_t i;
    json_array_foreach(json_object_get(schema, "allOf"), i, member)
    {
        if (validate(api, member, value, where, err, depth + 1) != 0) {
            return -1;
        }
    }
    const json_t *any = json_object_get(schema, "anyOf");
    if (any != NULL && count_passing(api, any, value, where, err, depth) == 0) {
        return -1;
    }
    const json_t *one = json_object_get(schema, "oneOf");
    if (one != NULL) {
        size_t passing = count_passing(api, one, value, where, err, depth);
        if (passing != 1) {
            if (passing > 1) {
                strbuf_free(err);
                FAIL("matches %zu of oneOf's alternatives, not exactly one", passing);
            }
            return -1;
        }
        strbuf_free(err);
    }
    if (json_is_object(value)) {
        return validate_object(api, schema, value, where, err, depth);
    }
    if (json_is_array(value)) {
        return validate_array(api, schema, value, where, err, depth);
    }
    return validate_scalar(schema, value, where, err);
}

/* The path item whose template matches `path` best (most literal segments), or NULL. */
static const json_t *find_path(const struct openapi *api, const char *path,
                               const char **template_out)
{
    const json_t *paths = json_object_get(api->doc, "paths");
    const json_t *best = NULL;
    int best_literals = -1;
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)paths, key, item)
    {
        const char *t = key;
        const char *p = path;
        int literals = 0;
        bool ok = true;
        while (ok && *t != '\0' && *p != '\0') {
            /* both are at a '/' */
            if (*t != '/' || *p != '/') {
                ok = false;
                break;
            }
            t++;
            p++;
            size_t tlen = strcspn(t, "/");
            size_t plen = strcspn(p, "/");
            if (tlen > 1 && t[0] == '{' && t[tlen - 1] == '}') {
                ok = plen > 0;
            } else {
                ok = tlen == plen && strncmp(t, p, tlen) == 0;
                literals++;
            }
            t += tlen;
            p += plen;
        }
        if (ok && *t == '\0' && *p == '\0' && literals > best_literals) {
            best = item;
            best_literals = literals;
            *template_out = key;
        }
    }
    return best;
}

static bool parameter_declared(const struct openapi *api, const json_t *operation, const char *name)
{
    size_t i;
    const json_t *parameter;
    json_array_foreach(json_object_get(operation, "parameters"), i, parameter)
    {
        parameter = deref(api, parameter);
        const char *in = json_string_value(json_object_get(parameter, "in"));
        const char *pname = json_string_value(json_object_get(parameter, "name"));
        if (in != NULL && pname != NULL && strcmp(in, "query") == 0 && strcmp(pname, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Every query parameter of a successful request must be documented. */
static char *check_query(const struct openapi *api, const json_t *operation, const char *query,
                         const char *what)
{
    char *copy = strdup(query);
    char *save = NULL;
    char *problem = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair != NULL && problem == NULL;
         pair = strtok_r(NULL, "&", &save)) {
        pair[strcspn(pair, "=")] = '\0';
        if (!parameter_declared(api, operation, pair)) {
            problem = util_printf("%s: query parameter \"%s\" is not documented", what, pair);
        }
    }
    free(copy);
    return problem;
}

char *openapi_check_response(const struct openapi *api, const char *method, const char *url,
                             long status, const char *body)
{
    char *path = strdup(url);
    char *query = strchr(path, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    char lower[16];
    size_t n = 0;
    for (; method[n] != '\0' && n + 1 < sizeof(lower); n++) {
        lower[n] = (char)(method[n] >= 'A' && method[n] <= 'Z' ? method[n] + 32 : method[n]);
    }
    lower[n] = '\0';
    char *what = util_printf("%s %s -> %ld", method, url, status);
    char *problem = NULL;
    const char *template = NULL;
    const json_t *item = find_path(api, path, &template);
    const json_t *operation = json_object_get(item, lower);
    const json_t *response = NULL;
    char code[8];
    snprintf(code, sizeof(code), "%ld", status);
    if (item == NULL) {
        problem = util_printf("%s: no path of the document matches", what);
    } else if (operation == NULL && status != 405 && status != 401) {
        problem = util_printf("%s: %s has no %s operation", what, template, method);
    } else if (operation == NULL) {
        /* 401 and 405 come before the method is known to exist: any operation of the path
         * documents them */
        const char *m;
        const json_t *op;
        json_object_foreach((json_t *)item, m, op)
        {
            if (response == NULL) {
                operation = op;
                response = deref(api, json_object_get(json_object_get(op, "responses"), code));
            }
        }
    } else {
        response = deref(api, json_object_get(json_object_get(operation, "responses"), code));
        if (response == NULL) {
            response =
                deref(api, json_object_get(json_object_get(operation, "responses"), "default"));
        }
    }
    if (problem == NULL && response == NULL) {
        problem = util_printf("%s: the status is not documented for %s", what,
                              template != NULL ? template : path);
    }
    if (problem == NULL && status < 300 && query != NULL && *query != '\0') {
        problem = check_query(api, operation, query, what);
    }
    if (problem == NULL) {
        const json_t *schema = json_object_get(
            json_object_get(json_object_get(response, "content"), "application/json"), "schema");
        json_error_t jerr;
        json_t *value =
            body != NULL && body[0] != '\0' ? json_loads(body, JSON_DECODE_ANY, &jerr) : NULL;
        struct strbuf err = {0};
        if (schema == NULL) {
            if (body != NULL && body[0] != '\0') {
                problem = util_printf("%s: a body came, the document declares none", what);
            }
        } else if (value == NULL) {
            problem = util_printf("%s: the body is not JSON: %.200s", what,
                                  body != NULL ? body : "(none)");
        } else if (validate(api, schema, value, "", &err, 0) != 0) {
            problem = util_printf("%s: %s\nbody: %.2000s", what, strbuf_value(&err), body);
        }
        strbuf_free(&err);
        json_decref(value);
    }
    free(what);
    free(path);
    return problem;
}

char *openapi_check_schema(const struct openapi *api, const char *name, const char *json_text)
{
    char *ref = util_printf("#/components/schemas/%s", name);
    const json_t *schema = resolve(api, ref);
    free(ref);
    if (schema == NULL) {
        return util_printf("no schema %s", name);
    }
    json_t *value = json_loads(json_text, JSON_DECODE_ANY, NULL);
    if (value == NULL) {
        return util_printf("not JSON: %.200s", json_text);
    }
    struct strbuf err = {0};
    char *problem = NULL;
    if (validate(api, schema, value, "", &err, 0) != 0) {
        problem = util_printf("%s: %s", name, strbuf_value(&err));
    }
    strbuf_free(&err);
    json_decref(value);
    return problem;
}

/* --- the document itself ------------------------------------------------------------- */

struct doc_check {
    const struct openapi *api;
    struct strbuf problems;
    json_t *referenced; /* "$ref" target -> true */
};

static void doc_problem(struct doc_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void doc_problem(struct doc_check *c, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    if (c->problems.len > 0) {
        strbuf_append(&c->problems, "\n");
    }
    strbuf_appendv(&c->problems, fmt, args);
    va_end(args);
}

/* Every "$ref" anywhere must resolve in the document (only local references are used). */
static void check_refs(struct doc_check *c, const json_t *node, const char *where, int depth)
{
    if (depth > 64) {
        doc_problem(c, "%s: nests too deeply", where);
        return;
    }
    if (json_is_object(node)) {
        const json_t *ref = json_object_get(node, "$ref");
        if (ref != NULL) {
            if (!json_is_string(ref) || resolve(c->api, json_string_value(ref)) == NULL) {
                doc_problem(c, "%s: $ref %s resolves to nothing", where,
                            json_is_string(ref) ? json_string_value(ref) : "(not a string)");
            } else {
                json_object_set_new(c->referenced, json_string_value(ref), json_true());
            }
        }
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)node, key, member)
        {
            char *path = util_printf("%s/%s", where, key);
            check_refs(c, member, path, depth + 1);
            free(path);
        }
    } else if (json_is_array(node)) {
        size_t i;
        const json_t *item;
        json_array_foreach(node, i, item)
        {
            char *path = util_printf("%s/%zu", where, i);
            check_refs(c, item, path, depth + 1);
            free(path);
        }
    }
}

/* A schema uses only what the checker understands, all the way down. */
static void check_schema(struct doc_check *c, const json_t *schema, const char *where, int depth)
{
    if (depth > 64 || schema == NULL) {
        return;
    }
    if (!json_is_object(schema)) {
        doc_problem(c, "%s: a schema must be an object", where);
        return;
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)schema, key, member)
    {
        if (!known_keyword(key)) {
            doc_problem(c, "%s: \"%s\" is not a keyword the checker understands", where, key);
        }
    }
    json_object_foreach((json_t *)json_object_get(schema, "properties"), key, member)
    {
        char *path = util_printf("%s/properties/%s", where, key);
        check_schema(c, member, path, depth + 1);
        free(path);
    }
    static const char *const single[] = {"items", "additionalProperties"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(single); i++) {
        member = json_object_get(schema, single[i]);
        if (json_is_object(member)) {
            char *path = util_printf("%s/%s", where, single[i]);
            check_schema(c, member, path, depth + 1);
            free(path);
        }
    }
    static const char *const lists[] = {"allOf", "anyOf", "oneOf"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(lists); i++) {
        size_t n;
        json_array_foreach(json_object_get(schema, lists[i]), n, member)
        {
            char *path = util_printf("%s/%s/%zu", where, lists[i], n);
            check_schema(c, member, path, depth + 1);
            free(path);
        }
    }
    const json_t *required = json_object_get(schema, "required");
    const json_t *properties = json_object_get(schema, "properties");
    size_t i;
    const json_t *name;
    json_array_foreach(required, i, name)
    {
        /* closed to other properties: a required one it does not describe never validates */
        if (properties != NULL && json_object_get(properties, json_string_value(name)) == NULL &&
            json_is_false(json_object_get(schema, "additionalProperties"))) {
            doc_problem(c, "%s: required \"%s\" is not among its properties", where,
                        json_string_value(name));
        }
    }
}

/* The schemas of a content map ({"application/json": {"schema": ...}}). */
static void check_content(struct doc_check *c, const json_t *content, const char *where)
{
    const char *type;
    const json_t *media;
    json_object_foreach((json_t *)content, type, media)
    {
        char *path = util_printf("%s/content/%s/schema", where, type);
        const json_t *schema = json_object_get(media, "schema");
        if (schema == NULL) {
            doc_problem(c, "%s: no schema", path);
        }
        check_schema(c, schema, path, 0);
        free(path);
    }
}

static void check_parameter(struct doc_check *c, const json_t *parameter, const char *where,
                            json_t *path_parameters)
{
    parameter = deref(c->api, parameter);
    const char *name = json_string_value(json_object_get(parameter, "name"));
    const char *in = json_string_value(json_object_get(parameter, "in"));
    if (name == NULL || in == NULL) {
        doc_problem(c, "%s: a parameter needs a name and an \"in\"", where);
        return;
    }
    if (strcmp(in, "query") != 0 && strcmp(in, "path") != 0 && strcmp(in, "header") != 0 &&
        strcmp(in, "cookie") != 0) {
        doc_problem(c, "%s: parameter %s is \"in\" %s", where, name, in);
    }
    if (json_object_get(parameter, "schema") == NULL &&
        json_object_get(parameter, "content") == NULL) {
        doc_problem(c, "%s: parameter %s has no schema", where, name);
    }
    check_schema(c, json_object_get(parameter, "schema"), where, 0);
    if (strcmp(in, "path") == 0) {
        if (!json_is_true(json_object_get(parameter, "required"))) {
            doc_problem(c, "%s: path parameter %s must be required", where, name);
        }
        json_object_set_new(path_parameters, name, json_true());
    }
}

static bool is_method(const char *key)
{
    static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                          "options", "head", "patch", "trace"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(methods); i++) {
        if (strcmp(methods[i], key) == 0) {
            return true;
        }
    }
    return false;
}

static void check_operation(struct doc_check *c, const char *template, const char *method,
                            const json_t *path_item, const json_t *operation, json_t *operation_ids)
{
    char *where = util_printf("%s %s", method, template);
    const char *id = json_string_value(json_object_get(operation, "operationId"));
    if (id == NULL) {
        doc_problem(c, "%s: no operationId", where);
    } else if (json_object_get(operation_ids, id) != NULL) {
        doc_problem(c, "%s: operationId %s is used twice", where, id);
    } else {
        json_object_set_new(operation_ids, id, json_true());
    }
    /* the template's {names} and the path parameters declared must be the same */
    json_t *declared = json_object();
    size_t i;
    const json_t *parameter;
    json_array_foreach(json_object_get(path_item, "parameters"), i, parameter)
    {
        check_parameter(c, parameter, where, declared);
    }
    json_array_foreach(json_object_get(operation, "parameters"), i, parameter)
    {
        check_parameter(c, parameter, where, declared);
    }
    for (const char *p = strchr(template, '{'); p != NULL; p = strchr(p + 1, '{')) {
        size_t len = strcspn(p + 1, "}");
        char *name = strndup(p + 1, len);
        if (json_object_get(declared, name) == NULL) {
            doc_problem(c, "%s: {%s} is not a declared path parameter", where, name);
        }
        json_object_del(declared, name);
        free(name);
    }
    const char *name;
    const json_t *unused;
    json_object_foreach(declared, name, unused)
    {
        doc_problem(c, "%s: path parameter %s is not in the path", where, name);
    }
    json_decref(declared);
    const json_t *body = deref(c->api, json_object_get(operation, "requestBody"));
    if (body != NULL) {
        check_content(c, json_object_get(body, "content"), where);
    }
    const json_t *responses = json_object_get(operation, "responses");
    if (!json_is_object(responses) || json_object_size(responses) == 0) {
        doc_problem(c, "%s: no responses", where);
    }
    const char *code;
    const json_t *response;
    json_object_foreach((json_t *)responses, code, response)
    {
        bool valid = strcmp(code, "default") == 0 ||
                     (strlen(code) == 3 && code[0] >= '1' && code[0] <= '5' &&
                      ((code[1] >= '0' && code[1] <= '9' && code[2] >= '0' && code[2] <= '9') ||
                       strcmp(code + 1, "XX") == 0));
        if (!valid) {
            doc_problem(c, "%s: \"%s\" is not a status code", where, code);
        }
        response = deref(c->api, response);
        char *path = util_printf("%s -> %s", where, code);
        if (!json_is_string(json_object_get(response, "description"))) {
            doc_problem(c, "%s: a response needs a description", path);
        }
        check_content(c, json_object_get(response, "content"), path);
        free(path);
    }
    free(where);
}

char *openapi_check_document(const struct openapi *api)
{
    struct doc_check c = {api, {0}, json_object()};
    const json_t *doc = api->doc;
    const char *version = json_string_value(json_object_get(doc, "openapi"));
    if (version == NULL || strncmp(version, "3.1.", 4) != 0 ||
        strspn(version + 4, "0123456789") != strlen(version + 4) || version[4] == '\0') {
        doc_problem(&c, "openapi: expected 3.1.x, got %s", version != NULL ? version : "nothing");
    }
    const json_t *info = json_object_get(doc, "info");
    if (!json_is_string(json_object_get(info, "title")) ||
        !json_is_string(json_object_get(info, "version"))) {
        doc_problem(&c, "info: needs a title and a version");
    }
    check_refs(&c, doc, "#", 0);
    json_t *operation_ids = json_object();
    const char *template;
    const json_t *item;
    const json_t *paths = json_object_get(doc, "paths");
    if (!json_is_object(paths) || json_object_size(paths) == 0) {
        doc_problem(&c, "paths: none");
    }
    json_object_foreach((json_t *)paths, template, item)
    {
        if (template[0] != '/') {
            doc_problem(&c, "%s: a path starts with /", template);
        }
        const char *key;
        const json_t *operation;
        size_t operations = 0;
        json_object_foreach((json_t *)item, key, operation)
        {
            if (is_method(key)) {
                operations++;
                check_operation(&c, template, key, item, operation, operation_ids);
            } else if (strcmp(key, "parameters") != 0 && strcmp(key, "summary") != 0 &&
                       strcmp(key, "description") != 0) {
                doc_problem(&c, "%s: \"%s\" is not a method", template, key);
            }
        }
        if (operations == 0) {
            doc_problem(&c, "%s: no operation", template);
        }
    }
    json_decref(operation_ids);
    /* the schemes the requirements name exist */
    const json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    size_t i;
    const json_t *requirement;
    json_array_foreach(json_object_get(doc, "security"), i, requirement)
    {
        const char *scheme;
        const json_t *scopes;
        json_object_foreach((json_t *)requirement, scheme, scopes)
        {
            if (json_object_get(schemes, scheme) == NULL) {
                doc_problem(&c, "security: no scheme %s", scheme);
            }
        }
    }
    /* every component is used: a stale one misleads whoever reads the document */
    static const char *const kinds[] = {"schemas", "responses", "parameters"};
    for (size_t k = 0; k < UTIL_ARRAY_LEN(kinds); k++) {
        const char *name;
        const json_t *component;
        json_object_foreach(json_object_get(json_object_get(doc, "components"), kinds[k]), name,
                            component)
        {
            char *ref = util_printf("#/components/%s/%s", kinds[k], name);
            if (json_object_get(c.referenced, ref) == NULL) {
                doc_problem(&c, "%s is never used", ref);
            }
            if (strcmp(kinds[k], "schemas") == 0) {
                check_schema(&c, component, ref, 0);
            }
            free(ref);
        }
    }
    json_decref(c.referenced);
    return c.problems.len > 0 ? strbuf_take(&c.problems) : NULL;
}
