/*
 * person_name.c - a name text to given/family name, organization or "not sure" (see
 * person_name.h for the rules, person_words.c for the word lists).
 *
 * The steps: clean the text (white space, invisibles, quotes, an email address after the
 * name); cut it into words; an organization? not a person's name at all? remove
 * honorifics and suffixes; then split by the first rule that knows how, or keep it whole.
 * Each rule that splits returns at once, so the order below is the order of confidence.
 */
#include "person_name.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "person_words.h"
#include "text_buffer.h"
#include "text_utf8.h"

#define WORDS_MAX 32 /* words looked at; a longer name is kept whole */
#define SPLIT_MAX 6  /* more name words than this are not split */

struct word {
    const char *text; /* into the working text */
    size_t length;
    char key[PERSON_WORDS_KEY_MAX];
    bool keyed; /* key is valid (the word is short enough) */
    enum text_script script;
    bool mixed_script;
    bool digit;  /* has a digit */
    bool symbol; /* has a character no name has */
    bool slash;  /* has '/' ("A/S"): a legal form, or a symbol */
    bool aside;  /* in parentheses or quotes: a nickname or a note */
    bool comma_after;
    bool ampersand; /* the word is "&" or "+" */
    bool dotted;    /* has a '.' */
    size_t letters;
    size_t upper, lower; /* letters of a cased script by case */
    bool first_upper;
};

struct parse {
    char *work; /* the cleaned text the words point into (owned) */
    size_t work_length;
    struct word words[WORDS_MAX];
    size_t count;
    bool too_many;
    /* the name words, after honorifics, suffixes and asides are taken out */
    const struct word *name[WORDS_MAX];
    size_t name_count;
    const struct word *honorific_first, *honorific_last;
    const struct word *suffix_first, *suffix_last;
};

/* What a parse decided, before it is written into the result. */
struct verdict {
    enum person_name_kind kind;
    const char *reason;
    const struct word *const *given;
    size_t given_count;
    const struct word *const *family;
    size_t family_count;
};

/* --- cleaning ---------------------------------------------------------------------------- */

/* Text with ill-formed bytes replaced, invisibles and controls dropped, white space
 * collapsed and trimmed, surrounding quotes removed. Sets *invalid on replacement. */
static int clean(const char *text, size_t length, struct text_buffer *out, bool *invalid)
{
    size_t p = 0;
    bool pending_space = false;
    while (p < length) {
        size_t start = p;
        int32_t codepoint = text_utf8_next(text, length, &p);
        if (codepoint < 0) {
            *invalid = true;
        }
        uint32_t c = codepoint < 0 ? TEXT_REPLACEMENT : (uint32_t)codepoint;
        if (text_is_space(c) || text_is_control(c)) {
            pending_space = out->length > 0;
            continue;
        }
        if (text_is_invisible(c)) {
            continue;
        }
        if (pending_space) {
            text_buffer_append_byte(out, ' ');
            pending_space = false;
        }
        if (codepoint < 0) {
            text_buffer_append_codepoint(out, TEXT_REPLACEMENT);
        } else {
            text_buffer_append(out, text + start, p - start);
        }
    }
    return out->failed ? -1 : 0;
}

static bool quote_mark(uint32_t c)
{
    switch (c) {
    case '"':
    case 0x201C: /* “ */
    case 0x201D: /* ” */
    case 0x201E: /* „ */
    case 0x00AB: /* « */
    case 0x00BB: /* » */
    case 0x2039: /* ‹ */
    case 0x203A: /* › */
    case 0x300C: /* 「 */
    case 0x300D: /* 」 */
    case 0x300E: /* 『 */
    case 0x300F: /* 』 */
        return true;
    default:
        return false;
    }
}

/* The last code point of text[0..length) and where it starts. */
static int32_t last_codepoint(const char *text, size_t length, size_t *start)
{
    size_t p = length;
    while (p > 0 && ((unsigned char)text[p - 1] & 0xC0) == 0x80) {
        p--;
    }
    p = p > 0 ? p - 1 : 0;
    *start = p;
    size_t q = p;
    return text_utf8_next(text, length, &q);
}

