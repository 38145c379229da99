/*
 * stripe_cursor.c - the reconciliation poll's checkpoint, read and written. Pure: the poll
 * (stripe_poll.c) gets and puts it through the host.
 *
 * Saved as {"created": W, "ids": [...], "marks": [...], "floor": id | null,
 * "types": "...", "polled_at": T}.
 * A saved value that cannot be read is not fatal: the poll starts again from `backfill`
 * ago, and the store drops what it already has (events are idempotent on their id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripe.h"

/* Far more than Stripe creates in one second for one account; a bound for a damaged value. */
#define CURSOR_IDS_MAX   100000
#define CURSOR_MARKS_MAX 100000

static bool id_array_valid(const json_t *array, size_t max)
{
    if (!json_is_array(array) || json_array_size(array) > max) {
        return false;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(array, i, item)
    {
        if (!stripe_id_valid(json_string_value(item))) {
            return false;
        }
    }
    return true;
}

static bool saved_valid(const json_t *saved)
{
    const json_t *created = json_object_get(saved, "created");
    const json_t *polled_at = json_object_get(saved, "polled_at");
    const json_t *floor = json_object_get(saved, "floor");
    return json_is_object(saved) && json_is_integer(created) && json_integer_value(created) >= 0 &&
           (floor == NULL || json_is_null(floor) || stripe_id_valid(json_string_value(floor))) &&
           json_integer_value(created) <= STRIPE_TIME_MAX &&
           id_array_valid(json_object_get(saved, "ids"), CURSOR_IDS_MAX) &&
           id_array_valid(json_object_get(saved, "marks"), CURSOR_MARKS_MAX) &&
           json_is_string(json_object_get(saved, "types")) &&
           (polled_at == NULL ||
            (json_is_integer(polled_at) && json_integer_value(polled_at) >= 0));
}

void stripe_cursor_clear(struct stripe_cursor *cursor)
{
    json_decref(cursor->ids);
    json_decref(cursor->marks);
    memset(cursor, 0, sizeof(*cursor));
}

int stripe_cursor_load(const json_t *saved, const char *types, int64_t fresh_from,
                       struct stripe_cursor *out, const char **note_out)
{
    memset(out, 0, sizeof(*out));
    *note_out = NULL;
    out->ids = json_object();
    out->marks = json_array();
    if (out->ids == NULL || out->marks == NULL) {
        stripe_cursor_clear(out);
        return -1;
    }
    out->created = fresh_from;
    if (saved == NULL) {
        return 0;
    }
    if (!saved_valid(saved)) {
        *note_out = "the saved cursor is unreadable: reconciling again from backfill ago";
        return 0;
    }
    int64_t created = json_integer_value(json_object_get(saved, "created"));
    const json_t *polled_at = json_object_get(saved, "polled_at");
    out->polled_at = polled_at != NULL ? json_integer_value(polled_at) : 0;
    if (strcmp(json_string_value(json_object_get(saved, "types")), types) != 0) {
        /* Events of a newly enabled type older than the watermark were never fetched: go
         * back to backfill ago (or stay further back); the store drops what it has. */
        out->created = created < fresh_from ? created : fresh_from;
        *note_out = "event_types changed: reconciling again from backfill ago";
        return 0;
    }
    out->created = created;
    const char *floor = json_string_value(json_object_get(saved, "floor"));
    snprintf(out->floor, sizeof(out->floor), "%s", floor != NULL ? floor : "");
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(saved, "ids"), i, item)
    {
        if (json_object_set_new(out->ids, json_string_value(item), json_true()) != 0) {
            stripe_cursor_clear(out);
            return -1;
        }
    }
    json_array_foreach(json_object_get(saved, "marks"), i, item)
    {
        if (json_array_append(out->marks, (json_t *)item) != 0) {
            stripe_cursor_clear(out);
            return -1;
        }
    }
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *stripe_cursor_to_json(const struct stripe_cursor *cursor, const char *types)
{
    size_t count = json_object_size(cursor->ids);
    const char **keys = calloc(count > 0 ? count : 1, sizeof(*keys));
    json_t *ids = json_array();
    json_t *value = NULL;
    if (keys == NULL || ids == NULL) {
        goto out;
    }
    size_t n = 0;
    const char *key;
    const json_t *member;
    json_object_foreach(cursor->ids, key, member)
    {
        (void)member;
        keys[n++] = key;
    }
    /* sorted, so that the same state always saves the same value */
    qsort(keys, n, sizeof(*keys), compare_strings);
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(ids, json_string(keys[i])) != 0) {
            goto out;
        }
    }
    value = json_pack("{s:I, s:O, s:O, s:o, s:s, s:I}", "created", (json_int_t)cursor->created,
                      "ids", ids, "marks", cursor->marks, "floor",
                      cursor->floor[0] != '\0' ? json_string(cursor->floor) : json_null(), "types",
                      types, "polled_at", (json_int_t)cursor->polled_at);
out:
    json_decref(ids);
    free(keys);
    return value;
}

bool stripe_cursor_processed(const struct stripe_cursor *cursor, const char *id, json_int_t created)
{
    if (created != cursor->created) {
        return created < cursor->created;
    }
    return json_object_get(cursor->ids, id) != NULL;
}

int stripe_cursor_advance(struct stripe_cursor *cursor, const char *id, json_int_t created)
{
    if (created < cursor->created) {
        return 0; /* below the watermark: processed by definition */
    }
    if (created > cursor->created) {
        /* a new second: the ids of the old one are no longer needed to skip anything */
        json_object_clear(cursor->ids);
        cursor->created = created;
    }
    return json_object_set_new(cursor->ids, id, json_true());
}

const char *stripe_cursor_top_mark(const struct stripe_cursor *cursor)
{
    size_t count = json_array_size(cursor->marks);
    return count > 0 ? json_string_value(json_array_get(cursor->marks, count - 1)) : NULL;
}

int stripe_cursor_push_mark(struct stripe_cursor *cursor, const char *id)
{
    return json_array_append_new(cursor->marks, json_string(id));
}

void stripe_cursor_pop_mark(struct stripe_cursor *cursor)
{
    size_t count = json_array_size(cursor->marks);
    if (count > 0) {
        const char *mark = json_string_value(json_array_get(cursor->marks, count - 1));
        snprintf(cursor->floor, sizeof(cursor->floor), "%s", mark != NULL ? mark : "");
        json_array_remove(cursor->marks, count - 1);
    }
}

void stripe_cursor_forget_positions(struct stripe_cursor *cursor)
{
    json_array_clear(cursor->marks);
    cursor->floor[0] = '\0';
}
