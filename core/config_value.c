/* config_value.c - normalize one value by its field's type; see config_value.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_ref.h"
#include "config_suggest.h"
#include "config_value.h"
#include "config_yaml.h"
#include "util.h"

#define VALUE_SHOW_MAX 60 /* longer written values are cut in messages */

#define HINT_DURATION_UNIT "write it with a unit, e.g. 30s"
#define HINT_DURATION      "a number and a unit (ms, s, m, h, d), e.g. 250ms, 30s, 5m or 1h30m"
#define HINT_SECRET        "write ${ENV_VAR} or ${file:/run/secrets/NAME}"

const char *config_value_kind(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null (an empty value)";
    }
}

/* The value as shown in messages: a quoted string (cut), a number, or its kind. Never
 * called on a secret. NEW string, NULL when out of memory. */
static char *show(const json_t *value)
{
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        if (strlen(text) > VALUE_SHOW_MAX) {
            return util_printf("\"%.*s...\"", VALUE_SHOW_MAX, text);
        }
        return util_printf("\"%s\"", text);
    }
    if (json_is_integer(value)) {
        return util_printf("%lld", (long long)json_integer_value(value));
    }
    if (json_is_real(value)) {
        return util_printf("%g", json_real_value(value));
    }
    if (json_is_boolean(value)) {
        return strdup(json_is_true(value) ? "true" : "false");
    }
    return strdup(config_value_kind(value));
}

/* "expected <expected>, got <value>" (or only its kind for a secret). */
static void type_error(struct diag_list *diags, const struct config_where *where, const char *key,
                       const lh_config_field_t *field, const json_t *value, const char *expected,
                       const char *hint)
{
    if (json_is_null(value) && hint == NULL) {
        hint = "give it a value, or remove the key";
    }
    char *shown = field->type == LH_CONFIG_SECRET ? NULL : show(value);
    config_where_error(diags, where, key, NULL, hint, "expected %s, got %s", expected,
                       shown != NULL ? shown : config_value_kind(value));
    free(shown);
}

/* The text of a string value, references resolved when asked (always for secrets).
 * NEW string, or NULL with an error in diags. */
static char *text_of(const json_t *value, const char *key, const struct config_where *where,
                     bool resolve, struct config_ref_info *info_out, struct diag_list *diags)
{
    if (info_out != NULL) {
        *info_out = (struct config_ref_info){false, false};
    }
    if (!resolve) {
        char *copy = strdup(json_string_value(value));
        if (copy == NULL) {
            config_where_error(diags, where, key, NULL, NULL, "out of memory");
        }
        return copy;
    }
    char *resolved = NULL;
    if (config_ref_resolve(json_string_value(value), where, key, &resolved, info_out, diags) != 0) {
        return NULL;
    }
    return resolved;
}

/* A string that is not what the type wants. When references produced it, the resolved
 * text is not shown: it may have come from a secret file by mistake. */
static void bad_text(struct diag_list *diags, const struct config_where *where, const char *key,
                     const json_t *written, const char *resolved, const char *expected,
                     const char *hint)
{
    char *shown = show(written);
    if (strcmp(json_string_value(written), resolved) == 0) {
        config_where_error(diags, where, key, NULL, hint, "expected %s, got %s", expected,
                           shown != NULL ? shown : "a string");
    } else {
        config_where_error(diags, where, key, NULL, hint,
                           "expected %s, but %s resolves to something else", expected,
                           shown != NULL ? shown : "a reference");
    }
    free(shown);
}

static json_t *oom(struct diag_list *diags, const struct config_where *where, const char *key)
{
    config_where_error(diags, where, key, NULL, NULL, "out of memory");
    return NULL;
}

static json_t *new_string_value(const char *text, struct diag_list *diags,
                                const struct config_where *where, const char *key)
{
    json_t *result = json_string(text);
    return result != NULL ? result : oom(diags, where, key);
}

/* Strict integer text: [-+]?[0-9]+ that fits in 64 bits. */
static bool parse_integer_text(const char *text, json_int_t *out)
{
    const char *p = (text[0] == '-' || text[0] == '+') ? text + 1 : text;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        return false;
    }
    errno = 0;
    long long value = strtoll(text, NULL, 10);
    if (errno == ERANGE) {
        return false;
    }
    *out = (json_int_t)value;
    return true;
}