/* Removes quotes (or single quotes) wrapping the whole of *text, repeatedly. */
static void strip_wrapping_quotes(const char **text, size_t *length)
{
    while (*length >= 2) {
        size_t p = 0, last_start;
        int32_t first = text_utf8_next(*text, *length, &p);
        int32_t last = last_codepoint(*text, *length, &last_start);
        bool wrapped = first >= 0 && last >= 0 && last_start >= p &&
                       ((quote_mark((uint32_t)first) && quote_mark((uint32_t)last)) ||
                        (first == '\'' && last == '\'') || (first == 0x2018 && last == 0x2019));
        if (!wrapped) {
            return;
        }
        *text += p;
        *length = last_start - p;
        while (*length > 0 && **text == ' ') {
            (*text)++;
            (*length)--;
        }
        while (*length > 0 && (*text)[*length - 1] == ' ') {
            (*length)--;
        }
    }
}

/*
 * An email address in or as the name. Returns true when the text is not a name because of
 * one; otherwise *length may be shortened to drop a trailing "<ann@x.com>" /
 * "(ann@x.com)" / "[ann@x.com]".
 */
static bool email_in_name(const char *text, size_t *length)
{
    if (memchr(text, '@', *length) == NULL) {
        return false;
    }
    if (memchr(text, ' ', *length) == NULL) {
        return true; /* "ann@x.com", or something else with an '@': not a name */
    }
    char close = (*length > 0) ? text[*length - 1] : '\0';
    char open = close == '>' ? '<' : close == ')' ? '(' : close == ']' ? '[' : '\0';
    if (open != '\0') {
        for (size_t i = *length - 1; i > 0; i--) {
            if (text[i - 1] == open) {
                bool address = memchr(text + i, '@', *length - i) != NULL;
                if (address && memchr(text, '@', i - 1) == NULL) {
                    size_t kept = i - 1;
                    while (kept > 0 && text[kept - 1] == ' ') {
                        kept--;
                    }
                    *length = kept;
                    return kept == 0;
                }
                break;
            }
        }
    }
    return true;
}

/* --- words ----------------------------------------------------------------------------- */

static bool word_punctuation(uint32_t c)
{
    return c == '-' || c == 0x2010 || c == 0x2011 || c == '\'' || c == 0x2019 || c == 0x02BC ||
           c == '.' || c == 0x00B7 || c == 0x05F3 || c == 0x05F4 || c == 0x30FB;
}

static bool separator_comma(uint32_t c)
{
    return c == ',' || c == 0xFF0C || c == 0x3001 || c == 0x060C;
}

static bool opening_bracket(uint32_t c)
{
    return c == '(' || c == '[' || c == '{' || c == 0xFF08;
}

static bool closing_bracket(uint32_t c)
{
    return c == ')' || c == ']' || c == '}' || c == 0xFF09;
}

static void word_add_codepoint(struct word *word, uint32_t c)
{
    enum text_script script = text_script_of(c);
    if (script != TEXT_SCRIPT_NONE) {
        if (word->script == TEXT_SCRIPT_NONE) {
            word->script = script;
        } else if (word->script != script) {
            word->mixed_script = true;
        }
        if (word->letters == 0) {
            word->first_upper = text_is_upper(c);
        }
        word->letters++;
        word->upper += text_is_upper(c);
        word->lower += text_is_lower(c);
    } else if (text_is_digit(c)) {
        word->digit = true;
    } else if (c == '/') {
        word->slash = true;
    } else if (c == '.') {
        word->dotted = true;
    } else if (!text_is_mark(c) && !word_punctuation(c)) {
        word->symbol = true;
    }
}

static bool hebrew_letter_at(const char *text, size_t length, size_t p)
{
    if (p >= length) {
        return false;
    }
    int32_t c = text_utf8_next(text, length, &p);
    return c >= 0 && text_script_of((uint32_t)c) == TEXT_SCRIPT_HEBREW;
}

