/*
 * lh_cursor.h - the "time cursor plus seen-set" polling pattern (part of the leadhub SDK
 * helpers: include <leadhub-helpers.h>).
 *
 * Most CRMs can list records "updated since T", sorted by update time, to the second or
 * the millisecond. Asking from the last time seen exactly repeats the records updated at
 * that time; asking from just after it loses the ones updated in the same second but
 * written after the last poll. The cursor asks from T (minus an optional overlap, for
 * providers whose listings lag behind their writes) and remembers which records it has
 * already emitted at each update time in that window, so a record is emitted once per
 * change, and never skipped:
 *
 *     lh_cursor_t cursor;
 *     lh_status_t status = lh_cursor_load(host, ctx, "persons", start_ms, 0, &cursor);
 *     if (status != LH_OK) { return status; }
 *     ... ask for records updated at or after lh_cursor_since_ms(&cursor), oldest first ...
 *     for each record:
 *         if (!lh_cursor_is_new(&cursor, id, updated_ms)) continue;
 *         ...emit it...
 *         if (lh_cursor_mark(&cursor, id, updated_ms) != 0) { ...clear, return LH_RETRY... }
 *     status = lh_cursor_save(host, ctx, "persons", &cursor);  // commits with the events
 *     lh_cursor_clear(&cursor);
 *
 * The checkpoint holds {"time": "<RFC 3339>", "seen": {"<16 hex digits of SHA-256(id)>":
 * <updated ms>, ...}}: ids are hashed (they may be emails), and only the records updated
 * within the window [time - overlap, time] are kept, so its size is bounded by how many
 * records share the newest second (plus the overlap). A checkpoint holding a bare RFC 3339
 * string (a plugin's cursor before it adopted this helper) is read as that time with
 * nothing seen.
 *
 * Records must come oldest first (or the whole window be read before lh_cursor_save()):
 * the cursor moves to the newest update time marked, and older ones outside the overlap
 * are taken as already emitted.
 */
#ifndef LEADHUB_LH_CURSOR_H
#define LEADHUB_LH_CURSOR_H

#include <stdint.h>
#include <string.h>

#include "../leadhub.h"
#include "lh_key.h"
#include "lh_time.h"

/* A cursor in memory. Fields may be read; change them only through the functions. */
typedef struct lh_cursor {
    int64_t time_ms;    /* the newest update time marked (or loaded, or the start) */
    int64_t overlap_ms; /* how far before time_ms to ask again */
    json_t *seen;       /* owned: {"<hash>": updated_ms} */
} lh_cursor_t;

/* The seen-set key of an id: 16 hex digits of SHA-256 (64 bits; a collision only
 * re-emits a record, which the host's duplicate detection then stores once). */
static inline void lh_cursor__id_key(const char *id, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[32];
    lh_sha256(id, strlen(id), digest);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[16] = '\0';
}

/*
 * lh_cursor_load - read the cursor saved under `key` (checkpoint_get).
 *   start_ms:   where a cursor never saved starts (the settings' backfill start, or now).
 *   overlap_ms: how far before the newest time seen to ask again (0 when the provider's
 *               listings are consistent with its writes).
 *   cursor:     filled on LH_OK; release with lh_cursor_clear() (also harmless after a
 *               failure).
 *   Returns: LH_OK; checkpoint_get()'s failure; LH_PERMANENT, with the error set, when the
 *            saved value is not a cursor; LH_RETRY when out of memory.
 */