static bool parse_double_text(const char *text, double *out)
{
    if (text[0] == '\0' || strchr(" \t\n", text[0]) != NULL) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(value)) {
        return false;
    }
    *out = value;
    return true;
}

/* min/max for INT, DOUBLE, DURATION (ms), LIST (items) and STRING (bytes; secrets check
 * their own, never showing them). Returns 0 when in range. */
static int check_range(const lh_config_field_t *field, double number, const char *key,
                       const struct config_where *where, struct diag_list *diags)
{
    bool below = (field->flags & LH_FIELD_HAS_MIN) && number < field->min;
    bool above = (field->flags & LH_FIELD_HAS_MAX) && number > field->max;
    if (!below && !above) {
        return 0;
    }
    double bound = below ? field->min : field->max;
    const char *side = below ? "at least" : "at most";
    switch (field->type) {
    case LH_CONFIG_DURATION: {
        char got[32], limit[32];
        util_format_duration((int64_t)number, got, sizeof(got));
        util_format_duration((int64_t)bound, limit, sizeof(limit));
        config_where_error(diags, where, key, NULL, NULL, "must be %s %s, got %s", side, limit,
                           got);
        break;
    }
    case LH_CONFIG_LIST:
        config_where_error(diags, where, key, NULL, NULL, "must have %s %lld item%s, got %lld",
                           side, (long long)bound, bound == 1 ? "" : "s", (long long)number);
        break;
    case LH_CONFIG_STRING:
        config_where_error(diags, where, key, NULL, NULL, "must be %s %lld byte%s long, got %lld",
                           side, (long long)bound, bound == 1 ? "" : "s", (long long)number);
        break;
    case LH_CONFIG_INT:
        config_where_error(diags, where, key, NULL, NULL, "must be %s %lld, got %lld", side,
                           (long long)bound, (long long)number);
        break;
    default:
        config_where_error(diags, where, key, NULL, NULL, "must be %s %g, got %g", side, bound,
                           number);
        break;
    }
    return -1;
}

static json_t *normalize_string(const lh_config_field_t *field, const json_t *value,
                                const char *key, const struct config_where *where, bool resolve,
                                struct diag_list *diags)
{
    if (!json_is_string(value)) {
        type_error(diags, where, key, field, value, "a string",
                   json_is_null(value) || json_is_object(value) || json_is_array(value)
                       ? NULL
                       : "quote it to make it a string");
        return NULL;
    }
    char *text = text_of(value, key, where, resolve, NULL, diags);
    if (text == NULL) {
        return NULL;
    }
    json_t *result = check_range(field, (double)strlen(text), key, where, diags) == 0
                         ? new_string_value(text, diags, where, key)
                         : NULL;
    free(text);
    return result;
}

static json_t *normalize_int(const lh_config_field_t *field, const json_t *value, const char *key,
                             const struct config_where *where, bool resolve,
                             struct diag_list *diags)
{
    json_int_t number = 0;
    if (json_is_integer(value)) {
        number = json_integer_value(value);
    } else if (json_is_string(value)) {
        char *text = text_of(value, key, where, resolve, NULL, diags);
        if (text == NULL) {
            return NULL;
        }
        bool ok = parse_integer_text(text, &number);
        if (!ok) {
            bad_text(diags, where, key, value, text, "an integer", "write a whole number, e.g. 42");
        }
        free(text);
        if (!ok) {
            return NULL;
        }
    } else {
        type_error(diags, where, key, field, value, "an integer",
                   json_is_real(value) ? "write a whole number, e.g. 42" : NULL);
        return NULL;
    }
    if (check_range(field, (double)number, key, where, diags) != 0) {
        return NULL;
    }
    json_t *result = json_integer(number);
    return result != NULL ? result : oom(diags, where, key);
}