static void tokenize(struct parse *parse)
{
    const char *text = parse->work;
    size_t length = parse->work_length;
    int depth = 0; /* parentheses */
    bool quoted = false;
    struct word *word = NULL;
    size_t p = 0;
    bool previous_hebrew = false;
    while (p < length) {
        size_t start = p;
        int32_t codepoint = text_utf8_next(text, length, &p);
        uint32_t c = codepoint < 0 ? TEXT_REPLACEMENT : (uint32_t)codepoint;
        bool hebrew_mark = c == '"' && previous_hebrew && hebrew_letter_at(text, length, p);
        bool separator = c == ' ' || separator_comma(c) || opening_bracket(c) ||
                         closing_bracket(c) || (quote_mark(c) && !hebrew_mark) || c == '&' ||
                         c == '+';
        previous_hebrew = text_script_of(c) == TEXT_SCRIPT_HEBREW;
        if (separator) {
            if (separator_comma(c) && parse->count > 0) {
                parse->words[parse->count - 1].comma_after = true;
            }
            word = NULL;
            if (opening_bracket(c)) {
                depth++;
            } else if (closing_bracket(c)) {
                depth -= depth > 0;
            } else if (quote_mark(c)) {
                quoted = !quoted;
            } else if (c == '&' || c == '+') {
                if (parse->count == WORDS_MAX) {
                    parse->too_many = true;
                    return;
                }
                struct word *ampersand = &parse->words[parse->count++];
                memset(ampersand, 0, sizeof(*ampersand));
                *ampersand = (struct word){.text = text + start,
                                           .length = p - start,
                                           .ampersand = true,
                                           .aside = depth > 0 || quoted};
            }
            continue;
        }
        if (word == NULL) {
            if (parse->count == WORDS_MAX) {
                parse->too_many = true;
                return;
            }
            word = &parse->words[parse->count++];
            memset(word, 0, sizeof(*word));
            word->text = text + start;
            word->aside = depth > 0 || quoted;
        }
        word->length = (size_t)(text + p - word->text);
        word_add_codepoint(word, c);
    }
}

static void key_words(struct parse *parse)
{
    bool all_aside = true;
    for (size_t i = 0; i < parse->count; i++) {
        struct word *word = &parse->words[i];
        word->keyed = person_words_key(word->text, word->length, word->key);
        all_aside &= word->aside;
    }
    if (all_aside) {
        /* "(Ann Lee)": brackets around everything set nothing aside */
        for (size_t i = 0; i < parse->count; i++) {
            parse->words[i].aside = false;
        }
    }
}

static bool cased(enum text_script script)
{
    return script == TEXT_SCRIPT_LATIN || script == TEXT_SCRIPT_GREEK ||
           script == TEXT_SCRIPT_CYRILLIC || script == TEXT_SCRIPT_ARMENIAN;
}

/* "J", "J.", "j.", "J.R.", "J.-P.": a name written as initials (a lone lowercase letter
 * is a word: "y" in "Ortega y Gasset"). */
static bool initial(const struct word *word)
{
    if (!cased(word->script) || word->letters == 0) {
        return false;
    }
    if (word->letters == 1) {
        return word->upper == 1 || word->dotted;
    }
    return word->dotted && word->lower == 0 && word->letters <= 3;
}

/* Written in capitals: at least two letters, none lowercase. */
static bool capitals(const struct word *word)
{
    return cased(word->script) && word->letters >= 2 && word->lower == 0;
}

static bool capitalized(const struct word *word)
{
    return word->first_upper && word->upper == 1;
}

static bool key_is(const struct word *word, bool (*test)(const char *))
{
    return word->keyed && test(word->key);
}

/* --- organizations and non-names ------------------------------------------------------- */

static bool org_substring(const char *text, size_t length)
{
    for (size_t i = 0; person_words_org_substrings[i] != NULL; i++) {
        const char *needle = person_words_org_substrings[i];
        if (memmem(text, length, needle, strlen(needle)) != NULL) {
            return true;
        }
    }
    return false;
}