static inline lh_status_t lh_cursor_load(const lh_host_t *host, lh_ctx_t *ctx, const char *key,
                                         int64_t start_ms, int64_t overlap_ms, lh_cursor_t *cursor)
{
    memset(cursor, 0, sizeof(*cursor));
    cursor->time_ms = start_ms;
    cursor->overlap_ms = overlap_ms > 0 ? overlap_ms : 0;
    json_t *saved = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &saved);
    if (status != LH_OK) {
        return status;
    }
    const json_t *time = json_is_object(saved) ? json_object_get(saved, "time") : saved;
    json_t *seen = json_is_object(saved) ? json_object_get(saved, "seen") : NULL;
    if (saved != NULL &&
        (!json_is_string(time) ||
         lh_time_parse_iso8601(json_string_value(time), NULL, &cursor->time_ms) != 0 ||
         (seen != NULL && !json_is_object(seen)))) {
        json_decref(saved);
        host->set_error(ctx, "checkpoint %s does not hold a cursor", key);
        return LH_PERMANENT;
    }
    cursor->seen = seen != NULL ? json_incref(seen) : json_object();
    json_decref(saved);
    return cursor->seen != NULL ? LH_OK : LH_RETRY;
}

/* lh_cursor_since_ms - the update time to ask the provider for records from (inclusive). */
static inline int64_t lh_cursor_since_ms(const lh_cursor_t *cursor)
{
    return cursor->time_ms - cursor->overlap_ms;
}

/*
 * lh_cursor_is_new - 1 when the record `id`, updated at updated_ms, has not been emitted
 * yet: it is inside the window and not marked at this update time or a later one.
 */
static inline int lh_cursor_is_new(const lh_cursor_t *cursor, const char *id, int64_t updated_ms)
{
    if (updated_ms < lh_cursor_since_ms(cursor)) {
        return 0;
    }
    char key[17];
    lh_cursor__id_key(id, key);
    const json_t *marked = json_object_get(cursor->seen, key);
    return !(json_is_integer(marked) && json_integer_value(marked) >= updated_ms);
}

/*
 * lh_cursor_mark - record that `id`, updated at updated_ms, was emitted; the cursor's
 * time moves to updated_ms when it is newer.
 *   Returns: 0; -1 when out of memory (return LH_RETRY: nothing of the poll commits).
 */
static inline int lh_cursor_mark(lh_cursor_t *cursor, const char *id, int64_t updated_ms)
{
    char key[17];
    lh_cursor__id_key(id, key);
    if (cursor->seen == NULL ||
        json_object_set_new(cursor->seen, key, json_integer(updated_ms)) != 0) {
        return -1;
    }
    if (updated_ms > cursor->time_ms) {
        cursor->time_ms = updated_ms;
    }
    return 0;
}

/*
 * lh_cursor_save - checkpoint_put() the cursor under `key`, dropping the marks that fell
 * out of the window. In poll() it commits with the events emitted in the call.
 *   Returns: checkpoint_put()'s status; LH_PERMANENT (error set) when the time is out of
 *            range; LH_RETRY when out of memory.
 */
static inline lh_status_t lh_cursor_save(const lh_host_t *host, lh_ctx_t *ctx, const char *key,
                                         lh_cursor_t *cursor)
{
    char time[LH_TIME_TEXT_SIZE];
    if (lh_time_format(cursor->time_ms, time) != 0) {
        host->set_error(ctx, "cursor %s: time out of range", key);
        return LH_PERMANENT;
    }
    int64_t since = lh_cursor_since_ms(cursor);
    const char *id;
    json_t *marked;
    void *tmp;
    json_object_foreach_safe(cursor->seen, tmp, id, marked)
    {
        if (json_integer_value(marked) < since) {
            json_object_del(cursor->seen, id);
        }
    }
    json_t *value = json_pack("{s:s, s:O}", "time", time, "seen", cursor->seen);
    if (value == NULL) {
        return LH_RETRY;
    }
    return host->checkpoint_put(ctx, key, value);
}

/* lh_cursor_clear - free what the cursor holds. Accepts a cursor never loaded (zeroed). */
static inline void lh_cursor_clear(lh_cursor_t *cursor)
{
    json_decref(cursor->seen);
    cursor->seen = NULL;
}

#endif /* LEADHUB_LH_CURSOR_H */
