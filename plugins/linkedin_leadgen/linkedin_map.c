/*
 * linkedin_map.c - a leadFormResponse and its form version into a lead.created event, pure.
 *
 * Each answer's questionId is looked up in the form version's content.questions[]; a
 * question with a predefinedField fills the lead's own field (first non-empty wins: EMAIL
 * before WORK_EMAIL, PHONE_NUMBER before WORK_PHONE_NUMBER), any other predefined field goes
 * to attributes.<field in lowercase>, and a custom question to attributes.<its stable name>
 * (the form's internal question name in [a-z0-9_], else question_<id>): its text in the
 * form's language is kept in data.questions. Choices become their option texts. An answer
 * of a kind the plugin does not know is kept as LinkedIn sent it. Nothing is dropped for
 * being odd: a value the host would refuse (an email that is not one, a text over 1024
 * bytes) moves to attributes rather than costing the whole lead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkedin.h"
#include "person_name.h"

#define TEXT_MAX  1024 /* the host's limit for a lead's text fields */
#define EMAIL_MAX 254

struct predefined {
    const char *field;  /* LinkedIn's predefinedField */
    const char *member; /* the lead's member; NULL: attributes.<lowercase field> */
};

static const struct predefined predefined_fields[] = {
    {"EMAIL", "email"},
    {"WORK_EMAIL", "email"},
    {"FIRST_NAME", "first_name"},
    {"LAST_NAME", "last_name"},
    {"COMPANY_NAME", "company"},
    {"JOB_TITLE", "title"},
    {"PHONE_NUMBER", "phone"},
    {"WORK_PHONE_NUMBER", "phone"},
    {"LINKEDIN_PROFILE_LINK", "linkedin_url"},
    {"LINKEDIN_PROFILE_URL", "linkedin_url"},
};

static bool has_nul(const json_t *value, int depth)
{
    if (depth > 64) {
        return true; /* deeper than the host stores: treat as unstorable */
    }
    if (json_is_string(value)) {
        return strlen(json_string_value(value)) != json_string_length(value);
    }
    const char *key;
    const json_t *item;
    size_t i;
    if (json_is_object(value)) {
        json_object_foreach((json_t *)value, key, item)
        {
            /* jansson refuses U+0000 in keys when parsing: only values can carry it */
            if (has_nul(item, depth + 1)) {
                return true;
            }
        }
    } else if (json_is_array(value)) {
        json_array_foreach(value, i, item)
        {
            if (has_nul(item, depth + 1)) {
                return true;
            }
        }
    }
    return false;
}

/* A string value fit for the host: no NUL, trimmed non-empty, at most max bytes. */
static const char *usable_text(const json_t *value, size_t max)
{
    const char *text = json_string_value(value);
    if (text == NULL || strlen(text) != json_string_length(value) || strlen(text) > max) {
        return NULL;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            return text;
        }
    }
    return NULL;
}

static bool looks_like_email(const char *text)
{
    const char *at = strchr(text, '@');
    if (at == NULL || at == text || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
        strlen(text) > EMAIL_MAX) {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* The text of a {"localized": {"en_US": "..."}} object in locale, else its first one. */
static const char *localized(const json_t *object, const char *locale)
{
    const json_t *texts = json_object_get(object, "localized");
    const char *text = json_string_value(json_object_get(texts, locale));
    if (text != NULL) {
        return text;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)texts, key, value)
    {
        if (json_is_string(value)) {
            return json_string_value(value);
        }
    }
    return NULL;
}

/* "Custom question 0" -> "custom_question_0"; "" when nothing ASCII-alphanumeric. */
static void stable_name(const char *name, char *out, size_t out_size)
{
    size_t used = 0;
    bool gap = false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && used + 2 < out_size;
         p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
            if (gap && used > 0) {
                out[used++] = '_';
            }
            out[used++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            gap = false;
        } else {
            gap = true;
        }
    }
    out[used] = '\0';
}

static const json_t *find_question(const json_t *form, const json_t *question_id)
{
    const json_t *questions = json_object_get(json_object_get(form, "content"), "questions");
    size_t i;
    const json_t *q;
    json_array_foreach(questions, i, q)
    {
        if (json_equal(json_object_get(q, "questionId"), (json_t *)question_id)) {
            return q;
        }
    }
    return NULL;
}