/* The reason the text names an organization, or NULL. */
static const char *organization(const struct parse *parse)
{
    if (org_substring(parse->work, parse->work_length)) {
        return "legal_form";
    }
    const struct word *words[WORDS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < parse->count; i++) {
        if (!parse->words[i].aside) {
            words[count++] = &parse->words[i];
        }
    }
    for (size_t i = 0; i < count; i++) {
        const struct word *word = words[i];
        if (!word->keyed) {
            continue;
        }
        bool written_as_form = capitals(word) || word->dotted || word->slash;
        switch (person_words_legal_form(word->key)) {
        case PERSON_WORDS_LEGAL:
            return "legal_form";
        case PERSON_WORDS_LEGAL_SHORT:
            if (written_as_form && i > 0) {
                return "legal_form";
            }
            break;
        case PERSON_WORDS_LEGAL_PREFIX:
            if (written_as_form && count > 1) {
                return "legal_form";
            }
            break;
        case PERSON_WORDS_NOT_LEGAL:
            break;
        }
        if (person_words_organization(word->key)) {
            return "organization_word";
        }
        /* "Smith & Sons", "Dupont et Fils", "Meyer & Co." */
        bool joins = word->ampersand || person_words_people_conjunction(word->key);
        if (joins && i + 1 < count && words[i + 1]->keyed &&
            person_words_firm_successor(words[i + 1]->key)) {
            return "legal_form";
        }
    }
    /* forms of several words: "Sp. z o.o.", "S.A. de C.V.", "Sdn Bhd" */
    for (size_t i = 0; i < count; i++) {
        char joined[PERSON_WORDS_KEY_MAX * 4];
        size_t used = 0;
        for (size_t n = 0; n < 4 && i + n < count && words[i + n]->keyed; n++) {
            size_t key_length = strlen(words[i + n]->key);
            if (used + key_length >= sizeof(joined)) {
                break;
            }
            memcpy(joined + used, words[i + n]->key, key_length + 1);
            used += key_length;
            if (n > 0 && person_words_legal_form_words(joined)) {
                return "legal_form";
            }
        }
    }
    return NULL;
}

/* The reason the text is not one person's name, or NULL. */
static const char *not_a_name(const struct parse *parse)
{
    for (size_t i = 0; i < parse->count; i++) {
        const struct word *word = &parse->words[i];
        if (word->aside) {
            continue;
        }
        if (word->ampersand || key_is(word, person_words_people_conjunction)) {
            return "several_people";
        }
        if (word->digit) {
            return "digits";
        }
        if (word->symbol || word->slash) {
            return "symbols";
        }
        if (key_is(word, person_words_role)) {
            return "role";
        }
    }
    return NULL;
}

/* --- honorifics and suffixes ------------------------------------------------------------ */

/* Fills parse->name with the words left once asides, honorifics and suffixes are out. */
static void take_name_words(struct parse *parse)
{
    struct word *words[WORDS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < parse->count; i++) {
        if (!parse->words[i].aside) {
            words[count++] = &parse->words[i];
        }
    }
    size_t first = 0;
    bool after_honorific = false;
    while (first < count) {
        size_t after = count - first - 1;
        if (!words[first]->keyed) {
            break;
        }
        bool honorific =
            person_words_honorific(words[first]->key, after) ||
            (after_honorific && person_words_honorific_continuation(words[first]->key));
        if (!honorific || after == 0) {
            break; /* "Dr." alone stays: no_name is decided below */
        }
        if (parse->honorific_first == NULL) {
            parse->honorific_first = words[first];
        }
        parse->honorific_last = words[first];
        after_honorific = true;
        first++;
    }
    /* honorifics written after a CJK or Hangul name: "田中様", "김민준 님" */
    if (count > first) {
        struct word *last = words[count - 1];
        for (size_t i = 0; person_words_cjk_honorifics[i] != NULL; i++) {
            const char *honorific = person_words_cjk_honorifics[i];
            size_t length = strlen(honorific);
            bool whole = last->length == length && memcmp(last->text, honorific, length) == 0;
            bool glued = (last->script == TEXT_SCRIPT_CJK || last->script == TEXT_SCRIPT_HANGUL) &&
                         last->length > length &&
                         memcmp(last->text + last->length - length, honorific, length) == 0;
            if (whole && count - first > 1) {
                count--;
                break;
            }
            if (glued) {
                last->length -= length;
                break;
            }
        }
    }
    size_t end = count;
    while (end > first + 1) {
        struct word *word = words[end - 1];
        bool roman = word->keyed && (strcmp(word->key, "ii") == 0 ||
                                     strcmp(word->key, "iii") == 0 || strcmp(word->key, "iv") == 0);
        if (!word->keyed || !person_words_suffix(word->key) || (roman && !capitals(word))) {
            break;
        }
        if (parse->suffix_last == NULL) {
            parse->suffix_last = word;
        }
        parse->suffix_first = word;
        end--;
        words[end - 1]->comma_after = false; /* "Smith, Jr." is no "Last, First" */
    }
    for (size_t i = first; i < end; i++) {
        /* "Gutiérrez, Dr. José María": honorifics also open the part after a comma */
        bool after_comma = i > first && words[i - 1]->comma_after;
        if (after_comma && i + 1 < end && words[i]->keyed &&
            person_words_honorific(words[i]->key, end - i - 1)) {
            if (parse->honorific_first == NULL) {
                parse->honorific_first = words[i];
            }
            parse->honorific_last = words[i];
            words[i]->comma_after = true; /* a second honorific ("Prof. Dr.") goes too */
            continue;
        }
        parse->name[parse->name_count++] = words[i];
    }
}

