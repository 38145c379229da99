/*
 * crm_view.h - one CRM-neutral view of what a fake CRM holds, so that the same scenario run
 * against two CRMs can be compared with json_equal: the fakes (fake_hubspot_crm_view,
 * fake_pipedrive_crm_view) map their records into it, this file sorts and prints it.
 *
 *   [{"email", "name", "company", "customer": bool,
 *     "meetings": [{"title", "start": "YYYY-MM-DDTHH:MM:SSZ", "status"}]}]
 *
 * sorted by email, meetings by start then title; status is booked, canceled, held or
 * no_show.
 */
#ifndef LEADHUB_CRM_VIEW_H
#define LEADHUB_CRM_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A person of the view (NEW); email lowercased, name and company NULL for none; meetings
 * STOLEN (an array of crm_view_meeting()s, or NULL for none). */
json_t *crm_view_person(const char *email, const char *name, const char *company, bool customer,
                        json_t *meetings);

/* A meeting of the view (NEW); start_ms < 0 for none. */
json_t *crm_view_meeting(const char *title, int64_t start_ms, const char *status);

/* Sorts the view (persons STOLEN) and prints it (malloc'd JSON text, keys sorted). */
char *crm_view_finish(json_t *persons);

#endif