/* Option ids -> their texts (a string for one, an array for several); NEW or NULL. */
static json_t *choice_texts(const json_t *question, const json_t *option_ids, const char *locale)
{
    const json_t *options =
        json_object_get(json_object_get(json_object_get(question, "questionDetails"),
                                        "multipleChoiceQuestionDetails"),
                        "options");
    json_t *texts = json_array();
    if (texts == NULL) {
        return NULL;
    }
    size_t i, k;
    const json_t *id, *option;
    json_array_foreach(option_ids, i, id)
    {
        const char *text = NULL;
        json_array_foreach(options, k, option)
        {
            if (json_equal(json_object_get(option, "id"), (json_t *)id)) {
                text = localized(json_object_get(option, "text"), locale);
                break;
            }
        }
        /* an option the form does not list is kept as its id */
        json_array_append_new(texts, text != NULL ? json_string(text) : json_deep_copy(id));
    }
    if (json_array_size(texts) == 1) {
        json_t *one = json_incref(json_array_get(texts, 0));
        json_decref(texts);
        return one;
    }
    return texts;
}

/* The answer's value: a text, the choices' texts, or the answerDetails as sent. NEW. */
static json_t *answer_value(const json_t *details, const json_t *question, const char *locale)
{
    const json_t *text = json_object_get(json_object_get(details, "textQuestionAnswer"), "answer");
    if (json_is_string(text)) {
        return json_deep_copy(text);
    }
    const json_t *choice =
        json_object_get(json_object_get(details, "multipleChoiceAnswer"), "options");
    if (json_is_array(choice)) {
        return choice_texts(question, choice, locale);
    }
    return json_deep_copy(details); /* a kind of answer not known here: kept, not dropped */
}

/* Sets lead.<member> from a predefined field's answer, first non-empty wins; a value the
 * host would refuse goes to attributes. -1 when out of memory. */
static int set_member(json_t *lead, json_t *attributes, const char *member, const char *field,
                      const json_t *value)
{
    if (json_object_get(lead, member) != NULL) {
        return 0;
    }
    bool email = strcmp(member, "email") == 0;
    const char *text = usable_text(value, email ? EMAIL_MAX : TEXT_MAX);
    if (text != NULL && (!email || looks_like_email(text))) {
        return json_object_set_new(lead, member, json_string(text));
    }
    if (json_is_string(value) && strlen(json_string_value(value)) == json_string_length(value)) {
        char key[64];
        stable_name(field, key, sizeof(key));
        return json_object_set(attributes, key, (json_t *)value);
    }
    return 0;
}

static int map_answer(json_t *lead, json_t *attributes, json_t *questions, const json_t *answer,
                      const json_t *form, const char *locale, char **full_name)
{
    const json_t *question_id = json_object_get(answer, "questionId");
    const json_t *question = find_question(form, question_id);
    json_t *value = answer_value(json_object_get(answer, "answerDetails"), question, locale);
    if (value == NULL) {
        return -1;
    }
    int rc = 0;
    const char *predefined = json_string_value(json_object_get(question, "predefinedField"));
    if (predefined != NULL) {
        const char *member = NULL;
        for (size_t i = 0; i < sizeof(predefined_fields) / sizeof(predefined_fields[0]); i++) {
            if (strcmp(predefined_fields[i].field, predefined) == 0) {
                member = predefined_fields[i].member;
            }
        }
        if (member != NULL) {
            rc = set_member(lead, attributes, member, predefined, value);
        } else if (strcmp(predefined, "FULL_NAME") == 0 && json_is_string(value) &&
                   *full_name == NULL) {
            *full_name = strdup(json_string_value(value));
            rc = *full_name == NULL ? -1 : 0;
        } else {
            char key[64];
            stable_name(predefined, key, sizeof(key));
            rc = key[0] != '\0' ? json_object_set(attributes, key, value) : 0;
        }
        json_decref(value);
        return rc;
    }
    char key[96];
    stable_name(json_string_value(json_object_get(question, "name")) != NULL
                    ? json_string_value(json_object_get(question, "name"))
                    : "",
                key, sizeof(key));
    if (key[0] == '\0' || json_object_get(questions, key) != NULL) {
        /* no usable name, or two questions of one name: the id keeps them apart */
        char id_text[40];
        if (json_is_integer(question_id)) {
            snprintf(id_text, sizeof(id_text), "%lld", (long long)json_integer_value(question_id));
        } else {
            snprintf(id_text, sizeof(id_text), "%s",
                     json_is_string(question_id) ? json_string_value(question_id) : "unknown");
        }
        stable_name(id_text, key + snprintf(key, sizeof(key), "question_"),
                    sizeof(key) - strlen("question_"));
    }
    const char *text =
        question != NULL ? localized(json_object_get(question, "question"), locale) : NULL;
    rc = json_object_set(attributes, key, value);
    if (rc == 0 && text != NULL) {
        rc = json_object_set_new(questions, key, json_string(text));
    }
    json_decref(value);
    return rc;
}