static json_t *normalize_double(const lh_config_field_t *field, const json_t *value,
                                const char *key, const struct config_where *where, bool resolve,
                                struct diag_list *diags)
{
    double number = 0;
    if (json_is_number(value)) {
        number = json_number_value(value);
    } else if (json_is_string(value)) {
        char *text = text_of(value, key, where, resolve, NULL, diags);
        if (text == NULL) {
            return NULL;
        }
        bool ok = parse_double_text(text, &number);
        if (!ok) {
            bad_text(diags, where, key, value, text, "a number", "write a number, e.g. 0.5");
        }
        free(text);
        if (!ok) {
            return NULL;
        }
    } else {
        type_error(diags, where, key, field, value, "a number", NULL);
        return NULL;
    }
    if (check_range(field, number, key, where, diags) != 0) {
        return NULL;
    }
    json_t *result = json_real(number);
    return result != NULL ? result : oom(diags, where, key);
}

static json_t *normalize_bool(const lh_config_field_t *field, const json_t *value, const char *key,
                              const struct config_where *where, struct diag_list *diags)
{
    if (json_is_boolean(value)) {
        return json_is_true(value) ? json_true() : json_false();
    }
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    bool yaml11 = strcasecmp(text, "yes") == 0 || strcasecmp(text, "no") == 0 ||
                  strcasecmp(text, "on") == 0 || strcasecmp(text, "off") == 0;
    type_error(diags, where, key, field, value, "true or false",
               yaml11 ? "yes, no, on and off are strings here (YAML 1.2); write true or false"
                      : "write true or false, unquoted");
    return NULL;
}

static json_t *normalize_duration(const lh_config_field_t *field, const json_t *value,
                                  const char *key, const struct config_where *where, bool resolve,
                                  struct diag_list *diags)
{
    if (json_is_integer(value) || json_is_real(value)) {
        type_error(diags, where, key, field, value, "a duration", HINT_DURATION_UNIT);
        return NULL;
    }
    if (!json_is_string(value)) {
        type_error(diags, where, key, field, value, "a duration", HINT_DURATION);
        return NULL;
    }
    char *text = text_of(value, key, where, resolve, NULL, diags);
    if (text == NULL) {
        return NULL;
    }
    int64_t ms = 0;
    bool ok = util_parse_duration_ms(text, &ms) == 0;
    if (!ok) {
        bool bare_number = text[0] != '\0' && strspn(text, "0123456789") == strlen(text);
        bad_text(diags, where, key, value, text, "a duration",
                 bare_number ? HINT_DURATION_UNIT : HINT_DURATION);
    }
    free(text);
    if (!ok || check_range(field, (double)ms, key, where, diags) != 0) {
        return NULL;
    }
    json_t *result = json_integer(ms);
    return result != NULL ? result : oom(diags, where, key);
}

static json_t *normalize_enum(const lh_config_field_t *field, const json_t *value, const char *key,
                              const struct config_where *where, bool resolve,
                              struct diag_list *diags)
{
    size_t count = 0;
    while (field->enum_values != NULL && field->enum_values[count] != NULL) {
        count++;
    }
    char *hint = config_suggest_hint(json_is_string(value) ? json_string_value(value) : "",
                                     field->enum_values, count, "allowed values");
    json_t *result = NULL;
    if (!json_is_string(value)) {
        type_error(diags, where, key, field, value, "one of the allowed values", hint);
        goto out;
    }
    char *text = text_of(value, key, where, resolve, NULL, diags);
    if (text == NULL) {
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, field->enum_values[i]) == 0) {
            result = new_string_value(text, diags, where, key);
            free(text);
            goto out;
        }
    }
    bad_text(diags, where, key, value, text, "one of the allowed values", hint);
    free(text);
out:
    free(hint);
    return result;
}

