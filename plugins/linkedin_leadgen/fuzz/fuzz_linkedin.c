/*
 * fuzz_linkedin.c - libFuzzer target for what LinkedIn sends the plugin: the first byte
 * chooses the parser, the rest is its input.
 *   0  a notification body (linkedin_notification_parse)
 *   1  "<X-LI-Signature>\n<body>": both signature readings over the body
 *   2  a leadFormResponses page (or one response): every element mapped with the example
 *      form and without one; a mapped event the host's validation refuses is a bug (the
 *      plugin promises to move what the host would refuse out of the lead)
 * Seeds: corpus_linkedin/ and the plugin's tests/fixtures/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../linkedin.h"
#include "crypto.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The example form's questions, enough to map the example's answers. */
static const char form_text[] =
    "{\"id\":8843127,\"versionId\":2,\"creationLocale\":{\"country\":\"US\",\"language\":\"en\"},"
    "\"hiddenFields\":[{\"name\":\"utm_campaign\",\"value\":\"q1\"}],\"content\":{\"questions\":["
    "{\"questionId\":11088431270,\"name\":\"First name\",\"predefinedField\":\"FIRST_NAME\"},"
    "{\"questionId\":12088431270,\"name\":\"Last name\",\"predefinedField\":\"FULL_NAME\"},"
    "{\"questionId\":13088431270,\"name\":\"Email\",\"predefinedField\":\"EMAIL\"},"
    "{\"questionId\":16088431270,\"name\":\"Phone\",\"predefinedField\":\"PHONE_NUMBER\"},"
    "{\"questionId\":14088431270,\"name\":\"Size\",\"predefinedField\":\"COMPANY_SIZE\"},"
    "{\"questionId\":17088431270,\"name\":\"Custom question 0\",\"question\":{\"localized\":"
    "{\"en_US\":\"Reps?\"}},\"questionDetails\":{\"multipleChoiceQuestionDetails\":{\"options\":"
    "[{\"id\":0,\"text\":{\"localized\":{\"en_US\":\"1-10\"}}},{\"id\":1,\"text\":{\"localized\":"
    "{\"en_US\":\"11-50\"}}}]}}}]},\"legalInfo\":{\"consents\":[{\"id\":0}]}}";

static void map_checked(const json_t *response, const json_t *form)
{
    struct linkedin_map_options options = {.include_test_leads = false};
    json_t *event = NULL;
    char detail[160];
    enum linkedin_map_result result =
        linkedin_map_response(response, form, &options, &event, detail);
    if (result != LINKEDIN_MAPPED) {
        if (event != NULL) {
            abort();
        }
        return;
    }
    struct event_record record;
    char *error = NULL;
    if (event_validate(event, "leads", &record, &error) != 0) {
        abort(); /* the host would refuse a lead the plugin mapped */
    }
    event_record_clear(&record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] == 0) {
        struct linkedin_notification n;
        char detail[160];
        if (linkedin_notification_parse(text, len, &n, detail) == 0 &&
            !linkedin_response_id_valid(n.response_id)) {
            abort();
        }
    } else if (data[0] == 1) {
        const char *newline = memchr(text, '\n', len);
        size_t header_len = newline != NULL ? (size_t)(newline - text) : len;
        char *header = strndup(text, header_len);
        const unsigned char *body =
            newline != NULL ? (const unsigned char *)newline + 1 : (const unsigned char *)"";
        size_t body_len = newline != NULL ? len - header_len - 1 : 0;
        if (header != NULL) {
            linkedin_signature_match("li-secret-Wq8vR2xT5nK0", header, body, body_len,
                                     crypto_hmac_sha256, crypto_digest_equal);
        }
        free(header);
    } else {
        json_t *page = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
        json_t *form = json_loads(form_text, 0, NULL);
        const json_t *elements = json_object_get(page, "elements");
        if (json_is_array(elements)) {
            size_t i;
            const json_t *element;
            json_array_foreach(elements, i, element)
            {
                map_checked(element, form);
                map_checked(element, NULL);
            }
        } else if (page != NULL) {
            map_checked(page, form);
            map_checked(page, NULL);
        }
        json_decref(form);
        json_decref(page);
    }
    return 0;
}
