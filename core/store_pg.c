/*
 * store_pg.c - one libpq connection: connect, reconnect, prepared statements, and what an
 * error means (retry later, retry now, or give up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

#define STORE_MAX_PREPARED 64

struct store {
    PGconn *conn;
    char *url;
    /* Names of the statements prepared on this connection (constants, not owned). */
    const char *prepared[STORE_MAX_PREPARED];
    size_t prepared_count;
};

char *store_redact_url(const char *url)
{
    /* URI form: scheme://user:password@host... -> scheme://user:****@host... */
    const char *scheme = strstr(url, "://");
    if (scheme != NULL) {
        const char *authority = scheme + 3;
        const char *at = strchr(authority, '@');
        const char *slash = strchr(authority, '/');
        if (at != NULL && (slash == NULL || at < slash)) {
            const char *colon = memchr(authority, ':', (size_t)(at - authority));
            if (colon != NULL) {
                return util_printf("%.*s:****%s", (int)(colon - url), url, at);
            }
        }
        return strdup(url);
    }
    /* key=value form: drop the password value */
    struct strbuf sb = {0};
    const char *p = url;
    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, "password=", 9) == 0) {
            strbuf_append(&sb, "password=****");
        } else {
            strbuf_append_len(&sb, p, len);
        }
        p += len;
        while (*p == ' ') {
            strbuf_append(&sb, " ");
            p++;
        }
    }
    return strbuf_take(&sb);
}

static char *trimmed_copy(const char *text)
{
    char *copy = strdup(text != NULL ? text : "");
    if (copy == NULL) {
        return NULL;
    }
    size_t len = strlen(copy);
    while (len > 0 && (copy[len - 1] == '\n' || copy[len - 1] == ' ')) {
        copy[--len] = '\0';
    }
    return copy;
}

char *store_error_message(PGconn *conn, const PGresult *result)
{
    if (result != NULL) {
        const char *primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
        const char *detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
        if (primary != NULL) {
            return detail != NULL ? util_printf("%s (%s)", primary, detail) : strdup(primary);
        }
        const char *message = PQresultErrorMessage(result);
        if (message != NULL && message[0] != '\0') {
            return trimmed_copy(message);
        }
    }
    return trimmed_copy(conn != NULL ? PQerrorMessage(conn) : "no connection");
}

enum store_result store_classify(PGconn *conn, const PGresult *result)
{
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        return STORE_UNAVAILABLE;
    }
    if (result == NULL) {
        return STORE_UNAVAILABLE;
    }
    const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state == NULL) {
        /* no SQLSTATE: the failure happened on our side of the wire */
        return STORE_UNAVAILABLE;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        return STORE_CONFLICT;
    }
    /* Class 08 connection exceptions, 57 operator intervention (shutdown, cancel),
     * 53 insufficient resources: all pass. */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strncmp(state, "53", 2) == 0) {
        return STORE_UNAVAILABLE;
    }
    return STORE_REJECTED;
}

/* Server notices ("relation already exists, skipping") are not worth a log line. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_url(const char *url, char **error_out)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name",
                                       "client_encoding", NULL};
    const char *const values[] = {url, "5", "leadhubd", "UTF8", NULL};
    /* expand_dbname=1: the first dbname may be a whole URI or conninfo string; the other
     * keys only apply where it does not say otherwise. */
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        *error_out = strdup("out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        *error_out = trimmed_copy(PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

struct store *store_open(const char *url, char **error_out)
{
    *error_out = NULL;
    struct store *store = calloc(1, sizeof(*store));
    if (store == NULL || (store->url = strdup(url)) == NULL) {
        free(store);
        *error_out = strdup("out of memory");
        return NULL;
    }
    store->conn = connect_url(url, error_out);
    if (store->conn == NULL) {
        store_close(store);
        return NULL;
    }
    return store;
}

void store_close(struct store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->conn != NULL) {
        PQfinish(store->conn);
    }
    free(store->url);
    free(store);
}

PGconn *store_connection(struct store *store)
{
    return store->conn;
}

bool store_connected(const struct store *store)
{
    return store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK;
}