/* --- splitting ------------------------------------------------------------------------- */

static void verdict_split(struct verdict *verdict, const struct word *const *given,
                          size_t given_count, const struct word *const *family, size_t family_count)
{
    verdict->kind = PERSON_NAME_PERSON;
    verdict->given = given;
    verdict->given_count = given_count;
    verdict->family = family;
    verdict->family_count = family_count;
    verdict->reason = given_count > 0 ? "split" : "family_only";
}

static void verdict_whole(struct verdict *verdict, const char *reason)
{
    verdict->kind = PERSON_NAME_PERSON;
    verdict->reason = reason;
}

static bool all_initials(const struct word *const *words, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!initial(words[i])) {
            return false;
        }
    }
    return count > 0;
}

/* Given + family, unless the given part is only initials (then family alone). */
static void split_at(struct verdict *verdict, const struct word *const *words, size_t count,
                     size_t at)
{
    const struct word *const *given = words;
    size_t given_count = at;
    if (all_initials(given, given_count)) {
        given_count = 0;
    }
    verdict_split(verdict, given, given_count, words + at, count - at);
}

/* "Kowalski, Marek": the comma ends the family name. */
static bool split_comma(const struct word *const *words, size_t count, struct verdict *verdict)
{
    size_t commas = 0, at = 0;
    for (size_t i = 0; i + 1 < count; i++) {
        if (words[i]->comma_after) {
            commas++;
            at = i + 1;
        }
    }
    if (commas == 0) {
        return false;
    }
    if (commas > 1 || at > 4 || count - at > 4) {
        verdict_whole(verdict, "commas");
        return true;
    }
    const struct word *const *given = words + at;
    size_t given_count = count - at;
    if (all_initials(given, given_count)) {
        given_count = 0;
    }
    verdict_split(verdict, given, given_count, words, at);
    return true;
}

static bool split_cjk(const struct word *const *words, size_t count, struct verdict *verdict)
{
    if (count == 1) {
        verdict_whole(verdict, "cjk_unsegmented");
    } else if (count == 2) {
        verdict_split(verdict, words + 1, 1, words, 1); /* family name first */
    } else {
        verdict_whole(verdict, "ambiguous");
    }
    return true;
}

/* Vietnamese "Nguyễn Văn An": family first, the given name last. */
static bool split_vietnamese(const struct word *const *words, size_t count, struct verdict *verdict)
{
    if (count != 3 || words[0]->script != TEXT_SCRIPT_LATIN ||
        !key_is(words[0], person_words_vietnamese_family) ||
        !key_is(words[1], person_words_vietnamese_middle)) {
        return false;
    }
    verdict_split(verdict, words + 2, 1, words, 1);
    return true;
}

/* Russian order is known from a patronymic, or from which word has a surname's ending. */
static bool split_cyrillic(const struct word *const *words, size_t count, struct verdict *verdict)
{
    if (words[0]->script != TEXT_SCRIPT_CYRILLIC) {
        return false;
    }
    if (count == 3 && key_is(words[2], person_words_slavic_patronymic)) {
        verdict_split(verdict, words + 1, 1, words, 1); /* Иванов Иван Иванович */
        return true;
    }
    if (count == 3 && key_is(words[1], person_words_slavic_patronymic)) {
        verdict_split(verdict, words, 1, words + 2, 1); /* Иван Иванович Иванов */
        return true;
    }
    if (count == 2) {
        bool first = key_is(words[0], person_words_slavic_surname);
        bool second = key_is(words[1], person_words_slavic_surname);
        if (second && !first) {
            verdict_split(verdict, words, 1, words + 1, 1);
            return true;
        }
        if (first && !second && !key_is(words[1], person_words_slavic_patronymic)) {
            verdict_split(verdict, words + 1, 1, words, 1);
            return true;
        }
    }
    return false; /* the particle and compound rules may still apply; else kept whole */
}

