/*
 * store_pg.c - one libpq connection: connect, reconnect, prepared statements, and what an
 * error means (retry later, retry now, or give up).
 */
#include <ctype.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_policy.h"
#include "store_pg.h"
#include "util.h"

#define STORE_MAX_PREPARED 64

struct store {
    PGconn *conn;
    char *url;
    /* Names of the statements prepared on this connection (constants, not owned). */
    const char *prepared[STORE_MAX_PREPARED];
    size_t prepared_count;
    size_t pipeline_sent; /* statements sent since the last sync */
};

/* Where a connection string writes a password: offsets into it, the value only. */
struct password_span {
    size_t start;
    size_t len;
};

#define STORE_MAX_PASSWORDS 8

/* libpq's URI prefixes; anything else is a keyword=value string. */
static size_t uri_prefix_length(const char *url)
{
    static const char *const prefixes[] = {"postgresql://", "postgres://"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(url, prefixes[i], n) == 0) {
            return n;
        }
    }
    return 0;
}

/* Is the URI query key [key, key + len) "password", percent-encoded or not? */
static bool query_key_is_password(const char *key, size_t len)
{
    char decoded[16];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n + 1 >= sizeof(decoded)) {
            return false;
        }
        if (key[i] == '%' && i + 2 < len && isxdigit((unsigned char)key[i + 1]) &&
            isxdigit((unsigned char)key[i + 2])) {
            char hex[3] = {key[i + 1], key[i + 2], '\0'};
            decoded[n++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            decoded[n++] = key[i];
        }
    }
    decoded[n] = '\0';
    return strcmp(decoded, "password") == 0;
}

/* A URI's passwords, parsed as libpq does: user:PASSWORD@ before the first '/' or '@',
 * and every password=VALUE in the query. */
static size_t uri_password_spans(const char *url, size_t prefix, struct password_span *spans)
{
    size_t count = 0;
    const char *authority = url + prefix;
    size_t end = strcspn(authority, "@/");
    if (authority[end] == '@') {
        const char *colon = memchr(authority, ':', end);
        if (colon != NULL) {
            spans[count++] = (struct password_span){(size_t)(colon + 1 - url),
                                                    (size_t)(authority + end - colon - 1)};
        }
    }
    const char *query = strchr(authority, '?');
    for (const char *p = query != NULL ? query + 1 : NULL; p != NULL && *p != '\0';) {
        size_t item = strcspn(p, "&");
        const char *equals = memchr(p, '=', item);
        if (equals != NULL && query_key_is_password(p, (size_t)(equals - p)) &&
            count < STORE_MAX_PASSWORDS) {
            spans[count++] =
                (struct password_span){(size_t)(equals + 1 - url), (size_t)(p + item - equals - 1)};
        }
        p = p[item] == '&' ? p + item + 1 : NULL;
    }
    return count;
}

/* A keyword=value string's passwords, parsed as libpq does: spaces around '=', values
 * single-quoted (backslash escapes) or up to the next space. */
static size_t conninfo_password_spans(const char *url, struct password_span *spans)
{
    size_t count = 0;
    const char *p = url;
    while (*p != '\0') {
        p += strspn(p, " \t\n\r\f\v");
        const char *key = p;
        p += strcspn(p, "= \t\n\r\f\v");
        size_t key_len = (size_t)(p - key);
        p += strspn(p, " \t\n\r\f\v");
        if (*p != '=') {
            break; /* malformed: libpq refuses it without echoing a value */
        }
        p++;
        p += strspn(p, " \t\n\r\f\v");
        bool quoted = *p == '\'';
        p += quoted;
        const char *value = p;
        while (*p != '\0' && (quoted ? *p != '\'' : strchr(" \t\n\r\f\v", *p) == NULL)) {
            p += (p[0] == '\\' && p[1] != '\0') ? 2 : 1;
        }
        if (key_len == 8 && strncmp(key, "password", 8) == 0 && count < STORE_MAX_PASSWORDS) {
            spans[count++] = (struct password_span){(size_t)(value - url), (size_t)(p - value)};
        }
        p += quoted && *p == '\'';
    }
    return count;
}

static size_t password_spans(const char *url, struct password_span *spans)
{
    size_t prefix = uri_prefix_length(url);
    return prefix > 0 ? uri_password_spans(url, prefix, spans)
                      : conninfo_password_spans(url, spans);
}

