/* testdb.c - see testdb.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"
#include "testdb.h"
#include "util.h"

static const char *base_url(void)
{
    const char *url = getenv("LEADHUB_TEST_DATABASE_URL");
    ck_assert_msg(url != NULL && url[0] != '\0',
                  "LEADHUB_TEST_DATABASE_URL is not set: run the tests with `make test`");
    return url;
}

/* The base connection string with dbname replaced. */
static char *url_with_dbname(const char *dbname)
{
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(base_url(), &error);
    ck_assert_msg(options != NULL, "bad LEADHUB_TEST_DATABASE_URL: %s", error ? error : "?");
    struct strbuf sb = {0};
    for (PQconninfoOption *o = options; o->keyword != NULL; o++) {
        const char *value = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
        if (value == NULL || value[0] == '\0') {
            continue;
        }
        strbuf_appendf(&sb, "%s%s='", sb.len ? " " : "", o->keyword);
        for (const char *p = value; *p != '\0'; p++) {
            if (*p == '\'' || *p == '\\') {
                strbuf_append(&sb, "\\");
            }
            strbuf_append_len(&sb, p, 1);
        }
        strbuf_append(&sb, "'");
    }
    PQconninfoFree(options);
    return strbuf_take(&sb);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *testdb_connect(const char *url)
{
    PGconn *conn = PQconnectdb(url);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

static void admin_exec(const char *sql)
{
    PGconn *conn = testdb_connect(base_url());
    PGresult *result = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(result) == PGRES_COMMAND_OK ||
                      PQresultStatus(result) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
    PQfinish(conn);
}

char *testdb_create(void)
{
    static int counter;
    char name[64];
    snprintf(name, sizeof(name), "lh_test_%d_%d_%ld", (int)getpid(), counter++,
             (long)(util_now_ms() % 100000000));
    char *sql = util_printf("CREATE DATABASE %s", name);
    admin_exec(sql);
    free(sql);
    return url_with_dbname(name);
}

char *testdb_create_migrated(void)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    char *error = NULL;
    int applied = 0;
    ck_assert_msg(migrate_apply(conn, &applied, &error) == 0, "migrate: %s", error);
    PQfinish(conn);
    return url;
}

void testdb_drop(char *url)
{
    if (url == NULL) {
        return;
    }
    PQconninfoOption *options = PQconninfoParse(url, NULL);
    const char *dbname = NULL;
    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "dbname") == 0) {
            dbname = o->val;
        }
    }
    if (dbname != NULL && strncmp(dbname, "lh_test_", 8) == 0) {
        char *sql = util_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
        admin_exec(sql);
        free(sql);
    }
    PQconninfoFree(options);
    free(url);
}

char *testdb_text(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(result) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    ck_assert_msg(PQntuples(result) >= 1, "%s: no rows", sql);
    char *value = PQgetisnull(result, 0, 0) ? NULL : strdup(PQgetvalue(result, 0, 0));
    PQclear(result);
    return value;
}

long testdb_scalar(PGconn *conn, const char *sql)
{
    char *text = testdb_text(conn, sql);
    ck_assert_msg(text != NULL, "%s: NULL", sql);
    long value = strtol(text, NULL, 10);
    free(text);
    return value;
}

void testdb_exec(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(result);
    ck_assert_msg(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(conn));
    PQclear(result);
}
