/*
 * pipedrive_source.c - poll: organizations, persons and deals listed by update time.
 *
 * Each kind is listed with `updated_since` (inclusive), oldest first, paged by Pipedrive's
 * cursor, under a time cursor plus seen-set (lh_cursor, checkpoint `cursor:<kind>`): a
 * record is read once per change and never skipped, however many share its second. The
 * cursors commit with the page's events (the poll's one transaction). A rate limit ends the
 * poll with what it has, and asks for the next one after the wait.
 *
 *   organizations  their names kept (`org:<id>`), so persons carry their company (one
 *                  not listed since the first poll is read by id once)
 *   persons        lead.updated (source_id person:<id>:<update_time>), unless the sink
 *                  wrote that very version (`written:<id>`): the hub's own write is not
 *                  read back as a change
 *   deals          deal.stage_changed when the stage, pipeline or status differs from the
 *                  one last seen (`deal:<id>`), or the deal is new
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

/* What one listed record becomes; may emit. */
typedef lh_status_t (*record_fn)(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *item,
                                 const char *id, int64_t updated_ms);

/* A checkpoint's member as a string (NEW copy) or NULL. */
static char *checkpoint_text(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                             const char *member, lh_status_t *status)
{
    json_t *value = NULL;
    *status = pd->host->checkpoint_get(ctx, key, &value);
    const char *text = json_string_value(json_object_get(value, member));
    char *copy = text != NULL ? strdup(text) : NULL;
    json_decref(value);
    return copy;
}

/* emit(); an event the host refuses is skipped and counted (one odd record must not hold
 * back the page), anything else is passed on. */
static lh_status_t emit(struct pipedrive *pd, lh_ctx_t *ctx, json_t *event, const char *kind)
{
    if (event == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = pd->host->emit(ctx, event);
    if (status == LH_PERMANENT) {
        pd->host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", kind, 1);
        pd->host->log(ctx, LH_LOG_WARN, "a %s Pipedrive sent was refused as an event; skipped",
                      kind);
        return LH_OK;
    }
    return status;
}

static lh_status_t organization_seen(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *item,
                                     const char *id, int64_t updated_ms)
{
    (void)updated_ms;
    const json_t *name = json_object_get(item, "name");
    if (!json_is_string(name) || json_string_length(name) > PIPEDRIVE_TEXT_MAX) {
        return LH_OK;
    }
    char key[48];
    snprintf(key, sizeof(key), "org:%s", id);
    return pd->host->checkpoint_put(ctx, key, json_pack("{s:O}", "name", name));
}

/*
 * An organization not seen by the organizations' listing (unchanged since before the first
 * poll): GET /api/v2/organizations/{id}, its name kept like the listing's. One Pipedrive
 * cannot give (deleted, refused) leaves the person without a company, not the poll failed.
 */
static lh_status_t organization_read(struct pipedrive *pd, lh_ctx_t *ctx, const char *id,
                                     char **name_out)
{
    lh_url_t builder;
    pipedrive_url(pd, &builder, "/api/v2/organizations");
    lh_url_add_path(&builder, id);
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
    free(url);
    if (status == LH_OK) {
        const json_t *name = json_object_get(answer.data, "name");
        status = organization_seen(pd, ctx, answer.data, id, 0);
        if (status == LH_OK && json_is_string(name) &&
            json_string_length(name) <= PIPEDRIVE_TEXT_MAX) {
            *name_out = strdup(json_string_value(name));
        }
    } else if (status == LH_PERMANENT) {
        pd->host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "unreadable_org", 1);
        status = LH_OK;
    }
    pipedrive_response_clear(&answer);
    return status;
}