/* Consents: [{id, accepted, text}] in data, and attributes.consent_<id>. */
static int map_consents(json_t *data, json_t *attributes, const json_t *response,
                        const json_t *form, const char *locale)
{
    const json_t *given =
        json_object_get(json_object_get(response, "formResponse"), "consentResponses");
    const json_t *known =
        json_object_get(json_object_get(json_object_get(form, "content"), "legalInfo"), "consents");
    json_t *out = json_array();
    if (out == NULL) {
        return -1;
    }
    size_t i, k;
    const json_t *c, *def;
    json_array_foreach(given, i, c)
    {
        const json_t *id = json_object_get(c, "consentId");
        if (!json_is_integer(id)) {
            continue;
        }
        const char *text = NULL;
        json_array_foreach(known, k, def)
        {
            if (json_equal(json_object_get(def, "id"), (json_t *)id)) {
                text = localized(json_object_get(def, "consent"), locale);
            }
        }
        bool accepted = json_is_true(json_object_get(c, "accepted"));
        json_t *item = json_pack("{s:I, s:b}", "id", json_integer_value(id), "accepted", accepted);
        if (item != NULL && text != NULL) {
            json_object_set_new(item, "text", json_string(text));
        }
        char key[48];
        snprintf(key, sizeof(key), "consent_%lld", (long long)json_integer_value(id));
        if (item == NULL || json_array_append_new(out, item) != 0 ||
            json_object_set_new(attributes, key, json_boolean(accepted)) != 0) {
            json_decref(out);
            return -1;
        }
    }
    return json_object_set_new(data, "consents", out);
}

static void form_locale(const json_t *form, char *out, size_t out_size)
{
    const json_t *locale = json_object_get(form, "creationLocale");
    const char *language = json_string_value(json_object_get(locale, "language"));
    const char *country = json_string_value(json_object_get(locale, "country"));
    snprintf(out, out_size, "%s_%s", language != NULL ? language : "en",
             country != NULL ? country : "US");
}

static int set_string(json_t *object, const char *key, const json_t *value)
{
    const char *text = usable_text(value, TEXT_MAX);
    return text != NULL ? json_object_set_new(object, key, json_string(text)) : 0;
}

/* data: where the lead came from, for attribution. */
static int build_data(json_t *data, const json_t *response, const json_t *form, const char *form_id,
                      const char *version, bool test, const struct linkedin_map_options *options)
{
    int rc = 0;
    json_t *form_info = json_pack("{s:s, s:s}", "id", form_id, "version", version);
    if (form_info == NULL) {
        return -1;
    }
    rc |= set_string(form_info, "name", json_object_get(form, "name"));
    rc |= json_object_set_new(data, "form", form_info);
    rc |= set_string(data, "campaign",
                     json_object_get(json_object_get(json_object_get(response, "leadMetadata"),
                                                     "sponsoredLeadMetadata"),
                                     "campaign"));
    rc |= set_string(
        data, "creative",
        json_object_get(json_object_get(response, "associatedEntity"), "associatedCreative"));
    const json_t *owner = json_object_get(response, "owner");
    rc |= set_string(data, "owner", json_object_get(owner, "sponsoredAccount"));
    if (json_object_get(data, "owner") == NULL) {
        rc |= set_string(data, "owner", json_object_get(owner, "organization"));
    }
    rc |= set_string(data, "submitter", json_object_get(response, "submitter"));
    rc |= set_string(data, "lead_type", json_object_get(response, "leadType"));
    rc |= json_object_set_new(data, "test", json_boolean(test));
    if (test && !options->include_test_leads) {
        rc |= json_object_set_new(data, "routable", json_false());
    }
    const json_t *hidden = json_object_get(form, "hiddenFields");
    if (json_array_size(hidden) > 0) {
        json_t *fields = json_object();
        size_t i;
        const json_t *f;
        json_array_foreach(hidden, i, f)
        {
            const char *name = usable_text(json_object_get(f, "name"), 256);
            const char *value = usable_text(json_object_get(f, "value"), TEXT_MAX);
            if (fields != NULL && name != NULL && value != NULL) {
                json_object_set_new(fields, name, json_string(value));
            }
        }
        rc |= fields != NULL ? json_object_set_new(data, "hidden_fields", fields) : -1;
    }
    return rc != 0 ? -1 : 0;
}

