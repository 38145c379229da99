/*
 * stripe_poll.c - the reconciliation poll: GET /v1/events catches what webhooks missed.
 *
 * The problem. Stripe lists events newest first and pages toward older ones with
 * starting_after. Events must be processed oldest first (a customer's update after its
 * creation), the checkpoint must never move past an event that was not processed, and a
 * poll can stop anywhere: its deadline (should_stop), a failing page, a crash.
 *
 * The cursor (stripe_cursor.c) holds a watermark: everything created before `created` is
 * processed, and so are `ids` of that very second. Each request asks for
 * created >= watermark, so the list always ends (has_more false) at the oldest event not
 * yet processed, and the processed part of the list only shrinks from the bottom.
 *
 * A round walks from a start position (the top of the list, or a mark) down to the end of
 * the list, keeping the unprocessed events it sees. When the kept events fill a window
 * (the `poll_window` setting) and another unprocessed event shows up further down, the
 * kept ones are dropped and the position where the next window starts is pushed on the
 * `marks` stack. At the end of the list, the last window is the oldest unprocessed part:
 * it is sorted oldest first and processed, the watermark moves up through it, and its
 * mark is popped and becomes the `floor`: everything after it in the list is processed
 * now, so the next round, starting at the new deepest mark, stops there instead of reading
 * on to the end of the list. A round that started at the top of the list and processed
 * its window leaves nothing behind.
 *
 * So events are processed oldest first across pages, windows and polls, memory is bounded
 * by a window, and no page above a mark is fetched twice for nothing. When the poll must
 * stop mid-walk it pushes how deep it got as a mark (the events it kept are dropped, not
 * processed: they lie above that mark) and returns LH_OK: the host commits the cursor
 * with the events of the rounds already processed, and the next poll goes on from the
 * deepest mark, which again ends at the floor; so every poll that reads one page makes
 * progress, however short its deadline. A failing page returns an error: nothing of the
 * poll is committed, and
 * the next poll repeats it from the saved cursor. Positions between marks do not move
 * when new events arrive (they are added at the top), so saved marks stay valid; one
 * Stripe no longer knows (events expire after 30 days) sends the poll back to the top.
 */
#include <stdlib.h>
#include <string.h>

#include "stripe.h"

#define CURSOR_KEY       "events"
#define METRIC_SKIPPED   "stripe_events_skipped_total"
#define METRIC_PAGES     "stripe_poll_pages_total"
#define METRIC_WATERMARK "stripe_poll_watermark_seconds"
#define METRIC_PENDING   "stripe_poll_windows_pending"
#define METRIC_GAPS      "stripe_poll_gaps_total"

struct poll_run {
    const struct stripe *stripe;
    lh_ctx_t *ctx;
    struct stripe_filter filter;
    struct stripe_cursor cursor;
    size_t emitted; /* events handed to the host by this poll */
};

struct entry {
    const json_t *event;
    json_int_t created;
    size_t order; /* position in the list: newest first */
};

/* Oldest first; within one second, in the list's order reversed (Stripe's newest first). */
static int compare_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->created != y->created) {
        return x->created < y->created ? -1 : 1;
    }
    return x->order > y->order ? -1 : x->order < y->order ? 1 : 0;
}

/* Normalizes and emits one event; skips are counted and logged, never fatal. */
static lh_status_t handle_event(struct poll_run *run, const json_t *event, const char *id)
{
    const lh_host_t *host = run->stripe->host;
    struct stripe_outcome outcome;
    enum stripe_verdict verdict = stripe_normalize(event, &run->filter, &outcome);
    switch (verdict) {
    case STRIPE_EMIT: {
        size_t emitted = 0;
        lh_status_t status = stripe_emit_outcome(host, run->ctx, &outcome, &emitted);
        run->emitted += emitted;
        if (status == LH_PERMANENT) {
            /* The normalizer's output is meant to pass the host's checks (the fuzz target
             * asserts it): this is a bug, and one event must not block the poll forever. */
            host->counter_add(run->ctx, METRIC_SKIPPED, "reason", "refused", 1);
            host->log(run->ctx, LH_LOG_ERROR,
                      "event %s: the host refused its normalized event; skipped", id);
        } else if (status != LH_OK) {
            return status;
        }
        return LH_OK;
    }
    case STRIPE_SKIP:
        host->counter_add(run->ctx, METRIC_SKIPPED, "reason", outcome.reason, 1);
        host->log(run->ctx, LH_LOG_DEBUG, "skipped: %s", outcome.detail);
        return LH_OK;
    case STRIPE_INVALID:
        /* the webhook answers 400 for it; a poll cannot, and must not stall on it */
        host->counter_add(run->ctx, METRIC_SKIPPED, "reason", outcome.reason, 1);
        host->log(run->ctx, LH_LOG_WARN, "skipped an unreadable event: %s", outcome.detail);
        return LH_OK;
    case STRIPE_NO_MEMORY:
        break;
    }
    host->set_error(run->ctx, "%s", outcome.detail);
    return LH_RETRY;
}

