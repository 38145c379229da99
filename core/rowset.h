/*
 * rowset.h - the rows of one set-based statement written straight to JSON text: an array
 * of objects, the single jsonb parameter that jsonb_to_recordset() takes apart.
 *
 * Writing text directly, rather than building jansson objects and dumping them, saves an
 * allocation per field on the ingest path; only JSON values (an event's payload) go
 * through jansson's encoder, and straight into the buffer.
 *
 *   struct rowset rows = {0};
 *   rowset_row(&rows);
 *   rowset_string(&rows, "source", source);    // a NULL value writes nothing (SQL NULL)
 *   rowset_int(&rows, "lead_id", lead_id);
 *   rowset_json(&rows, "payload", event);      // borrowed
 *   const char *text = rowset_text(&rows);     // "[{...},...]", NULL when out of memory
 *   rowset_free(&rows);
 *
 * Keys are constants of the caller's and are not escaped; values are.
 */
#ifndef LEADHUB_ROWSET_H
#define LEADHUB_ROWSET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct rowset {
    struct strbuf text;
    size_t count;    /* rows so far */
    bool field_open; /* the current row has a field already */
    bool closed;     /* rowset_text() ended the array */
};

/* rowset_row - start the next row (not after rowset_text()). */
void rowset_row(struct rowset *rows);

void rowset_string(struct rowset *rows, const char *key, const char *value);
void rowset_int(struct rowset *rows, const char *key, int64_t value);
/* rowset_double - as precisely as a double prints (a non-finite value writes null). */
void rowset_double(struct rowset *rows, const char *key, double value);
/* rowset_json - `value` (BORROWED) encoded compactly; NULL writes nothing. */
void rowset_json(struct rowset *rows, const char *key, const json_t *value);

/* rowset_text - the whole array, owned by `rows`; "[]" when empty, NULL after a failed
 * allocation. */
const char *rowset_text(struct rowset *rows);

void rowset_free(struct rowset *rows);

/* rowset_append_json_string - `value` as a JSON string literal (quotes included). */
void rowset_append_json_string(struct strbuf *sb, const char *value);

#endif
