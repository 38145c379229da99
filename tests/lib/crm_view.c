/* crm_view.c - see crm_view.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_view.h"

json_t *crm_view_person(const char *email, const char *name, const char *company, bool customer,
                        json_t *meetings)
{
    json_t *lowered = json_null();
    if (email != NULL) {
        char *copy = strdup(email);
        for (char *p = copy; p != NULL && *p != '\0'; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        lowered = json_string(copy);
        free(copy);
    }
    return json_pack("{s:o, s:s?, s:s?, s:b, s:o}", "email", lowered, "name", name, "company",
                     company, "customer", customer, "meetings",
                     meetings != NULL ? meetings : json_array());
}

json_t *crm_view_meeting(const char *title, int64_t start_ms, const char *status)
{
    char start[24] = "";
    if (start_ms >= 0) {
        time_t t = (time_t)(start_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    return json_pack("{s:s?, s:s?, s:s}", "title", title, "start", start[0] != '\0' ? start : NULL,
                     "status", status);
}

static const char *text_of(const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text != NULL ? text : "";
}

static int by_start_then_title(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    int order = strcmp(text_of(x, "start"), text_of(y, "start"));
    return order != 0 ? order : strcmp(text_of(x, "title"), text_of(y, "title"));
}

static int by_email_then_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    int order = strcmp(text_of(x, "email"), text_of(y, "email"));
    return order != 0 ? order : strcmp(text_of(x, "name"), text_of(y, "name"));
}

/* A NEW array of the items of `array` sorted by `compare`. */
static json_t *sorted(const json_t *array, int (*compare)(const void *, const void *))
{
    size_t n = json_array_size(array);
    json_t **items = calloc(n + 1, sizeof(*items));
    json_t *result = json_array();
    if (items == NULL) {
        return result;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = json_array_get(array, i);
    }
    qsort(items, n, sizeof(*items), compare);
    for (size_t i = 0; i < n; i++) {
        json_array_append(result, items[i]);
    }
    free(items);
    return result;
}

char *crm_view_finish(json_t *persons)
{
    size_t i;
    json_t *person;
    json_array_foreach(persons, i, person)
    {
        json_object_set_new(person, "meetings",
                            sorted(json_object_get(person, "meetings"), by_start_then_title));
    }
    json_t *view = sorted(persons, by_email_then_name);
    char *text = json_dumps(view, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(view);
    json_decref(persons);
    return text;
}