char *store_redact_url(const char *url)
{
    struct password_span spans[STORE_MAX_PASSWORDS];
    size_t count = password_spans(url, spans);
    struct strbuf sb = {0};
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        strbuf_append_len(&sb, url + at, spans[i].start - at);
        strbuf_append(&sb, "****");
        at = spans[i].start + spans[i].len;
    }
    strbuf_append(&sb, url + at);
    return strbuf_take(&sb);
}

/* Every occurrence of needle in *text replaced by "****"; *text is replaced by a new
 * string (left alone when out of memory). */
static void mask_in(char **text, const char *needle, size_t len)
{
    if (*text == NULL || len == 0 || strstr(*text, needle) == NULL) {
        return;
    }
    struct strbuf sb = {0};
    const char *p = *text;
    for (const char *hit; (hit = strstr(p, needle)) != NULL; p = hit + len) {
        strbuf_append_len(&sb, p, (size_t)(hit - p));
        strbuf_append(&sb, "****");
    }
    strbuf_append(&sb, p);
    char *masked = strbuf_take(&sb);
    if (masked != NULL) {
        explicit_bzero(*text, strlen(*text));
        free(*text);
        *text = masked;
    }
}

char *store_redact_message(const char *url, const char *message)
{
    char *text = strdup(message != NULL ? message : "");
    struct password_span spans[STORE_MAX_PASSWORDS];
    size_t count = password_spans(url, spans);
    for (size_t i = 0; i < count; i++) {
        char *written = strndup(url + spans[i].start, spans[i].len);
        if (written == NULL) {
            free(text);
            return strdup("(message withheld: out of memory)");
        }
        mask_in(&text, written, spans[i].len);
        explicit_bzero(written, spans[i].len);
        free(written);
    }
    /* libpq's own reading of it (percent-decoded, unquoted), when it can read it */
    PQconninfoOption *options = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
            mask_in(&text, o->val, strlen(o->val));
        }
    }
    PQconninfoFree(options);
    return text;
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
    /* 23503: a row named a lead another transaction merged away meanwhile (store_lead_merge.c);
     * done again, the batch resolves to the lead it was merged into */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "23503") == 0) {
        return STORE_CONFLICT;
    }
    if (strcmp(state, "LHF01") == 0) {
        return STORE_FENCED; /* leadhub_poll_fence_check(), migration 0009 */
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

/* The statement timeout of sessions opened after store_set_statement_timeout(); 0: none.
 * Written once at start-up, before threads start. */
static int64_t session_statement_timeout_ms;

void store_set_statement_timeout(int64_t ms)
{
    session_statement_timeout_ms = ms;
}

/* A statement timeout unless the server already gives the session one (the role's, the
 * database's, or `options` in the URL): theirs wins. */
static int apply_statement_timeout(PGconn *conn, char **error_out)
{
    if (session_statement_timeout_ms <= 0) {
        return 0;
    }
    char value[32];
    snprintf(value, sizeof(value), "%lldms", (long long)session_statement_timeout_ms);
    const char *params[] = {value};
    PGresult *result = PQexecParams(conn,
                                    "SELECT set_config('statement_timeout', $1, false) "
                                    "WHERE current_setting('statement_timeout') = '0'",
                                    1, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(result) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) {
        *error_out = store_error_message(conn, result);
    }
    PQclear(result);
    return rc;
}

PGconn *store_connect(const char *url, char **error_out)
{
    /* Timeouts first: with expand_dbname=1 the URL (the dbname value, expanded) overrides
     * the keywords before it, so an operator's connect_timeout or keepalives win. */
    static const char *const keys[] = {"connect_timeout",  "keepalives",
                                       "keepalives_idle",  "keepalives_interval",
                                       "keepalives_count", "tcp_user_timeout",
                                       "dbname",           "application_name",
                                       "client_encoding",  NULL};
    /* After the URL, what it may not change: the release's name and schema generation,
     * which `leadhubd migrate` reads from pg_stat_activity before it applies a contracting
     * migration (schema_policy.h), and the encoding. */
    const char *const values[] = {STORE_CONNECT_TIMEOUT_S,
                                  "1",
                                  STORE_KEEPALIVES_IDLE_S,
                                  STORE_KEEPALIVES_INTERVAL_S,
                                  STORE_KEEPALIVES_COUNT,
                                  STORE_TCP_USER_TIMEOUT_MS,
                                  url,
                                  schema_policy_application_name(),
                                  "UTF8",
                                  NULL};
    *error_out = NULL;
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        *error_out = strdup("out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq may quote the string it could not parse, password and all */
        char *message = trimmed_copy(PQerrorMessage(conn));
        *error_out = message != NULL ? store_redact_message(url, message) : NULL;
        free(message);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    if (apply_statement_timeout(conn, error_out) != 0) {
        PQfinish(conn);
        return NULL;
    }
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
    store->conn = store_connect(url, error_out);
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
    store->conn = store_connect(store->url, &error);
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
    enum store_result prepared = store_prepare(store, name, sql, nparams, error_out);
    if (prepared != STORE_OK) {
        return prepared;
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

enum store_result store_prepare(struct store *store, const char *name, const char *sql, int nparams,
                                char **error_out)
{
    if (store->conn == NULL) {
        if (error_out != NULL) {
            *error_out = strdup("not connected");
        }
        return STORE_UNAVAILABLE;
    }
    if (is_prepared(store, name)) {
        return STORE_OK;
    }
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
    return STORE_OK;
}

/* --- pipelines ---------------------------------------------------------------------------- */

static enum store_result send_failed(struct store *store, char **error_out)
{
    if (error_out != NULL && *error_out == NULL) {
        *error_out = store_error_message(store->conn, NULL);
    }
    return STORE_UNAVAILABLE;
}

enum store_result store_pipeline_begin(struct store *store, char **error_out)
{
    if (store->conn == NULL || PQenterPipelineMode(store->conn) != 1) {
        return send_failed(store, error_out);
    }
    store->pipeline_sent = 0;
    return STORE_OK;
}

enum store_result store_pipeline_send(struct store *store, const char *name, int nparams,
                                      const char *const *params, char **error_out)
{
    if (!is_prepared(store, name) ||
        PQsendQueryPrepared(store->conn, name, nparams, params, NULL, NULL, 0) != 1) {
        if (!is_prepared(store, name) && error_out != NULL && *error_out == NULL) {
            *error_out = util_printf("statement %s was not prepared", name);
        }
        return send_failed(store, error_out);
    }
    store->pipeline_sent++;
    return STORE_OK;
}

enum store_result store_pipeline_send_command(struct store *store, const char *command,
                                              char **error_out)
{
    if (PQsendQueryParams(store->conn, command, 0, NULL, NULL, NULL, NULL, 0) != 1) {
        return send_failed(store, error_out);
    }
    store->pipeline_sent++;
    return STORE_OK;
}

enum store_result store_pipeline_sync(struct store *store, PGresult **results, size_t count,
                                      char **error_out)
{
    enum store_result rc = STORE_OK;
    size_t expected = store->pipeline_sent;
    store->pipeline_sent = 0;
    for (size_t i = 0; i < count; i++) {
        results[i] = NULL;
    }
    if (PQpipelineSync(store->conn) != 1) {
        return send_failed(store, error_out);
    }
    /* Each statement's results end with NULL; the sync point ends the batch. The first
     * failure is the one reported: the statements after it are only "aborted". */
    for (size_t i = 0; i < expected; i++) {
        PGresult *result;
        bool got = false;
        while ((result = PQgetResult(store->conn)) != NULL) {
            ExecStatusType status = PQresultStatus(result);
            if (got || status == PGRES_PIPELINE_ABORTED) {
                PQclear(result);
                continue;
            }
            got = true;
            if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                if (rc == STORE_OK) {
                    rc = store_classify(store->conn, result);
                    if (error_out != NULL) {
                        *error_out = store_error_message(store->conn, result);
                    }
                }
                PQclear(result);
            } else if (i < count && rc == STORE_OK) {
                results[i] = result;
            } else {
                PQclear(result);
            }
        }
        if (!got && PQstatus(store->conn) != CONNECTION_OK) {
            if (rc == STORE_OK) {
                rc = send_failed(store, error_out);
            }
            break;
        }
    }
    if (PQstatus(store->conn) == CONNECTION_OK) {
        PGresult *sync = PQgetResult(store->conn);
        if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == STORE_OK) {
            rc = send_failed(store, error_out);
        }
        PQclear(sync);
    }
    if (rc != STORE_OK) {
        for (size_t i = 0; i < count; i++) {
            PQclear(results[i]);
            results[i] = NULL;
        }
    }
    return rc;
}

size_t store_pipeline_pending(const struct store *store)
{
    return store->pipeline_sent;
}

void store_pipeline_end(struct store *store)
{
    if (store->conn != NULL && PQpipelineStatus(store->conn) != PQ_PIPELINE_OFF &&
        PQexitPipelineMode(store->conn) != 1) {
        /* results left unread (a broken connection): the next store_ensure() reconnects */
        PQfinish(store->conn);
        store->conn = NULL;
        store->prepared_count = 0;
    }
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

enum store_result store_query_within(PGconn *conn, const char *sql, int nparams,
                                     const char *const *params, int64_t ms, PGresult **result_out,
                                     char **error_out)
{
    *result_out = NULL;
    *error_out = NULL;
    int64_t deadline = util_monotonic_ms() + ms;
    if (PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1 ||
        PQsetnonblocking(conn, 1) != 0) {
        *error_out = store_error_message(conn, NULL);
        return STORE_UNAVAILABLE;
    }
    for (;;) {
        int flushing = PQflush(conn);
        if (flushing < 0) {
            *error_out = store_error_message(conn, NULL);
            return STORE_UNAVAILABLE;
        }
        if (flushing == 0 && !PQisBusy(conn)) {
            break;
        }
        int64_t left = deadline - util_monotonic_ms();
        struct pollfd fd = {.fd = PQsocket(conn), .events = POLLIN | (flushing ? POLLOUT : 0)};
        if (left <= 0 || poll(&fd, 1, (int)left) <= 0) {
            *error_out = util_printf("no answer within %lld ms", (long long)ms);
            return STORE_UNAVAILABLE;
        }
        if ((fd.revents & (POLLIN | POLLHUP | POLLERR)) && PQconsumeInput(conn) != 1) {
            *error_out = store_error_message(conn, NULL);
            return STORE_UNAVAILABLE;
        }
    }
    PQsetnonblocking(conn, 0);
    enum store_result rc = STORE_OK;
    PGresult *result;
    while ((result = PQgetResult(conn)) != NULL) {
        ExecStatusType status = PQresultStatus(result);
        bool failed = status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK;
        if (*result_out == NULL) {
            *result_out = result; /* the answer, or the failure the server sent */
            if (failed) {
                rc = store_classify(conn, result);
                *error_out = store_error_message(conn, result);
            }
        } else {
            PQclear(result);
        }
    }
    return rc;
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

/* Whether the integer literal [digits, digits + len) (sign excluded) fits json_int_t. */
static bool integer_fits(const char *digits, size_t len, bool negative)
{
    static const char max[] = "9223372036854775807"; /* 2^63 - 1; its negative is -2^63 + 1 */
    while (len > 1 && *digits == '0') {
        digits++;
        len--;
    }
    if (len != sizeof(max) - 1) {
        return len < sizeof(max) - 1;
    }
    int order = memcmp(digits, max, len);
    return order <= 0 || (negative && memcmp(digits, "9223372036854775808", len) == 0);
}

/*
 * A copy of JSON text with every integer literal beyond json_int_t written as a real
 * ("100000000000000000000" -> "100000000000000000000.0"), strings left alone. NULL when
 * there is none (or out of memory).
 */
static char *reals_for_big_integers(const char *text)
{
    struct strbuf out = {0};
    bool changed = false;
    const char *copied = text;
    for (const char *p = text; *p != '\0';) {
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                }
            }
            p += *p == '"';
            continue;
        }
        if (*p != '-' && (*p < '0' || *p > '9')) {
            p++;
            continue;
        }
        bool negative = *p == '-';
        p += negative;
        const char *digits = p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        size_t len = (size_t)(p - digits);
        bool integer = *p != '.' && *p != 'e' && *p != 'E';
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
               *p == '-') {
            p++; /* the rest of a real, left as it is */
        }
        if (integer && len > 0 && !integer_fits(digits, len, negative)) {
            strbuf_append_len(&out, copied, (size_t)(p - copied));
            strbuf_append(&out, ".0");
            copied = p;
            changed = true;
        }
    }
    if (!changed) {
        strbuf_free(&out);
        return NULL;
    }
    strbuf_append(&out, copied);
    return strbuf_take(&out);
}

json_t *store_json_loads(const char *text, size_t flags, json_error_t *error)
{
    json_t *value = json_loads(text, flags, error);
    if (value == NULL) {
        char *rewritten = reals_for_big_integers(text);
        if (rewritten != NULL) {
            value = json_loads(rewritten, flags, error);
            free(rewritten);
        }
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
