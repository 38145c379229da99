/*
 * store_notifications.c - connector_notifications, each instance's inbox of push
 * notifications (migration 0007): puts that change nothing when redelivered, takes oldest
 * first, removals by seq, and the NOTIFY that asks the instance's poller to come.
 */
#include <stdlib.h>
#include <string.h>

#include "rowset.h"
#include "store_pg.h"
#include "util.h"

/*
 * A row per (instance, key); one whose value differs from the pending one replaces it with
 * a new seq, one with an equal value changes nothing (a redelivery). The channels of the
 * rows that changed, and those of $2, are NOTIFYed: PostgreSQL sends them at commit, and
 * folds repeats of one channel in a transaction into one.
 */
const char store_sql_notifications_put[] =
    "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) "
    "AS r(instance text, key text, value jsonb, wake text)), "
    "changed AS (INSERT INTO connector_notifications AS n (instance, key, value) "
    "SELECT r.instance, r.key, coalesce(r.value, 'null'::jsonb) FROM r ORDER BY r.instance, r.key "
    "ON CONFLICT (instance, key) DO UPDATE SET value = EXCLUDED.value, "
    "seq = nextval('connector_notifications_seq'), received_at = now() "
    "WHERE n.value IS DISTINCT FROM EXCLUDED.value RETURNING n.instance, n.key) "
    "SELECT pg_notify(w.channel, '" STORE_WAKE_PAYLOAD "') FROM ("
    "SELECT r.wake AS channel FROM r JOIN changed c ON c.instance = r.instance AND c.key = r.key "
    "WHERE r.wake IS NOT NULL "
    "UNION SELECT jsonb_array_elements_text(coalesce($2::jsonb, '[]'::jsonb))) AS w";

const char store_sql_notifications_remove[] =
    "DELETE FROM connector_notifications AS n "
    "USING jsonb_to_recordset($1::jsonb) AS r(instance text, key text, seq bigint) "
    "WHERE n.instance = r.instance AND n.key = r.key AND n.seq = r.seq";

static const char sql_take[] =
    "SELECT key, value::text, seq, "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM connector_notifications WHERE instance = $1 AND seq > $2::bigint "
    "ORDER BY seq LIMIT $3::int";

json_t *store_notification_rows(const struct store_notification *items, size_t count)
{
    json_t *by_key = json_object();
    json_t *rows = json_array();
    if (by_key == NULL || rows == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        char *key = util_printf("%s\x1f%s", items[i].instance, items[i].key);
        if (key == NULL) {
            goto fail;
        }
        /* the last put wins; it wakes when any put of the key asked to */
        const json_t *earlier = json_object_get(by_key, key);
        const char *wake = items[i].wake;
        if (wake == NULL && earlier != NULL) {
            wake = json_string_value(json_object_get(earlier, "wake"));
        }
        json_t *row = json_pack("{s:s,s:s,s:O,s:s?}", "instance", items[i].instance, "key",
                                items[i].key, "value", items[i].value, "wake", wake);
        int added = row != NULL ? json_object_set_new(by_key, key, row) : -1;
        free(key);
        if (added != 0) {
            goto fail;
        }
    }
    const char *key;
    json_t *row;
    json_object_foreach(by_key, key, row)
    {
        if (json_array_append(rows, row) != 0) {
            goto fail;
        }
    }
    json_decref(by_key);
    return rows;
fail:
    json_decref(by_key);
    json_decref(rows);
    return NULL;
}

json_t *store_taken_rows(const struct store_taken *items, size_t count)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows != NULL && i < count; i++) {
        if (json_array_append_new(rows,
                                  json_pack("{s:s,s:s,s:I}", "instance", items[i].instance, "key",
                                            items[i].key, "seq", (json_int_t)items[i].seq)) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    return rows;
}

enum store_result store_notification_put(struct store *store, const struct store_notification *item,
                                         char **error_out)
{
    json_t *rows = store_notification_rows(item, 1);
    char *text = rows != NULL ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    if (text == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("out of memory");
        }
        return STORE_UNAVAILABLE;
    }
    const char *params[] = {text, "[]"};
    enum store_result rc = store_exec(store, "notifications_put", store_sql_notifications_put, 2,
                                      params, NULL, error_out);
    free(text);
    return rc;
}

enum store_result store_notifications_take(struct store *store, const char *instance, int64_t after,
                                           size_t limit, json_t **items_out, char **error_out)
{
    *items_out = NULL;
    char after_text[24], limit_text[24];
    snprintf(after_text, sizeof(after_text), "%lld", (long long)after);
    snprintf(limit_text, sizeof(limit_text), "%zu", limit);
    const char *params[] = {instance, after_text, limit_text};
    PGresult *result = NULL;
    enum store_result rc =
        store_exec(store, "notifications_take", sql_take, 3, params, &result, error_out);
    if (rc != STORE_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (int row = 0; items != NULL && row < PQntuples(result); row++) {
        json_error_t jerr;
        json_t *value = store_json_loads(PQgetvalue(result, row, 1), JSON_DECODE_ANY, &jerr);
        json_t *item =
            value != NULL
                ? json_pack("{s:s,s:o,s:s,s:I}", "key", PQgetvalue(result, row, 0), "value", value,
                            "received_at", PQgetvalue(result, row, 3), "seq",
                            (json_int_t)strtoll(PQgetvalue(result, row, 2), NULL, 10))
                : NULL;
        if (item == NULL || json_array_append_new(items, item) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    PQclear(result);
    if (items == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("out of memory, or a stored notification is not JSON");
        }
        return STORE_UNAVAILABLE;
    }
    *items_out = items;
    return STORE_OK;
}

enum store_result store_notify(struct store *store, const char *channel, const char *payload,
                               char **error_out)
{
    const char *params[] = {channel, payload};
    return store_exec(store, "notify", "SELECT pg_notify($1, $2)", 2, params, NULL, error_out);
}