static json_t *normalize_list(const lh_config_field_t *field, const json_t *value, const char *key,
                              const struct config_where *where, bool resolve,
                              struct diag_list *diags)
{
    if (!json_is_array(value)) {
        type_error(diags, where, key, field, value, "a list of strings",
                   "write a list, e.g. [a, b], or one \"- item\" per line");
        return NULL;
    }
    json_t *result = json_array();
    if (result == NULL) {
        return oom(diags, where, key);
    }
    bool failed = false;
    size_t index;
    const json_t *item;
    json_array_foreach(value, index, item)
    {
        char *item_key = config_key_index(key, index);
        if (item_key == NULL) {
            failed = true;
            oom(diags, where, key);
            break;
        }
        if (!json_is_string(item)) {
            type_error(diags, where, item_key, field, item, "a string",
                       json_is_array(item) || json_is_object(item)
                           ? NULL
                           : "quote it to make it a string");
            failed = true;
        } else {
            char *text = text_of(item, item_key, where, resolve, NULL, diags);
            if (text == NULL) {
                failed = true;
            } else if (json_array_append_new(result, json_string(text)) != 0) {
                failed = true;
                oom(diags, where, item_key);
            }
            free(text);
        }
        free(item_key);
    }
    if (!failed && check_range(field, (double)json_array_size(value), key, where, diags) != 0) {
        failed = true;
    }
    if (failed) {
        json_decref(result);
        return NULL;
    }
    return result;
}

/*
 * A value that only stands in for a secret: "CHANGE-ME", "changeme", "xxx", "<token>",
 * "your-api-key-here", "password", one character repeated. Compared without case and
 * without punctuation, so that CHANGE_ME and change-me are caught alike.
 */
static bool secret_placeholder(const char *text)
{
    static const char *const words[] = {
        "changeme", "replaceme", "placeholder", "todo",    "tbd",     "fixme",  "secret",
        "password", "passwd",    "token",       "apikey",  "example", "dummy",  "test",
        "testing",  "null",      "none",        "default", "sample",  "notset", "unset"};
    size_t len = strlen(text);
    if (len == 0) {
        return false; /* empty is its own error */
    }
    if (text[0] == '<' && text[len - 1] == '>') {
        return true;
    }
    bool repeated = true;
    for (size_t i = 1; i < len; i++) {
        repeated &= text[i] == text[0];
    }
    if (repeated) {
        return true;
    }
    char folded[64];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < sizeof(folded); i++) {
        unsigned char c = (unsigned char)text[i];
        if (isalnum(c)) {
            folded[n++] = (char)tolower(c);
        }
    }
    folded[n] = '\0';
    if (len >= sizeof(folded)) {
        return false; /* long values are not placeholders */
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(words); i++) {
        if (strcmp(folded, words[i]) == 0) {
            return true;
        }
    }
    return strstr(folded, "changeme") != NULL || strstr(folded, "replaceme") != NULL ||
           (strncmp(folded, "your", 4) == 0 && n > 8 && strcmp(folded + n - 4, "here") == 0);
}

/*
 * One secret string: exactly one reference, whose fallbacks are references too; not empty,
 * not a placeholder, and as long as the field asks. Messages name the reference as written
 * (a reference, never a value: the check above made sure) and never the resolved text.
 */
static json_t *secret_one(const lh_config_field_t *field, const json_t *value, const char *key,
                          const struct config_where *where, struct diag_list *diags)
{
    struct config_ref_info info;
    char *text = text_of(value, key, where, true, &info, diags);
    if (text == NULL) {
        return NULL;
    }
    const char *written = json_string_value(value);
    size_t len = strlen(text);
    json_t *result = NULL;
    if (!info.single) {
        config_where_error(diags, where, key, NULL, HINT_SECRET,
                           "a secret must come from a reference, not a literal value");
    } else if (info.literal_fallback) {
        config_where_error(diags, where, key, NULL,
                           "a fallback must be another reference: ${A:-${B}} or "
                           "${A:-${file:/run/secrets/NAME}}",
                           "a secret's fallback must be a reference, not a literal value");
    } else if (len == 0) {
        config_where_error(diags, where, key, NULL,
                           "set the variable, or fill the file, with the secret",
                           "%.200s resolves to an empty value", written);
    } else if ((field->flags & LH_FIELD_HAS_MIN) && (double)len < field->min) {
        config_where_error(diags, where, key, NULL,
                           "use the provider's secret as issued, or a random one of your own: "
                           "`openssl rand -hex 32`",
                           "%.200s resolves to %zu bytes; this secret needs at least %.0f", written,
                           len, field->min);
    } else if ((field->flags & LH_FIELD_HAS_MAX) && (double)len > field->max) {
        config_where_error(diags, where, key, NULL, NULL,
                           "%.200s resolves to %zu bytes; this secret takes at most %.0f", written,
                           len, field->max);
    } else if (secret_placeholder(text)) {
        config_where_error(diags, where, key, NULL,
                           "set it to the real secret; `openssl rand -hex 32` makes a random one",
                           "%.200s resolves to a placeholder, not a secret", written);
    } else {
        result = new_string_value(text, diags, where, key);
    }
    /* Scrub the resolved secret before returning the memory (explicit_bzero: a memset
     * before free() may be optimized away). */
    explicit_bzero(text, strlen(text));
    free(text);
    return result;
}