static lh_status_t person_seen(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *item,
                               const char *id, int64_t updated_ms)
{
    const lh_host_t *host = pd->host;
    char key[64], org[PIPEDRIVE_ID_MAX];
    lh_status_t status = LH_OK;
    if (json_is_true(json_object_get(item, "is_deleted"))) {
        return LH_OK;
    }
    char *email = pipedrive_person_email(item);
    if (email != NULL) {
        /* the deals' lead carries its person's email */
        snprintf(key, sizeof(key), "seen:person:%s", id);
        status = host->checkpoint_put(ctx, key, json_pack("{s:s}", "email", email));
        free(email);
        if (status != LH_OK) {
            return status;
        }
    }
    pipedrive_written_key(id, key, sizeof(key));
    char *written = checkpoint_text(pd, ctx, key, "t", &status);
    int64_t written_ms = -1;
    if (written != NULL && lh_time_parse_iso8601(written, NULL, &written_ms) != 0) {
        written_ms = -1;
    }
    free(written);
    if (status != LH_OK) {
        return status;
    }
    if (written_ms >= updated_ms) {
        /* the version the sink wrote (or older): the hub's own change, not a rep's */
        host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "own_write", 1);
        return LH_OK;
    }
    char *org_name = NULL;
    if (pipedrive_id_text(json_object_get(item, "org_id"), org)) {
        snprintf(key, sizeof(key), "org:%s", org);
        org_name = checkpoint_text(pd, ctx, key, "name", &status);
        if (status == LH_OK && org_name == NULL && pd->pull_organizations) {
            status = organization_read(pd, ctx, org, &org_name);
        }
        if (status != LH_OK) {
            free(org_name);
            return status;
        }
    }
    json_t *lead = pipedrive_person_lead(&pd->mapping, item, org_name);
    free(org_name);
    char source_id[64], occurred[LH_TIME_TEXT_SIZE];
    lh_time_format(updated_ms, occurred);
    snprintf(source_id, sizeof(source_id), "person:%s:%s", id, occurred);
    json_t *event = lead != NULL ? json_pack("{s:s, s:s, s:s, s:o}", "type", "lead.updated",
                                             "source_id", source_id, "occurred_at", occurred,
                                             "lead", lead)
                                 : NULL;
    return emit(pd, ctx, event, "person");
}

/* GET /api/v2/stages into pd->stages (id -> {"name", "pipeline_id"}). */
static lh_status_t read_stages(struct pipedrive *pd, lh_ctx_t *ctx)
{
    lh_url_t builder;
    pipedrive_url(pd, &builder, "/api/v2/stages");
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
    free(url);
    if (status == LH_OK) {
        json_t *stages = json_object();
        size_t i;
        const json_t *stage;
        json_array_foreach(answer.data, i, stage)
        {
            char id[PIPEDRIVE_ID_MAX];
            if (pipedrive_id_text(json_object_get(stage, "id"), id)) {
                json_object_set(stages, id, (json_t *)stage);
            }
        }
        json_decref(pd->stages);
        pd->stages = stages;
    }
    pipedrive_response_clear(&answer);
    return status;
}

static lh_status_t deal_seen(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *item,
                             const char *id, int64_t updated_ms)
{
    const lh_host_t *host = pd->host;
    char key[64], stage[PIPEDRIVE_ID_MAX], person[PIPEDRIVE_ID_MAX];
    lh_status_t status = LH_OK;
    if (pipedrive_id_text(json_object_get(item, "stage_id"), stage) &&
        json_object_get(pd->stages, stage) == NULL) {
        status = read_stages(pd, ctx); /* a stage not known yet: its name */
        if (status != LH_OK) {
            return status;
        }
    }
    snprintf(key, sizeof(key), "deal:%s", id);
    json_t *seen = NULL, *data = NULL, *record = NULL;
    status = host->checkpoint_get(ctx, key, &seen);
    if (status != LH_OK) {
        return status;
    }
    int bad = pipedrive_deal_data(item, seen, pd->stages, &data, &record);
    json_decref(seen);
    if (bad != 0) {
        return LH_OK;
    }
    if (data != NULL) {
        json_t *lead = NULL;
        if (pipedrive_id_text(json_object_get(item, "person_id"), person)) {
            char person_key[64];
            snprintf(person_key, sizeof(person_key), "seen:person:%s", person);
            char *email = checkpoint_text(pd, ctx, person_key, "email", &status);
            lead = json_pack("{s:s, s:s?}", "external_id", person, "email", email);
            free(email);
        }
        int64_t changed_ms = updated_ms;
        pipedrive_time(json_object_get(item, "stage_change_time"), &changed_ms);
        char source_id[64], occurred[LH_TIME_TEXT_SIZE], updated[LH_TIME_TEXT_SIZE];
        lh_time_format(updated_ms, updated);
        lh_time_format(changed_ms > updated_ms ? updated_ms : changed_ms, occurred);
        snprintf(source_id, sizeof(source_id), "deal:%s:%s", id, updated);
        json_t *event = json_pack("{s:s, s:s, s:s, s:o*, s:o}", "type", "deal.stage_changed",
                                  "source_id", source_id, "occurred_at", occurred, "lead", lead,
                                  "data", data);
        status = status == LH_OK ? emit(pd, ctx, event, "deal") : status;
    }
    if (status == LH_OK) {
        status = host->checkpoint_put(ctx, key, record);
    } else {
        json_decref(record);
    }
    return status;
}

