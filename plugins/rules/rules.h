/*
 * rules.h - the `rules` scorer's internals: compiled rules and groups (rules_config.c),
 * matching them against a lead snapshot (rules_match.c), job-title seniority
 * (seniority.c) and free-mail domains (free_mail.c). rules.c is the plugin itself.
 *
 * Everything here is built by init() and only read afterwards, which is what makes score()
 * reentrant: one compiled rule set serves every scoring thread.
 */
#ifndef LEADHUB_RULES_H
#define LEADHUB_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

/* Room for one setting path or one explanation. */
#define RULES_ERROR_SIZE 1024
#define RULES_WHY_SIZE   1024

/* --- seniority.c ------------------------------------------------------------------------ */

/* Levels in increasing rank: min_seniority compares ranks. */
enum seniority {
    SENIORITY_OTHER = 0, /* a title without any of the words below */
    SENIORITY_MANAGER,
    SENIORITY_DIRECTOR,
    SENIORITY_HEAD,
    SENIORITY_VP,
    SENIORITY_FOUNDER,
    SENIORITY_C_LEVEL,
    SENIORITY_COUNT
};

/* seniority_of_title - the highest level any word of `title` names (see seniority.c). */
enum seniority seniority_of_title(const char *title);

/* "c_level", "founder", ..., "other". */
const char *seniority_name(enum seniority level);

/* The level named `name`, or -1. */
int seniority_from_name(const char *name);

/* All level names, highest first, for hints and suggestions. */
const char *const *seniority_names(size_t *count_out);

/* --- free_mail.c ------------------------------------------------------------------------ */

/* Domain globs ("gmail.com", "gmx.*"), matched case-insensitively. */
struct free_mail {
    char **domains; /* owned copies */
    size_t count;
};

/*
 * free_mail_init - the built-in list (when `builtin`) plus `extra`, a JSON array of
 * strings (the free_mail_domains setting; may be NULL).
 *   Returns 0, or -1 with a message naming the bad entry in `error`.
 */
int free_mail_init(struct free_mail *list, bool builtin, const json_t *extra, char *error,
                   size_t error_size);
void free_mail_free(struct free_mail *list);

/* Is `domain` (the part of an email after its last '@') a free-mail provider's? */
bool free_mail_match(const struct free_mail *list, const char *domain);

/* --- condition_config.c ------------------------------------------------------------------ */

struct condition;

/*
 * condition_parse - check and compile `field: spec`, one member of a rule's `when`.
 *   path: the setting path of the member, for messages ("rules[2].when.lead.title").
 *   Returns 0, or -1 with the reason in `error`; c is left for condition_free() either way.
 */
int condition_parse(struct condition *c, const char *field, const json_t *spec, const char *path,
                    char *error, size_t error_size);
void condition_free(struct condition *c);

/* --- rules_config.c ----------------------------------------------------------------------- */

enum field_kind {
    FIELD_LEAD,      /* lead.<text field>: name is the field */
    FIELD_ATTRIBUTE, /* lead.attributes.<path>: segments is the path */
    FIELD_IDENTITY,  /* identities.<source>: name is the source instance */
    FIELD_EVENTS     /* events.<type or glob>: name is the glob */
};

/* One `field: {operator: value, ...}` member of a rule's `when`: all operators must hold. */
struct condition {
    char *field; /* as written: "lead.title", "events.email.replied" */
    char *label; /* in explanations: "title", "attributes.industry" */
    enum field_kind kind;
    char *name;
    char **segments; /* FIELD_ATTRIBUTE */
    size_t segment_count;
    int exists;      /* -1: not asked; 0: must be absent; 1: must be present */
    json_t *equals;  /* owned, or NULL */
    json_t *in;      /* owned non-empty array, or NULL */
    char *contains;  /* or NULL */
    char *regex_src; /* or NULL; when set, `regex` is compiled */
    regex_t regex;
    int free_mail;           /* -1: not asked; 0 or 1 */
    unsigned seniority_mask; /* 1 << level for each level asked; 0: not asked */
    int min_seniority;       /* -1: not asked */
    long long at_least;      /* FIELD_EVENTS: -1 when not asked */
    long long at_most;       /* FIELD_EVENTS: -1 when not asked */
    int64_t within_ms;       /* FIELD_EVENTS: 0 for every event of the snapshot */
};

struct rule {
    char *name;
    double points;
    int group; /* index into groups, or -1 */
    struct condition *conditions;
    size_t condition_count;
};

struct group {
    char *name;
    bool has_max, has_min;
    double max, min;
};

struct rules_state {
    const lh_host_t *host;
    struct rule *rules;
    size_t rule_count;
    struct group *groups;
    size_t group_count;
    double max_score;
    struct free_mail free_mail;
};

/*
 * rules_config_parse - compile the `groups` and `rules` settings (JSON, unchecked by the
 * host) into state.
 *   Returns 0, or -1 with "<setting path>: <what is wrong>; <hint>" in `error`. What was
 *   built so far is left in state for rules_config_free().
 */
int rules_config_parse(struct rules_state *state, const json_t *settings, char *error,
                       size_t error_size);

/* rules_config_free - free the rules and groups; state stays reusable. */
void rules_config_free(struct rules_state *state);

/* --- rules_match.c ------------------------------------------------------------------------ */

/* An event of the snapshot that has a type and a valid occurred_at. */
struct scored_event {
    const char *type; /* borrowed from the snapshot */
    int64_t at_ms;
};

/* What one score() call reads: borrowed from the snapshot, or allocated by the call. */
struct lead_view {
    const json_t *lead;       /* an object */
    const json_t *identities; /* an array, or NULL */
    const struct scored_event *events;
    size_t event_count;
    int64_t now_ms;
};

/*
 * rule_matches - do all of the rule's conditions hold for the lead?
 *   why: filled with what made each condition hold ("title \"VP Sales\" is vp; ...") when
 *        it does; NUL-terminated, truncated to why_size.
 */
bool rule_matches(const struct rules_state *state, const struct rule *rule,
                  const struct lead_view *view, char *why, size_t why_size);

#endif