/* "Jean DUPONT", "DUPONT Jean", "María José GARCÍA LÓPEZ": the family name in capitals. */
static bool split_capitals(const struct word *const *words, size_t count, struct verdict *verdict)
{
    if (!cased(words[0]->script)) {
        return false;
    }
    size_t caps = 0;
    bool long_caps = false;
    for (size_t i = 0; i < count; i++) {
        bool upper = capitals(words[i]) && !initial(words[i]);
        caps += upper;
        long_caps |= upper && words[i]->letters >= 3;
    }
    if (caps == 0 || caps == count || !long_caps) {
        return false;
    }
    size_t leading = 0, trailing = 0;
    while (leading < count && capitals(words[leading]) && !initial(words[leading])) {
        leading++;
    }
    while (trailing < count && capitals(words[count - 1 - trailing]) &&
           !initial(words[count - 1 - trailing])) {
        trailing++;
    }
    if (leading == caps && count - caps <= 3) {
        const struct word *const *given = words + caps;
        size_t given_count = all_initials(given, count - caps) ? 0 : count - caps;
        verdict_split(verdict, given, given_count, words, caps);
        return true;
    }
    if (trailing == caps && count - caps <= 3) {
        split_at(verdict, words, count, count - caps);
        return true;
    }
    return false;
}

static bool particle(const struct word *word)
{
    if (!word->keyed) {
        return false;
    }
    bool lower = word->upper == 0;
    return person_words_particle(word->key, !lower && (capitalized(word) || capitals(word)));
}

/* The first word of the family name when a particle or a surname conjunction says where
 * it starts, or 0. */
static size_t particle_start(const struct word *const *words, size_t count)
{
    for (size_t i = 1; i + 1 < count; i++) {
        if (particle(words[i])) {
            return i;
        }
        if (i >= 2 && words[i]->upper == 0 && key_is(words[i], person_words_surname_conjunction)) {
            return i - 1; /* "José Ortega y Gasset" */
        }
    }
    return 0;
}

/* Words whose given name is known to take more than one word. */
static size_t compound_given_length(const struct word *const *words, size_t count)
{
    if (count >= 3 && key_is(words[0], person_words_given_prefix)) {
        return 2; /* "Abdul Rahman Al-Saud", "عبد الله الأحمد" */
    }
    if (count >= 3 && words[0]->keyed && words[1]->keyed &&
        person_words_compound_given(words[0]->key, words[1]->key)) {
        return 2;
    }
    /* "María del Carmen García", "María de los Ángeles Pérez" */
    static const char *const marian[] = {
        "carmen",   "pilar",     "rosario",  "mar",      "sol",        "socorro",
        "consuelo", "rocío",     "rocio",    "ángeles",  "angeles",    "luz",
        "jesús",    "jesus",     "lourdes",  "mercedes", "montserrat", "dolores",
        "remedios", "guadalupe", "asunción", "asuncion", "fátima",     "fatima",
    };
    if (count >= 4 && key_is(words[0], person_words_given_before_particle)) {
        size_t i = 1;
        while (i < count && particle(words[i])) {
            i++;
        }
        if (i > 1 && i + 1 < count && words[i]->keyed) {
            for (size_t k = 0; k < sizeof(marian) / sizeof(marian[0]); k++) {
                if (strcmp(words[i]->key, marian[k]) == 0) {
                    return i + 1;
                }
            }
        }
    }
    return 0;
}

