/*
 * testdb.h - a fresh PostgreSQL database per test, in the server named by
 * $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway one).
 */
#ifndef LEADHUB_TESTDB_H
#define LEADHUB_TESTDB_H

#include <libpq-fe.h>

/* Creates an empty database; returns its connection string (malloc'd). Aborts the test
 * when the server is unreachable. */
char *testdb_create(void);

/* Creates a database and applies the migrations to it. */
char *testdb_create_migrated(void);

/* Drops it (terminating its connections) and frees url. */
void testdb_drop(char *url);

/* Connects to url; aborts the test on failure. */
PGconn *testdb_connect(const char *url);

/* The first column of the first row of a query without parameters, as a long. Aborts the
 * test on failure. */
long testdb_scalar(PGconn *conn, const char *sql);

/* Same, as a malloc'd string (NULL for SQL NULL). */
char *testdb_text(PGconn *conn, const char *sql);

/* Runs a statement that returns nothing the test needs; fails the test if it fails. */
void testdb_exec(PGconn *conn, const char *sql);

#endif
