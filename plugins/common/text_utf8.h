/*
 * text_utf8.h - UTF-8 decoding, validation and repair, and the few facts about code points
 * the name and mail parsers need (script, letter, space, digit, simple case folding).
 *
 * The character classes are range tables for the scripts leadhub meets in names and mail
 * (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Devanagari, Thai, Georgian, CJK and
 * Hangul), not the whole Unicode database: a code point outside them is "other", which
 * the callers treat as a reason to be careful rather than to guess.
 *
 * Pure functions: no allocation except through a text_buffer the caller owns, no globals,
 * safe from any thread.
 */
#ifndef LEADHUB_TEXT_UTF8_H
#define LEADHUB_TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct text_buffer;

#define TEXT_REPLACEMENT 0xFFFDu

/* Writes the UTF-8 form of `codepoint` (U+FFFD for a surrogate or a value past U+10FFFF)
 * into out; returns its length (1-4). */
size_t text_utf8_encode(uint32_t codepoint, char out[4]);

/*
 * text_utf8_next - the code point at text[*position] (position < length), advancing
 * *position past it. An ill-formed sequence (overlong, surrogate, past U+10FFFF,
 * truncated, stray continuation byte) gives -1 and advances by one byte.
 */
int32_t text_utf8_next(const char *text, size_t length, size_t *position);

/* Is text[0..length) well-formed UTF-8? */
bool text_utf8_valid(const char *text, size_t length);

/*
 * text_utf8_append_repaired - appends text with every ill-formed byte replaced by U+FFFD.
 *   Returns the number of replacements, or -1 when out of memory.
 */
long text_utf8_append_repaired(struct text_buffer *out, const char *text, size_t length);

enum text_script {
    TEXT_SCRIPT_NONE = 0, /* not a letter: spaces, punctuation, digits, symbols */
    TEXT_SCRIPT_LATIN,
    TEXT_SCRIPT_GREEK,
    TEXT_SCRIPT_CYRILLIC,
    TEXT_SCRIPT_ARMENIAN,
    TEXT_SCRIPT_GEORGIAN,
    TEXT_SCRIPT_HEBREW,
    TEXT_SCRIPT_ARABIC,
    TEXT_SCRIPT_DEVANAGARI,
    TEXT_SCRIPT_THAI,
    TEXT_SCRIPT_CJK,    /* Han, Hiragana, Katakana (names written without spaces) */
    TEXT_SCRIPT_HANGUL, /* Korean */
    TEXT_SCRIPT_OTHER,  /* a letter of a script not listed: handled with care */
};

/* The script of a letter, TEXT_SCRIPT_NONE for anything else (combining marks included). */
enum text_script text_script_of(uint32_t codepoint);

/* A combining mark (accents, vowel signs, Hebrew points, Arabic harakat, ZWJ/ZWNJ). */
bool text_is_mark(uint32_t codepoint);

/* A letter of any script (text_script_of() != NONE). */
bool text_is_letter(uint32_t codepoint);

/* White space, including no-break and ideographic spaces. */
bool text_is_space(uint32_t codepoint);

/* A decimal digit: ASCII, Arabic-Indic, Devanagari, Thai, fullwidth. */
bool text_is_digit(uint32_t codepoint);

/* C0 and C1 controls and DEL. */
bool text_is_control(uint32_t codepoint);

/* Characters that are invisible and carry nothing in a name: zero-width space, BOM,
 * word joiner, soft hyphen. */
bool text_is_invisible(uint32_t codepoint);

/* Simple case folding for Latin (Basic, Latin-1, Extended-A), Greek, Cyrillic and Armenian;
 * any other code point is returned unchanged. */
uint32_t text_fold(uint32_t codepoint);

/* An uppercase letter (one that text_fold() changes). */
bool text_is_upper(uint32_t codepoint);

/* A lowercase letter of a script with case. */
bool text_is_lower(uint32_t codepoint);

/*
 * text_fold_equal - do a[0..a_length) and b (NUL-terminated) have the same text_fold()ed
 * code points? Ill-formed bytes compare unequal to anything.
 */
bool text_fold_equal(const char *a, size_t a_length, const char *b);

/* ASCII case-insensitive comparison of a[0..a_length) with b[0..b_length). */
bool text_ascii_equal_n(const char *a, size_t a_length, const char *b, size_t b_length);

/* ASCII case-insensitive comparison of a[0..a_length) with the NUL-terminated b. */
bool text_ascii_equal(const char *a, size_t a_length, const char *b);

/* ASCII case-insensitive prefix test. */
bool text_ascii_prefix(const char *text, size_t length, const char *prefix);

#endif