static void split_words(const struct word *const *words, size_t count, struct verdict *verdict)
{
    if (split_comma(words, count, verdict)) {
        return;
    }
    enum text_script script = words[0]->script;
    if (script == TEXT_SCRIPT_CJK || script == TEXT_SCRIPT_HANGUL) {
        split_cjk(words, count, verdict);
        return;
    }
    if (script == TEXT_SCRIPT_OTHER || script == TEXT_SCRIPT_NONE) {
        verdict_whole(verdict, "script_not_known");
        return;
    }
    if (count == 1) {
        verdict_whole(verdict, initial(words[0]) ? "initials" : "single_word");
        return;
    }
    if (words[0]->upper == 0 && particle(words[0]) && count <= 4) {
        verdict_split(verdict, NULL, 0, words, count); /* "de la Cruz", "van Gogh" */
        return;
    }
    if (count > SPLIT_MAX) {
        verdict_whole(verdict, "too_many_words");
        return;
    }
    if (split_vietnamese(words, count, verdict) || split_cyrillic(words, count, verdict) ||
        split_capitals(words, count, verdict)) {
        return;
    }

    /* initials: middle ones say nothing ("John F. Kennedy" is John / Kennedy); around
     * one word, that word is the family name ("J. R. Smith", "Smith J.") */
    size_t names = 0, name_at = 0;
    bool middle_initials = false;
    for (size_t i = 0; i < count; i++) {
        if (!initial(words[i])) {
            names++;
            name_at = i;
        } else if (i > 0 && i + 1 < count) {
            middle_initials = true;
        }
    }
    if (names == 0) {
        verdict_whole(verdict, "initials");
        return;
    }
    if (names == 1) {
        verdict_split(verdict, NULL, 0, words + name_at, 1);
        return;
    }
    if (middle_initials) {
        if (names == 2 && !initial(words[0]) && !initial(words[count - 1])) {
            verdict_split(verdict, words, 1, words + count - 1, 1);
        } else {
            verdict_whole(verdict, "ambiguous");
        }
        return;
    }

    size_t given = compound_given_length(words, count);
    if (given > 0 && count - given >= 1 && count - given <= 3) {
        split_at(verdict, words, count, given);
        return;
    }
    size_t family = particle_start(words, count);
    if (family > 0 && family <= 3) {
        split_at(verdict, words, count, family);
        return;
    }
    if (count == 2 && words[0]->script != TEXT_SCRIPT_CYRILLIC) {
        split_at(verdict, words, count, 1);
        return;
    }
    verdict_whole(verdict, "ambiguous");
}

/* --- the result ------------------------------------------------------------------------ */

static void decide(struct parse *parse, struct verdict *verdict)
{
    const char *reason = organization(parse);
    if (reason != NULL) {
        verdict->kind = PERSON_NAME_ORGANIZATION;
        verdict->reason = reason;
        return;
    }
    if ((reason = not_a_name(parse)) != NULL) {
        verdict->kind = PERSON_NAME_UNKNOWN;
        verdict->reason = reason;
        return;
    }
    if (parse->too_many) {
        verdict_whole(verdict, "too_many_words");
        return;
    }
    take_name_words(parse);
    if (parse->name_count == 0) {
        verdict->kind = PERSON_NAME_UNKNOWN;
        verdict->reason = "no_name";
        return;
    }
    enum text_script script = parse->name[0]->script;
    for (size_t i = 0; i < parse->name_count; i++) {
        const struct word *word = parse->name[i];
        if (word->mixed_script || (word->script != script && word->script != TEXT_SCRIPT_NONE)) {
            verdict_whole(verdict, "mixed_scripts");
            return;
        }
        if (word->letters == 0) {
            verdict_whole(verdict, "symbols"); /* a word of punctuation only: "-" */
            return;
        }
    }
    if (parse->name_count == 1 && parse->name[0]->keyed &&
        person_words_honorific(parse->name[0]->key, 0)) {
        verdict->kind = PERSON_NAME_UNKNOWN; /* "Dr." alone: nothing to name */
        verdict->reason = "no_name";
        return;
    }
    /* "Mrs Smith", "Herr Müller", "Dr. Kowalski": an honorific goes with the family name
     * (not in CJK, where 様 and 先生 follow a full name as often as a family name) */
    if (parse->name_count == 1 && parse->honorific_first != NULL && cased(script) &&
        !initial(parse->name[0])) {
        verdict_split(verdict, NULL, 0, parse->name, 1);
        return;
    }
    split_words(parse->name, parse->name_count, verdict);
}

/* Appends words joined by single spaces and a NUL; returns the offset, or SIZE_MAX for no
 * words. */
