/*
 * fake_pipedrive_view.c - fake_pipedrive_crm_view: Pipedrive's persons, labels and meeting
 * activities in the CRM-neutral view of crm_view.h. How a meeting's outcome reads in
 * Pipedrive is the plugin's mapping (docs/connectors/pipedrive.md): done false is booked;
 * done true is held, unless its subject starts "Canceled: " or "No-show: ".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_view.h"
#include "fake_pipedrive_internal.h"
#include "util.h"

static const struct {
    const char *prefix;
    const char *status;
} OUTCOME_PREFIXES[] = {{"Canceled: ", "canceled"}, {"No-show: ", "no_show"}};

static bool has_label(const json_t *person, long label)
{
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(person, "label_ids"), i, id)
    {
        if (json_integer_value(id) == label) {
            return true;
        }
    }
    return false;
}

/* due_date + due_time (UTC) as ms, or -1. */
static int64_t activity_start(const json_t *activity)
{
    const char *date = json_string_value(json_object_get(activity, "due_date"));
    const char *time = json_string_value(json_object_get(activity, "due_time"));
    if (date == NULL) {
        return -1;
    }
    char text[40];
    snprintf(text, sizeof(text), "%sT%s:00Z", date, time != NULL ? time : "00:00");
    int64_t ms = -1;
    return util_parse_rfc3339(text, &ms) == 0 ? ms : -1;
}

static json_t *meeting_view(const json_t *activity)
{
    const char *subject = json_string_value(json_object_get(activity, "subject"));
    const char *status = json_is_true(json_object_get(activity, "done")) ? "held" : "booked";
    for (size_t i = 0; subject != NULL && i < UTIL_ARRAY_LEN(OUTCOME_PREFIXES); i++) {
        size_t len = strlen(OUTCOME_PREFIXES[i].prefix);
        if (strncmp(subject, OUTCOME_PREFIXES[i].prefix, len) == 0) {
            subject += len;
            status = json_is_true(json_object_get(activity, "done")) ? OUTCOME_PREFIXES[i].status
                                                                     : "booked";
        }
    }
    return crm_view_meeting(subject, activity_start(activity), status);
}

char *fake_pipedrive_crm_view(struct fake_pipedrive *fp, long customer_label_id)
{
    json_t *persons = json_array();
    pthread_mutex_lock(&fp->mutex);
    for (size_t i = 0; i < fp->persons.count; i++) {
        const struct fp_record *person = &fp->persons.items[i];
        if (person->deleted) {
            continue;
        }
        json_t *meetings = json_array();
        for (size_t k = 0; k < fp->activities.count; k++) {
            const struct fp_record *activity = &fp->activities.items[k];
            const char *type = json_string_value(json_object_get(activity->object, "type"));
            if (!activity->deleted && type != NULL && strcmp(type, "meeting") == 0 &&
                fp_activity_has_person(activity->object, person->id)) {
                json_array_append_new(meetings, meeting_view(activity->object));
            }
        }
        const struct fp_record *org =
            fp_store_find(&fp->organizations,
                          (long)json_integer_value(json_object_get(person->object, "org_id")));
        json_array_append_new(
            persons,
            crm_view_person(fp_person_email(person->object),
                            json_string_value(json_object_get(person->object, "name")),
                            org != NULL ? json_string_value(json_object_get(org->object, "name"))
                                        : NULL,
                            has_label(person->object, customer_label_id), meetings));
    }
    pthread_mutex_unlock(&fp->mutex);
    return crm_view_finish(persons);
}
