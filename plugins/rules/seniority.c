/*
 * seniority.c - how senior a job title is, from its words.
 *
 * A title is split into words (ASCII letters and digits, case ignored; any other ASCII
 * byte separates words; bytes of UTF-8 characters belong to words, so "Directeur Général"
 * has no English word in it). Each word may name a level; the highest named wins:
 *
 *   c_level   ceo cto cfo coo cmo cio ciso cro cpo cso cdo cco cxo chief, president (not
 *             after "vice"), "managing director"
 *   founder   founder cofounder owner ("Co-Founder" is "co" "founder")
 *   vp        vp svp evp avp, "vice president"
 *   head      head ("Head of Sales")
 *   director  director
 *   manager   manager mgr
 *   other     a title with none of these
 *
 * Words after "to" are ignored: "Executive Assistant to the CEO" is not c_level.
 */
#include <string.h>

#include "rules.h"

#define WORD_MAX 32

static const char *const level_names[SENIORITY_COUNT] = {
    [SENIORITY_OTHER] = "other",
    [SENIORITY_MANAGER] = "manager",
    [SENIORITY_DIRECTOR] = "director",
    [SENIORITY_HEAD] = "head",
    [SENIORITY_VP] = "vp",
    [SENIORITY_FOUNDER] = "founder",
    [SENIORITY_C_LEVEL] = "c_level",
};

/* Highest first, as hints list them. */
static const char *const names_by_rank[SENIORITY_COUNT] = {
    "c_level", "founder", "vp", "head", "director", "manager", "other",
};

static const struct {
    const char *word;
    enum seniority level;
} words[] = {
    {"ceo", SENIORITY_C_LEVEL},     {"cto", SENIORITY_C_LEVEL},
    {"cfo", SENIORITY_C_LEVEL},     {"coo", SENIORITY_C_LEVEL},
    {"cmo", SENIORITY_C_LEVEL},     {"cio", SENIORITY_C_LEVEL},
    {"ciso", SENIORITY_C_LEVEL},    {"cro", SENIORITY_C_LEVEL},
    {"cpo", SENIORITY_C_LEVEL},     {"cso", SENIORITY_C_LEVEL},
    {"cdo", SENIORITY_C_LEVEL},     {"cco", SENIORITY_C_LEVEL},
    {"cxo", SENIORITY_C_LEVEL},     {"chief", SENIORITY_C_LEVEL},
    {"founder", SENIORITY_FOUNDER}, {"cofounder", SENIORITY_FOUNDER},
    {"owner", SENIORITY_FOUNDER},   {"vp", SENIORITY_VP},
    {"svp", SENIORITY_VP},          {"evp", SENIORITY_VP},
    {"avp", SENIORITY_VP},          {"head", SENIORITY_HEAD},
    {"manager", SENIORITY_MANAGER}, {"mgr", SENIORITY_MANAGER},
};

const char *seniority_name(enum seniority level)
{
    return level >= 0 && level < SENIORITY_COUNT ? level_names[level] : "other";
}

int seniority_from_name(const char *name)
{
    for (int i = 0; i < SENIORITY_COUNT; i++) {
        if (strcmp(level_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *const *seniority_names(size_t *count_out)
{
    *count_out = SENIORITY_COUNT;
    return names_by_rank;
}

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* The level one word names, given the word before it ("" at the start). */
static enum seniority level_of_word(const char *word, const char *previous)
{
    if (strcmp(word, "president") == 0) {
        return strcmp(previous, "vice") == 0 ? SENIORITY_VP : SENIORITY_C_LEVEL;
    }
    if (strcmp(word, "director") == 0) {
        return strcmp(previous, "managing") == 0 ? SENIORITY_C_LEVEL : SENIORITY_DIRECTOR;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(words[i].word, word) == 0) {
            return words[i].level;
        }
    }
    return SENIORITY_OTHER;
}

enum seniority seniority_of_title(const char *title)
{
    enum seniority best = SENIORITY_OTHER;
    char previous[WORD_MAX] = "";
    const unsigned char *p = (const unsigned char *)title;
    while (*p != '\0') {
        while (*p != '\0' && !is_word_byte(*p)) {
            p++;
        }
        char word[WORD_MAX];
        size_t length = 0;
        bool too_long = false;
        while (*p != '\0' && is_word_byte(*p)) {
            if (length + 1 < sizeof(word)) {
                /* ASCII lowercase only: other bytes are never part of a listed word */
                word[length++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
            } else {
                too_long = true;
            }
            p++;
        }
        if (length == 0) {
            break;
        }
        word[length] = '\0';
        if (too_long) {
            word[0] = '\0'; /* no listed word is that long */
        }
        if (strcmp(word, "to") == 0) {
            break;
        }
        enum seniority level = level_of_word(word, previous);
        if (level > best) {
            best = level;
        }
        memcpy(previous, word, length + 1);
    }
    return best;
}