static size_t store_words(struct text_buffer *storage, const struct word *const *words,
                          size_t count)
{
    if (count == 0 || words == NULL) {
        return SIZE_MAX;
    }
    size_t offset = storage->length;
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            text_buffer_append_byte(storage, ' ');
        }
        text_buffer_append(storage, words[i]->text, words[i]->length);
    }
    text_buffer_append_byte(storage, '\0');
    return offset;
}

/* Appends the text from first's start to last's end (inclusive). */
static size_t store_span(struct text_buffer *storage, const struct word *first,
                         const struct word *last)
{
    if (first == NULL || last == NULL) {
        return SIZE_MAX;
    }
    const char *start = first->text < last->text ? first->text : last->text;
    const char *end =
        first->text < last->text ? last->text + last->length : first->text + first->length;
    size_t offset = storage->length;
    text_buffer_append(storage, start, (size_t)(end - start));
    text_buffer_append_byte(storage, '\0');
    return offset;
}

static void set_empty(struct person_name *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = PERSON_NAME_EMPTY;
    out->full_name = "";
    out->reason = "empty";
}

int person_name_parse(const char *text, size_t length, struct person_name *out)
{
    set_empty(out);
    struct text_buffer cleaned = TEXT_BUFFER_INIT;
    struct text_buffer storage = TEXT_BUFFER_INIT;
    struct parse *parse = calloc(1, sizeof(*parse));
    bool invalid = false;
    int rc = -1;
    if (parse == NULL ||
        clean(text != NULL ? text : "", text != NULL ? length : 0, &cleaned, &invalid) != 0) {
        goto out;
    }
    const char *work = cleaned.data != NULL ? cleaned.data : "";
    size_t work_length = cleaned.length;
    strip_wrapping_quotes(&work, &work_length);
    struct verdict verdict = {PERSON_NAME_PERSON, "split", NULL, 0, NULL, 0};
    if (work_length == 0) {
        rc = 0;
        goto out;
    }
    size_t full_length = work_length;
    if (invalid) {
        verdict = (struct verdict){PERSON_NAME_UNKNOWN, "invalid_utf8", NULL, 0, NULL, 0};
    } else if (email_in_name(work, &work_length)) {
        verdict = (struct verdict){PERSON_NAME_UNKNOWN, "email", NULL, 0, NULL, 0};
        work_length = full_length;
    } else {
        strip_wrapping_quotes(&work, &work_length);
        full_length = work_length;
        parse->work = (char *)(uintptr_t)work; /* read only */
        parse->work_length = work_length;
        tokenize(parse);
        key_words(parse);
        decide(parse, &verdict);
    }

    /* full name, then the parts, each NUL-terminated, in one allocation */
    size_t offsets[5];
    text_buffer_append(&storage, work, full_length);
    text_buffer_append_byte(&storage, '\0');
    offsets[0] = 0;
    offsets[1] = store_words(&storage, verdict.given, verdict.given_count);
    offsets[2] = store_words(&storage, verdict.family, verdict.family_count);
    bool person = verdict.kind == PERSON_NAME_PERSON;
    offsets[3] =
        person ? store_span(&storage, parse->honorific_first, parse->honorific_last) : SIZE_MAX;
    offsets[4] = person ? store_span(&storage, parse->suffix_first, parse->suffix_last) : SIZE_MAX;
    if (storage.failed) {
        goto out;
    }
    out->storage = text_buffer_take(&storage);
    if (out->storage == NULL) {
        goto out;
    }
    const char **fields[5] = {&out->full_name, &out->given_name, &out->family_name, &out->honorific,
                              &out->suffix};
    for (size_t i = 0; i < 5; i++) {
        *fields[i] = offsets[i] == SIZE_MAX ? NULL : out->storage + offsets[i];
    }
    out->kind = verdict.kind;
    out->reason = verdict.reason;
    rc = 0;
out:
    text_buffer_free(&cleaned);
    text_buffer_free(&storage);
    free(parse);
    if (rc != 0) {
        person_name_clear(out);
    }
    return rc;
}

void person_name_clear(struct person_name *name)
{
    free(name->storage);
    set_empty(name);
}

const char *person_name_kind_name(enum person_name_kind kind)
{
    switch (kind) {
    case PERSON_NAME_EMPTY:
        return "empty";
    case PERSON_NAME_PERSON:
        return "person";
    case PERSON_NAME_ORGANIZATION:
        return "organization";
    case PERSON_NAME_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}
