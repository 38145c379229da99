/*
 * person_words.h - the word lists behind person_name.c: honorifics, suffixes, particles,
 * legal forms, organization and role words, compound given names, and the few naming
 * facts of particular languages. Internal to plugins/common.
 *
 * Every lookup takes a *key*: the word case-folded (text_fold()) with dots, apostrophes,
 * quotes and Hebrew geresh/gershayim removed ("Ph.D." -> "phd", "Dott.ssa" -> "dottssa",
 * "ד\"ר" -> "דר"). person_words_key() makes one. Tables are static const: thread-safe.
 */
#ifndef LEADHUB_PERSON_WORDS_H
#define LEADHUB_PERSON_WORDS_H

#include <stdbool.h>
#include <stddef.h>

#define PERSON_WORDS_KEY_MAX 64

/* The key of word[0..length) into key (PERSON_WORDS_KEY_MAX bytes); false when the word
 * is too long to be any listed word. */
bool person_words_key(const char *word, size_t length, char key[PERSON_WORDS_KEY_MAX]);

/* An honorific in front of a name: "mr", "dr", "herr", "sra", "г-н", "श्री", ...;
 * words_after: how many name words follow it (some are honorifics only before two). */
bool person_words_honorific(const char *key, size_t words_after);
/* Words that continue an honorific ("Dr. med.", "Dr. rer. nat.", "Dr. h.c."). */
bool person_words_honorific_continuation(const char *key);
/* A suffix after a name: "jr", "iii", "phd", "mba", ... ("sr" is a suffix at the end and an
 * honorific -- Señor -- in front). */
bool person_words_suffix(const char *key);
/* A family-name particle ("van", "de", "bin"); `capitalized` when written "Van", "De". */
bool person_words_particle(const char *key, bool capitalized);
/* "y", "e", "i": joins two surnames ("Ortega y Gasset"). */
bool person_words_surname_conjunction(const char *key);
/* "and", "und", "et", "&": joins two people ("Mr. and Mrs. Smith"). */
bool person_words_people_conjunction(const char *key);

enum person_words_legal {
    PERSON_WORDS_NOT_LEGAL = 0,
    PERSON_WORDS_LEGAL,        /* unambiguous anywhere: gmbh, llc, ltd, ооо, בעמ */
    PERSON_WORDS_LEGAL_SHORT,  /* ag, sa, bv, as, ab: only written "AG"/"S.A.", not first */
    PERSON_WORDS_LEGAL_PREFIX, /* pt, cv, ао, ип: as SHORT, but first is where they stand */
};
enum person_words_legal person_words_legal_form(const char *key);
/* Legal forms written as several words, keyed joined: "spzoo" (Sp. z o.o.), "sadecv". */
bool person_words_legal_form_words(const char *joined_key);
/* Words that make a name an organization's: group, holdings, foundation, university, ... */
bool person_words_organization(const char *key);
/* Words after "&" that make it a firm: "Smith & Sons", "Dupont & Fils", "Meyer & Co." */
bool person_words_firm_successor(const char *key);
/* Role mailboxes and systems, not people: support, team, info, noreply, billing, ... */
bool person_words_role(const char *key);

/* A known compound given name "first second" ("josé maría", "jean pierre", "mary ann"). */
bool person_words_compound_given(const char *first, const char *second);
/* First words that always take the next word into the given name ("abdul", "abu", "عبد"). */
bool person_words_given_prefix(const char *key);
/* First words after which "del"/"de la"/"de los" still belongs to the given name ("María
 * del Carmen"). */
bool person_words_given_before_particle(const char *key);

/* Vietnamese family names and the middle words Văn/Thị (also without diacritics). */
bool person_words_vietnamese_family(const char *key);
bool person_words_vietnamese_middle(const char *key);

/* A Russian/Ukrainian/Belarusian surname ending (-ов, -ева, -ский, -енко, ...) on a word
 * that is not a known given name with the same ending (Ирина, Константин). */
bool person_words_slavic_surname(const char *key);
/* A patronymic (-ович, -евна, -ична, ...). */
bool person_words_slavic_patronymic(const char *key);

/* Substrings that make CJK or Thai text an organization's name wherever they stand
 * (株式会社, 有限公司, ㈱, 주식회사, บริษัท, ...); NULL-terminated. */
extern const char *const person_words_org_substrings[];
/* Honorifics written after a CJK or Hangul name (様, さん, 先生, 님, ...); NULL-terminated. */
extern const char *const person_words_cjk_honorifics[];

#endif
