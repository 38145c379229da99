/*
 * mail_encoded_word.h - RFC 2047 encoded words ("=?UTF-8?B?Sm9zw6k=?=") in display names,
 * comments and subjects, decoded to UTF-8.
 *
 * Rules, as mail readers apply them to what mail clients really send:
 *   - B (base64, padding optional) and Q (quoted-printable, "_" for a space) encodings,
 *     either case; an RFC 2231 language ("=?UTF-8*de?Q?...?=") is ignored;
 *   - the charsets of mail_charset.h; a word in any other charset, or with bad encoded
 *     text, is malformed and left exactly as it was written;
 *   - white space between two adjacent encoded words is dropped, and the bytes of
 *     adjacent words in the same charset are joined before conversion (clients split a
 *     multibyte character across two words);
 *   - encoded words are recognised wherever they appear, also inside quoted strings and
 *     glued to other text, because widespread clients write them there;
 *   - an encoded word longer than MAIL_ENCODED_WORD_MAX bytes is not one (RFC 2047 allows
 *     75), which bounds the work any input can cause.
 * The output is well-formed UTF-8 in which every control character (tab, CR, LF, NUL
 * included) has become a space; raw bytes outside encoded words that are not UTF-8 become
 * U+FFFD.
 *
 * Pure and thread-safe.
 */
#ifndef LEADHUB_MAIL_ENCODED_WORD_H
#define LEADHUB_MAIL_ENCODED_WORD_H

#include <stddef.h>

struct text_buffer;

#define MAIL_ENCODED_WORD_MAX 1024

/* Appends text[0..length), encoded words decoded, to out. Returns 0, or -1 when out of
 * memory. */
int mail_decode_words(const char *text, size_t length, struct text_buffer *out);

/* The same into a new string the caller frees; NULL when out of memory. */
char *mail_decode_words_dup(const char *text, size_t length);

#endif