enum linkedin_map_result linkedin_map_response(const json_t *response, const json_t *form,
                                               const struct linkedin_map_options *options,
                                               json_t **event_out, char detail[160])
{
    *event_out = NULL;
    detail[0] = '\0';
    if (!json_is_object(response)) {
        snprintf(detail, 160, "a lead form response must be a JSON object");
        return LINKEDIN_INVALID;
    }
    const char *id = json_string_value(json_object_get(response, "id"));
    if (!linkedin_response_id_valid(id)) {
        snprintf(detail, 160, "the response has no usable id");
        return LINKEDIN_INVALID;
    }
    const json_t *submitted = json_object_get(response, "submittedAt");
    char occurred_at[32];
    if (!json_is_integer(submitted) ||
        !linkedin_format_time(json_integer_value(submitted), occurred_at)) {
        snprintf(detail, 160, "response %s: submittedAt is not epoch milliseconds", id);
        return LINKEDIN_INVALID;
    }
    char form_id[32] = "", version[32] = "";
    if (!linkedin_parse_versioned_form(
            json_string_value(json_object_get(response, "versionedLeadGenFormUrn")), form_id,
            version)) {
        snprintf(detail, 160, "response %s: versionedLeadGenFormUrn is not a form version", id);
        return LINKEDIN_INVALID;
    }
    bool test = json_is_true(json_object_get(response, "testLead"));
    char locale[64];
    form_locale(form, locale, sizeof(locale));

    json_t *event = json_pack("{s:s, s:s, s:s, s:{s:s, s:{}}, s:{s:{}}}", "type", "lead.created",
                              "source_id", id, "occurred_at", occurred_at, "lead", "external_id",
                              id, "attributes", "data", "questions");
    if (event == NULL) {
        return LINKEDIN_NO_MEMORY;
    }
    json_t *lead = json_object_get(event, "lead");
    json_t *attributes = json_object_get(lead, "attributes");
    json_t *data = json_object_get(event, "data");
    json_t *questions = json_object_get(data, "questions");
    char *full_name = NULL;
    int rc = 0;
    const json_t *answers = json_object_get(json_object_get(response, "formResponse"), "answers");
    size_t i;
    const json_t *answer;
    json_array_foreach(answers, i, answer)
    {
        if (rc == 0 && json_is_object(answer)) {
            rc = map_answer(lead, attributes, questions, answer, form, locale, &full_name);
        }
    }
    if (rc == 0 && full_name != NULL && json_object_get(lead, "first_name") == NULL &&
        json_object_get(lead, "last_name") == NULL) {
        rc = person_name_set_lead(lead, full_name, strlen(full_name), TEXT_MAX) < 0 ? -1 : 0;
    }
    free(full_name);
    if (rc == 0) {
        rc = map_consents(data, attributes, response, form, locale);
    }
    if (rc == 0) {
        rc = build_data(data, response, form, form_id, version, test, options);
    }
    if (rc == 0) {
        /* the host stores no U+0000: an answer carrying one costs the audit copy, not the
         * lead */
        if (has_nul(response, 0)) {
            json_object_set_new(data, "raw_omitted", json_string("contains U+0000"));
        } else {
            rc = json_object_set_new(event, "raw", json_deep_copy(response));
        }
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(attributes, tmp, key, value)
        {
            if (has_nul(value, 0)) {
                json_object_del(attributes, key);
            }
        }
        /* attributes is borrowed from lead: not used after this */
        if (json_object_size(attributes) == 0) {
            json_object_del(lead, "attributes");
        }
    }
    if (rc != 0) {
        json_decref(event);
        return LINKEDIN_NO_MEMORY;
    }
    *event_out = event;
    return LINKEDIN_MAPPED;
}

json_t *linkedin_erased_event(const char *response_id, int64_t occurred_at_ms)
{
    char occurred_at[32];
    if (!linkedin_format_time(occurred_at_ms, occurred_at)) {
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "type", "lead.erased", "source_id",
                     response_id, "occurred_at", occurred_at, "lead", "external_id", response_id,
                     "data", "reason", "linkedin_deleted", "response", response_id);
}
