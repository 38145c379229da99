/*
 * mail_charset.h - bytes in a MIME charset (RFC 2047 encoded words) to UTF-8.
 *
 * UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252 are converted here, by table,
 * so that the charsets mail uses most never depend on anything installed. A fixed list of
 * other charsets seen in mail (ISO-8859-2..16, Windows-1250..1258, KOI8-R/U, Shift_JIS,
 * EUC-JP, ISO-2022-JP, GB2312, GBK, GB18030, Big5, EUC-KR, TIS-620) goes through the C
 * library's iconv(3), from that charset to UTF-8 only. A charset name outside these lists
 * is refused rather than handed to iconv_open(): names are attacker-chosen, and only
 * conversions someone looked at are run.
 *
 * Whatever the source, the output is well-formed UTF-8: a byte sequence the charset does
 * not define becomes U+FFFD.
 *
 * Thread-safe: every call opens and closes its own iconv descriptor; no globals.
 */
#ifndef LEADHUB_MAIL_CHARSET_H
#define LEADHUB_MAIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

struct text_buffer;

/* Is `name` (any case; RFC 2231 "*language" already removed) a charset converted here? */
bool mail_charset_known(const char *name, size_t name_length);

/*
 * mail_charset_to_utf8 - appends bytes[0..length), in charset `name`, to out as UTF-8.
 *   Returns 0; -1 when the charset is not one of the lists above or iconv cannot open it
 *   (nothing appended); -2 when out of memory.
 */
int mail_charset_to_utf8(const char *name, size_t name_length, const unsigned char *bytes,
                         size_t length, struct text_buffer *out);

#endif