/*
 * Lists one kind from its cursor, handing each record not seen yet to `seen`. A rate
 * limit or the deadline ends the listing with what it has (LH_OK, the cursor saved).
 */
static lh_status_t poll_kind(struct pipedrive *pd, lh_ctx_t *ctx, const char *kind, record_fn seen,
                             bool *more)
{
    const lh_host_t *host = pd->host;
    char key[48], since[LH_TIME_TEXT_SIZE], path[48];
    snprintf(key, sizeof(key), "cursor:%s", kind);
    snprintf(path, sizeof(path), "/api/v2/%s", kind);
    lh_cursor_t cursor;
    lh_status_t status =
        lh_cursor_load(host, ctx, key, host->now_ms(ctx) - pd->backfill_ms, 0, &cursor);
    char *page_cursor = NULL;
    for (int page = 0; status == LH_OK && page < PIPEDRIVE_PAGES_PER_POLL; page++) {
        if (host->should_stop(ctx)) {
            break;
        }
        pipedrive_since_text(lh_cursor_since_ms(&cursor), since);
        lh_url_t builder;
        pipedrive_url(pd, &builder, path);
        lh_url_add_query(&builder, "updated_since", since);
        lh_url_add_query(&builder, "sort_by", "update_time");
        lh_url_add_query(&builder, "sort_direction", "asc");
        lh_url_add_query_int(&builder, "limit", pd->page_size);
        lh_url_add_query(&builder, "cursor", page_cursor);
        char *url = lh_url_take(&builder);
        free(page_cursor);
        page_cursor = NULL;
        if (url == NULL) {
            host->set_error(ctx, "out of memory");
            status = LH_RETRY;
            break;
        }
        struct pipedrive_response answer;
        status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
        free(url);
        if (status == LH_RETRY_AFTER) {
            status = LH_OK; /* keep what was read; the wait is set as the next poll's */
            pipedrive_response_clear(&answer);
            break;
        }
        if (status == LH_OK && !json_is_array(answer.data)) {
            host->set_error(ctx, "Pipedrive listed %s without a data array", kind);
            status = LH_PERMANENT;
        }
        size_t i;
        const json_t *item;
        json_array_foreach(answer.data, i, item)
        {
            char id[PIPEDRIVE_ID_MAX];
            int64_t updated_ms;
            if (status != LH_OK) {
                break;
            }
            if (!pipedrive_id_text(json_object_get(item, "id"), id) ||
                !pipedrive_time(json_object_get(item, "update_time"), &updated_ms)) {
                host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "unreadable", 1);
                continue;
            }
            if (!lh_cursor_is_new(&cursor, id, updated_ms)) {
                continue;
            }
            status = seen(pd, ctx, item, id, updated_ms);
            if (status == LH_OK && lh_cursor_mark(&cursor, id, updated_ms) != 0) {
                host->set_error(ctx, "out of memory");
                status = LH_RETRY;
            }
        }
        const char *next = json_string_value(
            json_object_get(json_object_get(answer.body, "additional_data"), "next_cursor"));
        page_cursor = status == LH_OK && next != NULL && next[0] != '\0' ? strdup(next) : NULL;
        pipedrive_response_clear(&answer);
        if (page_cursor == NULL) {
            break;
        }
    }
    if (page_cursor != NULL) {
        *more = true; /* pages left: come back at once */
    }
    free(page_cursor);
    if (status == LH_OK) {
        status = lh_cursor_save(host, ctx, key, &cursor);
    }
    lh_cursor_clear(&cursor);
    return status;
}

lh_status_t pipedrive_poll(void *state, lh_ctx_t *ctx)
{
    struct pipedrive *pd = state;
    bool more = false;
    lh_status_t status = LH_OK;
    /* organizations first: the persons of this poll then carry their names */
    if (pd->pull_organizations) {
        status = poll_kind(pd, ctx, "organizations", organization_seen, &more);
    }
    if (status == LH_OK && pd->pull_persons) {
        status = poll_kind(pd, ctx, "persons", person_seen, &more);
    }
    if (status == LH_OK && pd->pull_deals) {
        status = poll_kind(pd, ctx, "deals", deal_seen, &more);
    }
    if (status == LH_OK && more) {
        pd->host->poll_soon(ctx);
    }
    return status;
}
