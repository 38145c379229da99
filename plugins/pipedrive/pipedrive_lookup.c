/*
 * pipedrive_lookup.c - finding records, and creating them at most once.
 *
 * Pipedrive takes no idempotency key: a POST whose answer is lost (a timeout, a 5xx after
 * the write) may or may not have created the record, and sending it again could make a
 * second one. So a creation is recorded in a checkpoint before it is sent, and an attempt
 * that finds it recorded without an id lists what changed since (the listing, unlike the
 * search index, does not lag) before it creates again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

lh_status_t pipedrive_search(struct pipedrive *pd, lh_ctx_t *ctx, const char *collection,
                             const char *field, const char *term, pipedrive_match_fn match,
                             const void *arg, char id_out[PIPEDRIVE_ID_MAX])
{
    id_out[0] = '\0';
    char path[64];
    snprintf(path, sizeof(path), "/api/v2/%s/search", collection);
    lh_url_t builder;
    pipedrive_url(pd, &builder, path);
    lh_url_add_query(&builder, "term", term);
    lh_url_add_query(&builder, "fields", field);
    lh_url_add_query(&builder, "exact_match", "true");
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
    free(url);
    if (status != LH_OK) {
        return status;
    }
    size_t i;
    const json_t *result;
    json_array_foreach(json_object_get(answer.data, "items"), i, result)
    {
        const json_t *item = json_object_get(result, "item");
        if (match(item, arg) && pipedrive_id_text(json_object_get(item, "id"), id_out)) {
            break;
        }
    }
    pipedrive_response_clear(&answer);
    return LH_OK;
}

lh_status_t pipedrive_remembered_id(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                                    char id_out[PIPEDRIVE_ID_MAX])
{
    id_out[0] = '\0';
    json_t *value = NULL;
    lh_status_t status = pd->host->checkpoint_get(ctx, key, &value);
    if (status == LH_OK) {
        pipedrive_id_text(json_object_get(value, "id"), id_out);
    }
    json_decref(value);
    return status;
}

/* Lists <path>?updated_since=... (and the filter) for the first item match accepts. */
static lh_status_t list_find(struct pipedrive *pd, lh_ctx_t *ctx, const char *path,
                             const char *filter_name, const char *filter_value, int64_t since_ms,
                             pipedrive_match_fn match, const void *arg,
                             char id_out[PIPEDRIVE_ID_MAX])
{
    char since[LH_TIME_TEXT_SIZE];
    char *cursor = NULL;
    lh_status_t status = LH_OK;
    id_out[0] = '\0';
    if (pipedrive_since_text(since_ms, since) != 0) {
        pd->host->set_error(ctx, "creation time out of range");
        return LH_PERMANENT;
    }
    for (int page = 0; page < PIPEDRIVE_LOOKUP_PAGES && id_out[0] == '\0'; page++) {
        lh_url_t builder;
        pipedrive_url(pd, &builder, path);
        lh_url_add_query(&builder, filter_name != NULL ? filter_name : "", filter_value);
        lh_url_add_query(&builder, "updated_since", since);
        lh_url_add_query(&builder, "sort_by", "update_time");
        lh_url_add_query(&builder, "sort_direction", "asc");
        lh_url_add_query_int(&builder, "limit", PIPEDRIVE_PAGE_MAX);
        lh_url_add_query(&builder, "cursor", cursor);
        char *url = lh_url_take(&builder);
        free(cursor);
        cursor = NULL;
        if (url == NULL) {
            pd->host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        struct pipedrive_response answer;
        status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
        free(url);
        if (status != LH_OK) {
            return status;
        }
        size_t i;
        const json_t *item;
        json_array_foreach(answer.data, i, item)
        {
            if (match(item, arg) && pipedrive_id_text(json_object_get(item, "id"), id_out)) {
                break;
            }
        }
        const char *next =
            json_string_value(json_object_get(json_object_get(answer.body, "additional_data"),
                                              "next_cursor"));
        cursor = next != NULL && next[0] != '\0' ? strdup(next) : NULL;
        pipedrive_response_clear(&answer);
        if (cursor == NULL) {
            break;
        }
    }
    free(cursor);
    return status;
}

lh_status_t pipedrive_create_once(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                                  const char *path, const char *filter_name,
                                  const char *filter_value, const json_t *body,
                                  pipedrive_match_fn match, const void *arg,
                                  char id_out[PIPEDRIVE_ID_MAX], json_t **created)
{
    const lh_host_t *host = pd->host;
    json_t *record = NULL;
    id_out[0] = '\0';
    if (created != NULL) {
        *created = NULL;
    }
    lh_status_t status = host->checkpoint_get(ctx, key, &record);
    if (status != LH_OK) {
        return status;
    }
    if (pipedrive_id_text(json_object_get(record, "id"), id_out)) {
        json_decref(record);
        return LH_OK;
    }
    int64_t creating_ms = 0;
    bool was_creating = pipedrive_time(json_object_get(record, "creating"), &creating_ms);
    json_decref(record);
    if (was_creating) {
        /* an earlier attempt sent this POST and lost the answer: did it land? */
        status = list_find(pd, ctx, path, filter_name, filter_value,
                           creating_ms - PIPEDRIVE_CREATE_MARGIN, match, arg, id_out);
        if (status != LH_OK) {
            return status;
        }
        if (id_out[0] != '\0') {
            host->counter_add(ctx, "pipedrive_lost_answers_found_total", NULL, NULL, 1);
            return host->checkpoint_put(ctx, key, json_pack("{s:s}", "id", id_out));
        }
    }
    char now[LH_TIME_TEXT_SIZE];
    if (lh_time_format(host->now_ms(ctx), now) != 0) {
        host->set_error(ctx, "clock out of range");
        return LH_RETRY;
    }
    status = host->checkpoint_put(ctx, key, json_pack("{s:s}", "creating", now));
    if (status != LH_OK) {
        return status;
    }
    lh_url_t builder;
    pipedrive_url(pd, &builder, path);
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    status = pipedrive_call(pd, ctx, "POST", url, body, &answer);
    free(url);
    if (status == LH_OK && !pipedrive_id_text(json_object_get(answer.data, "id"), id_out)) {
        host->set_error(ctx, "Pipedrive created a record but its answer names no id");
        status = LH_RETRY; /* the marker stays: the next attempt looks for it */
        answer.maybe_applied = true;
    }
    if (status == LH_OK) {
        if (created != NULL) {
            *created = json_incref(json_object_get(answer.data, "update_time"));
        }
        status = host->checkpoint_put(ctx, key, json_pack("{s:s}", "id", id_out));
    } else if (!answer.maybe_applied) {
        /* refused (a 400, a 429, not sent): nothing was created, nothing to look for */
        host->checkpoint_put(ctx, key, json_null());
    }
    pipedrive_response_clear(&answer);
    return status;
}