static json_t *normalize_secret(const lh_config_field_t *field, const json_t *value,
                                const char *key, const struct config_where *where,
                                struct diag_list *diags)
{
    if (json_is_string(value)) {
        return secret_one(field, value, key, where, diags);
    }
    if (!json_is_array(value)) {
        type_error(diags, where, key, field, value, "a reference (or a list of them)", HINT_SECRET);
        return NULL;
    }
    if (json_array_size(value) == 0) {
        config_where_error(diags, where, key, NULL, HINT_SECRET,
                           "a list of secrets must hold at least one reference");
        return NULL;
    }
    json_t *result = json_array();
    if (result == NULL) {
        return oom(diags, where, key);
    }
    bool failed = false;
    size_t index;
    const json_t *item;
    json_array_foreach(value, index, item)
    {
        char *item_key = config_key_index(key, index);
        json_t *one = NULL;
        if (item_key == NULL) {
            oom(diags, where, key);
        } else if (!json_is_string(item)) {
            type_error(diags, where, item_key, field, item, "a reference", HINT_SECRET);
        } else {
            one = secret_one(field, item, item_key, where, diags);
        }
        if (one == NULL || json_array_append_new(result, one) != 0) {
            failed = true;
        }
        free(item_key);
    }
    if (failed) {
        json_decref(result);
        return NULL;
    }
    return result;
}

json_t *config_value_normalize(const lh_config_field_t *field, const json_t *value, const char *key,
                               const struct config_where *where, bool resolve,
                               struct diag_list *diags)
{
    switch (field->type) {
    case LH_CONFIG_STRING:
        return normalize_string(field, value, key, where, resolve, diags);
    case LH_CONFIG_INT:
        return normalize_int(field, value, key, where, resolve, diags);
    case LH_CONFIG_BOOL:
        return normalize_bool(field, value, key, where, diags);
    case LH_CONFIG_DOUBLE:
        return normalize_double(field, value, key, where, resolve, diags);
    case LH_CONFIG_DURATION:
        return normalize_duration(field, value, key, where, resolve, diags);
    case LH_CONFIG_ENUM:
        return normalize_enum(field, value, key, where, resolve, diags);
    case LH_CONFIG_LIST:
        return normalize_list(field, value, key, where, resolve, diags);
    case LH_CONFIG_JSON: {
        json_t *copy = json_deep_copy(value);
        return copy != NULL ? copy : oom(diags, where, key);
    }
    case LH_CONFIG_SECRET:
        return normalize_secret(field, value, key, where, diags);
    }
    config_where_error(diags, where, key, NULL, NULL, "unknown field type %d", (int)field->type);
    return NULL;
}

json_t *config_value_default(const lh_config_field_t *field, const char *key,
                             const struct config_where *where, struct diag_list *diags)
{
    const char *text = field->default_value;
    switch (field->type) {
    case LH_CONFIG_STRING:
    case LH_CONFIG_ENUM:
    case LH_CONFIG_DURATION:
    case LH_CONFIG_SECRET:
        return new_string_value(text, diags, where, key);
    default:
        break;
    }
    json_t *value = NULL;
    struct diag_list parse_diags = {0};
    if (config_yaml_parse(text, strlen(text), NULL, &value, NULL, &parse_diags) != 0) {
        const char *why = parse_diags.count > 0 ? parse_diags.items[0].message : "out of memory";
        config_where_error(diags, where, key, NULL, NULL, "default \"%s\" does not parse: %s", text,
                           why);
    }
    diag_list_free(&parse_diags);
    return value;
}
