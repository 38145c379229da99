/*
 * ms_poll.c - the poll: takes the pending notifications (lifecycle events say which
 * subscriptions to reauthorize or recreate; change notifications and `missed` only ask for
 * this poll), keeps the subscriptions alive, then runs each mailbox's deltas. A mailbox
 * throttled by Graph or out of its request budget waits; the others go on; what was read
 * commits, and the next poll comes when the first waiting mailbox may go again.
 */
#include <string.h>

#include "microsoft.h"

#define TAKE_MAX 500

/* Collects the subscription ids of lifecycle notifications. */
static lh_status_t take_notifications(struct microsoft *ms, lh_ctx_t *ctx, json_t *reauthorize,
                                      json_t *removed)
{
    const lh_host_t *host = ms->host;
    for (;;) {
        json_t *items = NULL;
        lh_status_t status = host->notifications_take(ctx, TAKE_MAX, &items);
        if (status != LH_OK) {
            return status;
        }
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            const char *key = json_string_value(json_object_get(item, "key"));
            json_t *id = json_object_get(item, "value");
            if (key != NULL && strncmp(key, "life.reauthorize.", 17) == 0) {
                json_array_append(reauthorize, id);
            } else if (key != NULL && strncmp(key, "life.removed.", 13) == 0) {
                json_array_append(removed, id);
            }
        }
        size_t count = json_array_size(items);
        json_decref(items);
        if (count < TAKE_MAX) {
            return LH_OK;
        }
    }
}

static void note_wait(int64_t wait, int64_t *soonest)
{
    if (wait > 0 && (*soonest == 0 || wait < *soonest)) {
        *soonest = wait;
    }
}

lh_status_t ms_poll(void *state, lh_ctx_t *ctx)
{
    struct microsoft *ms = state;
    const lh_host_t *host = ms->host;
    json_t *reauthorize = json_array();
    json_t *removed = json_array();
    if (reauthorize == NULL || removed == NULL) {
        json_decref(reauthorize);
        json_decref(removed);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    int64_t soonest = 0;
    lh_status_t status = take_notifications(ms, ctx, reauthorize, removed);
    if (status == LH_OK) {
        int64_t wait = 0;
        status = ms_subscriptions_keep(ms, ctx, reauthorize, removed, &wait);
        note_wait(wait, &soonest);
    }
    json_decref(reauthorize);
    json_decref(removed);
    for (size_t m = 0; m < ms->mailbox_count && status == LH_OK; m++) {
        struct ms_mailbox *mailbox = &ms->mailboxes[m];
        int64_t wait = 0;
        if (ms->mail) {
            status = ms_mail_poll(ms, ctx, mailbox, &wait);
        }
        if (status == LH_OK && wait == 0 && ms->calendar) {
            status = ms_calendar_poll(ms, ctx, mailbox, &wait);
        }
        note_wait(wait, &soonest);
    }
    if (status == LH_OK && soonest > 0) {
        /* commit what was read; come back when Graph (or the budget) lets us */
        host->set_retry_after(ctx, soonest);
    }
    return status;
}