enum store_result store_ensure(struct store *store, char **error_out)
{
    if (store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK &&
        PQtransactionStatus(store->conn) == PQTRANS_IDLE) {
        return STORE_OK;
    }
    if (store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK &&
        PQtransactionStatus(store->conn) == PQTRANS_INERROR) {
        store_rollback(store);
        return STORE_OK;
    }
    if (store->conn != NULL) {
        PQfinish(store->conn);
        store->conn = NULL;
    }
    store->prepared_count = 0;
    char *error = NULL;
    store->conn = connect_url(store->url, &error);
    if (store->conn == NULL) {
        if (error_out != NULL) {
            *error_out = error;
        } else {
            free(error);
        }
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

static bool is_prepared(const struct store *store, const char *name)
{
    for (size_t i = 0; i < store->prepared_count; i++) {
        if (strcmp(store->prepared[i], name) == 0) {
            return true;
        }
    }
    return false;
}

enum store_result store_exec(struct store *store, const char *name, const char *sql, int nparams,
                             const char *const *params, PGresult **result_out, char **error_out)
{
    if (result_out != NULL) {
        *result_out = NULL;
    }
    if (store->conn == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("not connected");
        }
        return STORE_UNAVAILABLE;
    }
    if (!is_prepared(store, name)) {
        PGresult *prepared = PQprepare(store->conn, name, sql, nparams, NULL);
        if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
            enum store_result rc = store_classify(store->conn, prepared);
            if (error_out != NULL) {
                *error_out = store_error_message(store->conn, prepared);
            }
            PQclear(prepared);
            return rc;
        }
        PQclear(prepared);
        if (store->prepared_count < STORE_MAX_PREPARED) {
            store->prepared[store->prepared_count++] = name;
        }
    }
    PGresult *result = PQexecPrepared(store->conn, name, nparams, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        enum store_result rc = store_classify(store->conn, result);
        if (error_out != NULL) {
            *error_out = store_error_message(store->conn, result);
        }
        PQclear(result);
        return rc;
    }
    if (result_out != NULL) {
        *result_out = result;
    } else {
        PQclear(result);
    }
    return STORE_OK;
}

static enum store_result exec_simple(struct store *store, const char *sql, char **error_out)
{
    if (store->conn == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("not connected");
        }
        return STORE_UNAVAILABLE;
    }
    PGresult *result = PQexec(store->conn, sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        enum store_result rc = store_classify(store->conn, result);
        if (error_out != NULL) {
            *error_out = store_error_message(store->conn, result);
        }
        PQclear(result);
        return rc;
    }
    PQclear(result);
    return STORE_OK;
}

enum store_result store_begin(struct store *store, char **error_out)
{
    return exec_simple(store, "BEGIN", error_out);
}

enum store_result store_commit(struct store *store, char **error_out)
{
    return exec_simple(store, "COMMIT", error_out);
}

void store_rollback(struct store *store)
{
    if (store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK &&
        PQtransactionStatus(store->conn) != PQTRANS_IDLE) {
        PQclear(PQexec(store->conn, "ROLLBACK"));
    }
}

json_t *store_json_loads(const char *text, size_t flags, json_error_t *error)
{
    json_t *value = json_loads(text, flags, error);
    if (value == NULL) {
        value = json_loads(text, flags | JSON_DECODE_INT_AS_REAL, error);
    }
    return value;
}

enum store_result store_checkpoint_get(struct store *store, const char *instance, const char *key,
                                       json_t **value_out, char **error_out)
{
    *value_out = NULL;
    const char *params[] = {instance, key};
    PGresult *result = NULL;
    enum store_result rc =
        store_exec(store, "checkpoint_get",
                   "SELECT value::text FROM connector_state WHERE instance = $1 AND key = $2", 2,
                   params, &result, error_out);
    if (rc != STORE_OK) {
        return rc;
    }
    if (PQntuples(result) == 1) {
        json_error_t jerr;
        *value_out = store_json_loads(PQgetvalue(result, 0, 0), JSON_DECODE_ANY, &jerr);
        if (*value_out == NULL) {
            if (error_out != NULL) {
                *error_out = util_printf("stored checkpoint %s is not JSON: %s", key, jerr.text);
            }
            rc = STORE_REJECTED;
        }
    }
    PQclear(result);
    return rc;
}

enum store_result store_checkpoint_put(struct store *store, const char *instance, const char *key,
                                       const json_t *value, char **error_out)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("out of memory");
        }
        return STORE_UNAVAILABLE;
    }
    const char *params[] = {instance, key, text};
    enum store_result rc = store_exec(
        store, "checkpoint_put",
        "INSERT INTO connector_state (instance, key, value) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (instance, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        3, params, NULL, error_out);
    free(text);
    return rc;
}

enum store_result store_identity_put(struct store *store, const char *source,
                                     const char *external_id, int64_t lead_id, char **error_out)
{
    char lead[24];
    snprintf(lead, sizeof(lead), "%lld", (long long)lead_id);
    const char *params[] = {source, external_id, lead};
    return store_exec(store, "identity_put",
                      "INSERT INTO lead_identities (source, external_id, lead_id) "
                      "SELECT $1, $2, id FROM leads WHERE id = $3::bigint "
                      "ON CONFLICT (source, external_id) DO NOTHING",
                      3, params, NULL, error_out);
}
