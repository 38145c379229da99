/*
 * person_name.h - one display name or "name" field (a Stripe customer's name, a mail
 * sender's display name, a calendar attendee's) to a given name and a family name, or to
 * "an organization", or to "not sure" -- the same way in every connector.
 *
 * The rule above all others: when unsure, keep the whole name and leave given and family
 * empty rather than guess. A CRM that greets "Dear Dr." or files "Kowalski," as a first
 * name is worse than one that greets by full name.
 *
 * The result (struct person_name):
 *   kind         EMPTY (nothing but white space), PERSON, ORGANIZATION (a company: a legal
 *                form such as GmbH, Ltd, S.A., Sp. z o.o., 株式会社, ООО in any position or
 *                script, or an organization word such as Group, Holdings, Foundation), or
 *                UNKNOWN (an email address, digits, symbols, several people, a role such as
 *                "Support", ill-formed UTF-8: not a person's name to split).
 *   full_name    always set (never NULL): the input with white space collapsed, invisible
 *                and control characters dropped, surrounding quotes removed, an email
 *                address in brackets after a name removed ("Ann Lee <ann@x.com>" is
 *                "Ann Lee"), ill-formed UTF-8 replaced by U+FFFD. "" for EMPTY.
 *   given_name   set only for a PERSON whose given name is known; NULL otherwise.
 *   family_name  set only for a PERSON whose family name is known; NULL otherwise.
 *                Both set: the name was split. Only family_name set: the given name was
 *                only initials ("J. R. Smith"). Neither: the name is kept whole in
 *                full_name (one word, CJK written without a space, an order that cannot be
 *                known, ...), and `reason` says why.
 *   honorific    what was removed in front ("Dr.", "Prof. Dr. med."), or NULL.
 *   suffix       what was removed at the end ("Jr.", "PhD, MBA"), or NULL.
 *   reason       a static string saying why this kind or why not split, for tests and
 *                metrics: "split", "initials", "empty", "legal_form", "organization_word",
 *                "email", "digits", "symbols", "several_people", "role", "invalid_utf8",
 *                "no_name", "single_word", "too_many_words", "mixed_scripts",
 *                "cjk_unsegmented", "script_not_known", "commas", "ambiguous".
 *
 * How a PERSON is split (README.md has the full table with examples):
 *   - honorifics removed in front (Dr., Prof., Mr/Mrs/Ms, Herr, Frau, Sr./Sra., M./Mme,
 *     Sig.ra, Pan/Pani, г-н, κ., श्री, السيد, מר, คุณ, ...), suffixes at the end (Jr., Sr.,
 *     III, PhD, MD, MBA, Esq., ...), nicknames in quotes or parentheses set aside;
 *   - "Last, First" (one comma) is inverted: the comma says where the family name ends;
 *   - family-name particles stay with the family name (van, von, de, da, del, della, di,
 *     du, van der, de la, bin, ibn, al, el, ...), and "y"/"e"/"i" join two surnames
 *     ("José Ortega y Gasset");
 *   - a family name written in capitals among a mixed-case given name is the family name
 *     ("Jean DUPONT", "DUPONT Jean");
 *   - known compound given names are kept together ("José María", "Jean Pierre",
 *     "Mary Ann", "María del Carmen", "Abdul Rahman");
 *   - Vietnamese "Nguyễn Văn An" (family first, Văn/Thị middle), Russian names with a
 *     patronymic ("Иванов Иван Иванович", "Иван Иванович Иванов"), and two-word Russian
 *     names whose surname ending says which word is the surname;
 *   - CJK and Hangul: family first when written with a space ("山田 太郎"), kept whole
 *     without one ("山田太郎"); scripts without known rules are kept whole;
 *   - otherwise two words are given + family, and three or more words that no rule above
 *     explains are kept whole (a middle name and a double surname cannot be told apart).
 * Case is kept as written: "JOHN SMITH" gives "JOHN" / "SMITH".
 *
 * Thread-safe and pure: no globals, only the allocation the result owns.
 */
#ifndef LEADHUB_PERSON_NAME_H
#define LEADHUB_PERSON_NAME_H

#include <jansson.h>
#include <stddef.h>

enum person_name_kind {
    PERSON_NAME_EMPTY = 0,
    PERSON_NAME_PERSON,
    PERSON_NAME_ORGANIZATION,
    PERSON_NAME_UNKNOWN,
};

struct person_name {
    enum person_name_kind kind;
    const char *full_name;   /* never NULL after a successful parse */
    const char *given_name;  /* NULL unless known */
    const char *family_name; /* NULL unless known */
    const char *honorific;   /* NULL unless one was removed */
    const char *suffix;      /* NULL unless one was removed */
    const char *reason;      /* static */
    char *storage;           /* owns every string above; private */
};

/*
 * person_name_parse - parses text[0..length) (any bytes).
 *   out: filled; release with person_name_clear(), also after an error.
 *   Returns 0, or -1 when out of memory (out is then EMPTY with full_name "").
 */
int person_name_parse(const char *text, size_t length, struct person_name *out);

/* Frees what a parse allocated; the struct is EMPTY afterwards. */
void person_name_clear(struct person_name *name);

/* "empty", "person", "organization", "unknown". */
const char *person_name_kind_name(enum person_name_kind kind);

/*
 * person_name_set_lead - the name fields of a normalized event's `lead` (docs/events.md)
 * from one name text, as every connector sets them:
 *   PERSON split           -> first_name, last_name
 *   PERSON with only a family name -> last_name, and attributes.full_name
 *   PERSON kept whole      -> attributes.full_name (first_name and last_name untouched)
 *   ORGANIZATION           -> company (unless the lead already has one: a company named
 *                             in its own field wins over a name that looks like one)
 *   EMPTY, UNKNOWN         -> nothing
 * A value over `max_bytes` (the host's 1024 for text fields) is not set.
 *   lead: borrowed, modified.
 *   Returns 1 when something was set, 0 when nothing, -1 when out of memory.
 */
int person_name_set_lead(json_t *lead, const char *text, size_t length, size_t max_bytes);

#endif