/* Processes a window (kept in list order, newest first) oldest first, moving the
 * watermark through it. Stops once the poll has emitted STRIPE_POLL_EVENT_BUDGET events,
 * with *complete_out false: the rest of the window, newer than the watermark, is left for
 * the next poll. */
static lh_status_t process_window(struct poll_run *run, const json_t *window, bool *complete_out)
{
    size_t count = json_array_size(window);
    *complete_out = true;
    if (count == 0) {
        return LH_OK;
    }
    struct entry *entries = calloc(count, sizeof(*entries));
    if (entries == NULL) {
        run->stripe->host->set_error(run->ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *event = json_array_get(window, i);
        entries[i] =
            (struct entry){event, json_integer_value(json_object_get(event, "created")), i};
    }
    qsort(entries, count, sizeof(*entries), compare_entries);
    lh_status_t status = LH_OK;
    for (size_t i = 0; i < count && status == LH_OK; i++) {
        if (run->emitted >= STRIPE_POLL_EVENT_BUDGET) {
            *complete_out = false;
            break;
        }
        const char *id = json_string_value(json_object_get(entries[i].event, "id"));
        status = handle_event(run, entries[i].event, id);
        if (status == LH_OK && stripe_cursor_advance(&run->cursor, id, entries[i].created) != 0) {
            run->stripe->host->set_error(run->ctx, "out of memory");
            status = LH_RETRY;
        }
    }
    free(entries);
    return status;
}

static char *copy_or_null(const char *text, bool *failed)
{
    char *copy = text != NULL ? strdup(text) : NULL;
    *failed |= text != NULL && copy == NULL;
    return copy;
}

static bool same_id(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * One round (see the top of the file): from the deepest mark (or the top) to the end of
 * the list, then the last window processed.
 *   done_out:        the processed window started at the top: nothing is left to do.
 *   interrupted_out: should_stop() ended the walk (how deep it got is pushed as a mark), or
 *                    the poll's event budget ended the window's processing.
 *   stale_out:       Stripe no longer knows the start mark.
 */
static lh_status_t run_round(struct poll_run *run, bool *done_out, bool *interrupted_out,
                             bool *stale_out)
{
    const struct stripe *stripe = run->stripe;
    const lh_host_t *host = stripe->host;
    bool failed = false;
    char *position = copy_or_null(stripe_cursor_top_mark(&run->cursor), &failed);
    bool window_from_mark = position != NULL; /* the kept window starts at a mark */
    bool window_full = false;
    size_t pages = 0;
    json_t *window = json_array();
    lh_status_t status = LH_OK;
    if (failed || window == NULL) {
        goto out_of_memory;
    }
    for (;;) {
        if (pages > 0 && host->should_stop(run->ctx)) {
            if (!same_id(position, stripe_cursor_top_mark(&run->cursor)) &&
                stripe_cursor_push_mark(&run->cursor, position) != 0) {
                goto out_of_memory;
            }
            *interrupted_out = true;
            goto out;
        }
        json_t *page = NULL;
        status = stripe_api_list_events(stripe, run->ctx, run->cursor.created, position, &page,
                                        stale_out);
        if (status != LH_OK) {
            goto out;
        }
        pages++;
        host->counter_add(run->ctx, METRIC_PAGES, NULL, NULL, 1);
        const json_t *items = json_object_get(page, "data");
        const char *floor = run->cursor.floor;
        bool reached_floor = false;
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            const char *id = json_string_value(json_object_get(item, "id"));
            /* past the floor everything is processed: this window ends here */
            reached_floor = floor[0] != '\0' && strcmp(id, floor) == 0;
            if (stripe_cursor_processed(&run->cursor, id,
                                        json_integer_value(json_object_get(item, "created")))) {
                if (reached_floor) {
                    break;
                }
                continue;
            }
            if (window_full) {
                /* more unprocessed events below a full window: the window above ends where
                 * this page starts; remember that place and drop its events for now */
                if (stripe_cursor_push_mark(&run->cursor, position) != 0) {
                    json_decref(page);
                    goto out_of_memory;
                }
                json_array_clear(window);
                window_from_mark = true;
                window_full = false;
            }
            if (json_array_append(window, (json_t *)item) != 0) {
                json_decref(page);
                goto out_of_memory;
            }
            if (reached_floor) {
                break;
            }
        }
        size_t count = json_array_size(items);
        bool has_more = json_is_true(json_object_get(page, "has_more"));
        if (count > 0) {
            free(position);
            position = copy_or_null(
                json_string_value(json_object_get(json_array_get(items, count - 1), "id")),
                &failed);
        }
        json_decref(page);
        if (failed) {
            goto out_of_memory;
        }
        if (!has_more || count == 0 || reached_floor) {
            break;
        }
        window_full = json_array_size(window) >= stripe->window;
    }
    bool complete = true;
    status = process_window(run, window, &complete);
    if (status == LH_OK && !complete) {
        /* the budget ran out inside the window: its mark stays, and the next poll walks it
         * again from there, skipping what the watermark now covers */
        *interrupted_out = true;
    } else if (status == LH_OK) {
        if (window_from_mark) {
            stripe_cursor_pop_mark(&run->cursor);
        } else {
            stripe_cursor_forget_positions(&run->cursor); /* all processed: nothing to keep */
        }
        *done_out = !window_from_mark;
    }
    goto out;
out_of_memory:
    host->set_error(run->ctx, "out of memory");
    status = LH_RETRY;
out:
    json_decref(window);
    free(position);
    return status;
}

static void warn_about_gap(struct poll_run *run, int64_t now_s)
{
    const lh_host_t *host = run->stripe->host;
    int64_t polled_at = run->cursor.polled_at;
    if (polled_at > 0 && polled_at < now_s - STRIPE_RETENTION_S) {
        /* Stripe keeps events 30 days: some may be gone before this poll could see them */
        host->counter_add(run->ctx, METRIC_GAPS, NULL, NULL, 1);
        host->log(run->ctx, LH_LOG_WARN,
                  "the last complete poll was %lld days ago and Stripe keeps events for 30 "
                  "days: events of that gap that webhooks did not deliver are lost",
                  (long long)((now_s - polled_at) / 86400));
    }
}

lh_status_t stripe_poll(void *state, lh_ctx_t *ctx)
{
    const struct stripe *stripe = state;
    const lh_host_t *host = stripe->host;
    struct poll_run run = {
        .stripe = stripe,
        .ctx = ctx,
        .filter = {.types = stripe->types, .livemode = stripe->livemode},
    };
    int64_t now_s = host->now_ms(ctx) / 1000;
    json_t *saved = NULL;
    lh_status_t status = host->checkpoint_get(ctx, CURSOR_KEY, &saved);
    if (status != LH_OK) {
        return status;
    }
    const char *note = NULL;
    int rc = stripe_cursor_load(saved, stripe->types_signature, now_s - stripe->backfill_s,
                                &run.cursor, &note);
    json_decref(saved);
    if (rc != 0) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (note != NULL) {
        host->log(ctx, LH_LOG_WARN, "%s", note);
    }
    warn_about_gap(&run, now_s);
    bool restarted = false;
    while (!host->should_stop(ctx) && run.emitted < STRIPE_POLL_EVENT_BUDGET) {
        int64_t round_started = host->now_ms(ctx) / 1000;
        bool done = false, interrupted = false, stale = false;
        status = run_round(&run, &done, &interrupted, &stale);
        if (status != LH_OK && stale && !restarted) {
            /* windows are only ever skipped to be fetched later: forgetting them all and
             * walking from the top again loses nothing */
            host->log(ctx, LH_LOG_WARN,
                      "Stripe no longer knows a saved position (events expire after 30 days): "
                      "walking again from the newest event");
            stripe_cursor_forget_positions(&run.cursor);
            restarted = true;
            continue;
        }
        if (status != LH_OK) {
            goto out;
        }
        if (done) {
            run.cursor.polled_at = round_started;
        }
        if (done || interrupted) {
            break;
        }
    }
    json_t *value = stripe_cursor_to_json(&run.cursor, stripe->types_signature);
    if (value == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    status = host->checkpoint_put(ctx, CURSOR_KEY, value);
    if (status == LH_OK) {
        host->gauge_set(ctx, METRIC_WATERMARK, NULL, NULL, (double)run.cursor.created);
        host->gauge_set(ctx, METRIC_PENDING, NULL, NULL, (double)json_array_size(run.cursor.marks));
    }
out:
    stripe_cursor_clear(&run.cursor);
    return status;
}
