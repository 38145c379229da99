/*
 * linkedin_forms.c - form definitions, fetched with GET /leadForms/{id} and cached per form
 * version ("formId:version"): answers name questions by id, and the ids belong to a form
 * version, so one fetch serves every response of that version.
 *
 * LinkedIn serves a form's current version. A response of an older version is mapped with
 * it too (LinkedIn keeps question ids across versions of a form; a question the current
 * version lacks is kept under question_<id>), and the mismatch counted. The cache belongs
 * to the poll, which never runs twice at once; past LINKEDIN_FORMS_CACHED versions it
 * starts over.
 */
#include <stdio.h>
#include <string.h>

#include "linkedin.h"

lh_status_t linkedin_form(struct linkedin *li, lh_ctx_t *ctx, const char *form_id,
                          const char *version, const json_t **form_out)
{
    const lh_host_t *host = li->host;
    *form_out = NULL;
    char key[80];
    snprintf(key, sizeof(key), "%s:%s", form_id, version);
    const json_t *cached = json_object_get(li->forms, key);
    if (cached != NULL) {
        *form_out = json_is_object(cached) ? cached : NULL;
        return LH_OK;
    }
    char path[64];
    snprintf(path, sizeof(path), "/leadForms/%s", form_id);
    struct linkedin_answer answer;
    lh_status_t status = linkedin_call(li, ctx, "GET", path, NULL, &answer);
    if (status == LH_PERMANENT && answer.http_status == 404) {
        /* the form is gone: its responses are still leads, mapped by question id */
        host->log(ctx, LH_LOG_WARN, "form %s is unknown to LinkedIn: answers kept by question id",
                  form_id);
        linkedin_answer_clear(&answer);
        if (json_object_size(li->forms) >= LINKEDIN_FORMS_CACHED) {
            json_object_clear(li->forms);
        }
        json_object_set_new(li->forms, key, json_null());
        return LH_OK;
    }
    if (status != LH_OK) {
        linkedin_answer_clear(&answer);
        return status;
    }
    if (!json_is_object(answer.body)) {
        linkedin_answer_clear(&answer);
        host->set_error(ctx, "LinkedIn's form %s is not a JSON object", form_id);
        return LH_RETRY;
    }
    if (json_object_size(li->forms) >= LINKEDIN_FORMS_CACHED) {
        json_object_clear(li->forms);
    }
    const json_t *served = json_object_get(answer.body, "versionId");
    char served_key[80];
    if (json_is_integer(served)) {
        snprintf(served_key, sizeof(served_key), "%s:%lld", form_id,
                 (long long)json_integer_value(served));
        json_object_set(li->forms, served_key, answer.body);
        if (strcmp(served_key, key) != 0) {
            host->counter_add(ctx, "linkedin_form_version_mismatch_total", NULL, NULL, 1);
        }
    }
    json_object_set(li->forms, key, answer.body);
    host->counter_add(ctx, "linkedin_forms_fetched_total", NULL, NULL, 1);
    *form_out = json_object_get(li->forms, key);
    linkedin_answer_clear(&answer);
    return LH_OK;
}
