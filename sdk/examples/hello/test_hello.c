/*
 * test_hello.c - unit tests of hello.c on the fake host (leadhub-test.h): no database, no
 * daemon. Build and run it next to hello.c:
 *
 *     cc -std=c11 -o test_hello test_hello.c hello.c \
 *         $(pkg-config --cflags --libs leadhub-test) && ./test_hello
 */
#include <stdio.h>
#include <string.h>

#include <leadhub-test.h>

/* hello.c's entry, linked into this program: the descriptor the loader would get. */
const lh_plugin_t *leadhub_plugin_entry(void);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int test_a_posted_address_becomes_one_lead(void)
{
    lh_test_t *t = lh_test_new(leadhub_plugin_entry(), "hello");
    CHECK(t != NULL);
    CHECK(lh_test_init(t, "{\"company\": \"Analytical Engines\"}") == LH_OK);
    const char body[] = "{\"email\": \"Ada@Example.com\"}";
    CHECK(lh_test_webhook(t, "POST", NULL, NULL, 0, body, strlen(body)) == LH_OK);
    CHECK(lh_test_webhook(t, "POST", NULL, NULL, 0, body, strlen(body)) == LH_OK);
    /* posted twice, stored once: source_id is the address */
    CHECK(lh_test_event_count(t) == 1);
    CHECK(lh_test_duplicate_count(t) == 1);
    const json_t *lead = json_object_get(lh_test_event(t, 0), "lead");
    CHECK(strcmp(json_string_value(json_object_get(lead, "email")), "ada@example.com") == 0);
    CHECK(strcmp(json_string_value(json_object_get(lead, "company")), "Analytical Engines") == 0);
    /* the event time is the host's clock */
    CHECK(strcmp(json_string_value(json_object_get(lh_test_event(t, 0), "occurred_at")),
                 "2026-11-27T09:00:00.000Z") == 0);
    CHECK(lh_test_misuse(t) == NULL);
    lh_test_free(t);
    return 0;
}

static int test_a_body_without_an_address_is_refused(void)
{
    lh_test_t *t = lh_test_new(leadhub_plugin_entry(), "hello");
    CHECK(lh_test_init(t, "{}") == LH_OK);
    CHECK(lh_test_webhook(t, "POST", NULL, NULL, 0, "{\"name\": \"Ada\"}", 15) == LH_PERMANENT);
    CHECK(strstr(lh_test_error(t), "email") != NULL);
    CHECK(lh_test_event_count(t) == 0);
    lh_test_free(t);
    return 0;
}

static int test_a_blank_company_is_refused_at_the_setting(void)
{
    lh_test_t *t = lh_test_new(leadhub_plugin_entry(), "hello");
    CHECK(lh_test_validate(t, "{\"company\": \"  \"}") == LH_CONFIG);
    CHECK(strncmp(lh_test_config_errors(t), "company: is blank", 17) == 0);
    CHECK(lh_test_validate(t, "{\"compnay\": \"x\"}") == LH_CONFIG); /* the host's schema */
    lh_test_free(t);
    return 0;
}

int main(void)
{
    int failed = test_a_posted_address_becomes_one_lead() +
                 test_a_body_without_an_address_is_refused() +
                 test_a_blank_company_is_refused_at_the_setting();
    printf("%s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
