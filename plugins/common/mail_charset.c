/*
 * mail_charset.c - MIME charsets to UTF-8 (see mail_charset.h).
 *
 * Note: ISO-8859-1 and US-ASCII are read as Windows-1252, as the WHATWG Encoding Standard
 * and mail readers do: mail labelled Latin-1 routinely carries Windows quotes and dashes
 * in 0x80-0x9F, where true Latin-1 has only invisible control characters.
 */
#include "mail_charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>

#include "text_buffer.h"
#include "text_utf8.h"

enum builtin {
    BUILTIN_NONE = 0,
    BUILTIN_UTF8,
    BUILTIN_WINDOWS_1252, /* also ISO-8859-1 and US-ASCII */
    BUILTIN_ISO_8859_15,
};

#define CHARSET_NAME_MAX 40

static const struct {
    const char *name;
    enum builtin builtin;
} builtin_names[] = {
    {"utf-8", BUILTIN_UTF8},
    {"utf8", BUILTIN_UTF8},
    {"us-ascii", BUILTIN_WINDOWS_1252},
    {"ascii", BUILTIN_WINDOWS_1252},
    {"ansi_x3.4-1968", BUILTIN_WINDOWS_1252},
    {"iso-8859-1", BUILTIN_WINDOWS_1252},
    {"iso8859-1", BUILTIN_WINDOWS_1252},
    {"iso_8859-1", BUILTIN_WINDOWS_1252},
    {"latin1", BUILTIN_WINDOWS_1252},
    {"latin-1", BUILTIN_WINDOWS_1252},
    {"l1", BUILTIN_WINDOWS_1252},
    {"cp819", BUILTIN_WINDOWS_1252},
    {"windows-1252", BUILTIN_WINDOWS_1252},
    {"cp1252", BUILTIN_WINDOWS_1252},
    {"x-cp1252", BUILTIN_WINDOWS_1252},
    {"iso-8859-15", BUILTIN_ISO_8859_15},
    {"iso8859-15", BUILTIN_ISO_8859_15},
    {"iso_8859-15", BUILTIN_ISO_8859_15},
    {"latin-9", BUILTIN_ISO_8859_15},
    {"latin9", BUILTIN_ISO_8859_15},
};

/* Label -> iconv name. Supersets where mail mislabels routinely: GB2312 mail is read as
 * GBK, EUC-KR/ks_c_5601-1987 as CP949, TIS-620 as CP874, Shift_JIS as CP932. */
static const struct {
    const char *name;
    const char *iconv_name;
} iconv_names[] = {
    {"iso-8859-2", "ISO-8859-2"},
    {"iso-8859-3", "ISO-8859-3"},
    {"iso-8859-4", "ISO-8859-4"},
    {"iso-8859-5", "ISO-8859-5"},
    {"iso-8859-6", "ISO-8859-6"},
    {"iso-8859-7", "ISO-8859-7"},
    {"iso-8859-8", "ISO-8859-8"},
    {"iso-8859-8-i", "ISO-8859-8"},
    {"iso-8859-9", "ISO-8859-9"},
    {"iso-8859-10", "ISO-8859-10"},
    {"iso-8859-11", "ISO-8859-11"},
    {"iso-8859-13", "ISO-8859-13"},
    {"iso-8859-14", "ISO-8859-14"},
    {"iso-8859-16", "ISO-8859-16"},
    {"windows-1250", "WINDOWS-1250"},
    {"windows-1251", "WINDOWS-1251"},
    {"windows-1253", "WINDOWS-1253"},
    {"windows-1254", "WINDOWS-1254"},
    {"windows-1255", "WINDOWS-1255"},
    {"windows-1256", "WINDOWS-1256"},
    {"windows-1257", "WINDOWS-1257"},
    {"windows-1258", "WINDOWS-1258"},
    {"cp1250", "WINDOWS-1250"},
    {"cp1251", "WINDOWS-1251"},
    {"koi8-r", "KOI8-R"},
    {"koi8-u", "KOI8-U"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"sjis", "CP932"},
    {"x-sjis", "CP932"},
    {"cp932", "CP932"},
    {"windows-31j", "CP932"},
    {"euc-jp", "EUC-JP"},
    {"iso-2022-jp", "ISO-2022-JP"},
    {"gb2312", "GBK"},
    {"gbk", "GBK"},
    {"cp936", "GBK"},
    {"gb18030", "GB18030"},
    {"big5", "BIG5"},
    {"big5-hkscs", "BIG5-HKSCS"},
    {"euc-kr", "CP949"},
    {"ks_c_5601-1987", "CP949"},
    {"cp949", "CP949"},
    {"tis-620", "CP874"},
    {"windows-874", "CP874"},
};

/* 0x80-0x9F in Windows-1252; 0 where it defines nothing. */
static const uint16_t windows_1252_high[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* Where ISO-8859-15 differs from ISO-8859-1: byte, code point. */
static const uint16_t iso_8859_15_changes[][2] = {
    {0xA4, 0x20AC}, {0xA6, 0x0160}, {0xA8, 0x0161}, {0xB4, 0x017D},
    {0xB8, 0x017E}, {0xBC, 0x0152}, {0xBD, 0x0153}, {0xBE, 0x0178},
};

/* The lowercased name into out, or false when it cannot be a charset name. */
static bool normalized(const char *name, size_t length, char out[CHARSET_NAME_MAX + 1])
{
    if (length == 0 || length > CHARSET_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7F) {
            return false;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[length] = '\0';
    return true;
}

static enum builtin find_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++) {
        if (strcmp(builtin_names[i].name, name) == 0) {
            return builtin_names[i].builtin;
        }
    }
    return BUILTIN_NONE;
}

static const char *find_iconv(const char *name)
{
    for (size_t i = 0; i < sizeof(iconv_names) / sizeof(iconv_names[0]); i++) {
        if (strcmp(iconv_names[i].name, name) == 0) {
            return iconv_names[i].iconv_name;
        }
    }
    return NULL;
}

bool mail_charset_known(const char *name, size_t name_length)
{
    char key[CHARSET_NAME_MAX + 1];
    return normalized(name, name_length, key) &&
           (find_builtin(key) != BUILTIN_NONE || find_iconv(key) != NULL);
}

static int single_byte(enum builtin builtin, const unsigned char *bytes, size_t length,
                       struct text_buffer *out)
{
    for (size_t i = 0; i < length; i++) {
        uint32_t codepoint = bytes[i];
        if (codepoint >= 0x80 && codepoint <= 0x9F) {
            codepoint = windows_1252_high[codepoint - 0x80];
            codepoint = codepoint != 0 ? codepoint : TEXT_REPLACEMENT;
        } else if (builtin == BUILTIN_ISO_8859_15) {
            for (size_t k = 0; k < sizeof(iso_8859_15_changes) / sizeof(iso_8859_15_changes[0]);
                 k++) {
                if (iso_8859_15_changes[k][0] == codepoint) {
                    codepoint = iso_8859_15_changes[k][1];
                    break;
                }
            }
        }
        if (text_buffer_append_codepoint(out, codepoint) != 0) {
            return -2;
        }
    }
    return 0;
}

static int through_iconv(const char *iconv_name, const unsigned char *bytes, size_t length,
                         struct text_buffer *out)
{
    iconv_t cd = iconv_open("UTF-8", iconv_name);
    if (cd == (iconv_t)-1) {
        return -1; /* gconv modules not installed: the caller keeps the text as it was */
    }
    char *in = (char *)(uintptr_t)bytes; /* iconv's prototype; it does not write */
    size_t in_left = length;
    char chunk[1024];
    int rc = 0;
    while (in_left > 0 && rc == 0) {
        char *produced = chunk;
        size_t room = sizeof(chunk);
        size_t result = iconv(cd, &in, &in_left, &produced, &room);
        int error = result == (size_t)-1 ? errno : 0;
        /* iconv writes whole characters; repairing is only a second line of defence */
        if (text_utf8_append_repaired(out, chunk, sizeof(chunk) - room) < 0) {
            rc = -2;
        } else if (error != 0 && error != E2BIG) {
            rc = text_buffer_append_codepoint(out, TEXT_REPLACEMENT) != 0 ? -2 : 0;
            if (error == EILSEQ) {
                in++; /* skip the byte it cannot read, go on after it */
                in_left--;
            } else {
                in_left = 0; /* EINVAL: a sequence cut short by the end of the input */
            }
        }
    }
    if (rc == 0) {
        /* writes out what a stateful encoding (ISO-2022-JP) still holds */
        char *produced = chunk;
        size_t room = sizeof(chunk);
        (void)iconv(cd, NULL, NULL, &produced, &room);
        if (text_utf8_append_repaired(out, chunk, sizeof(chunk) - room) < 0) {
            rc = -2;
        }
    }
    iconv_close(cd);
    return rc;
}

int mail_charset_to_utf8(const char *name, size_t name_length, const unsigned char *bytes,
                         size_t length, struct text_buffer *out)
{
    char key[CHARSET_NAME_MAX + 1];
    if (!normalized(name, name_length, key)) {
        return -1;
    }
    enum builtin builtin = find_builtin(key);
    if (builtin == BUILTIN_UTF8) {
        return text_utf8_append_repaired(out, (const char *)bytes, length) < 0 ? -2 : 0;
    }
    if (builtin != BUILTIN_NONE) {
        return single_byte(builtin, bytes, length, out);
    }
    const char *iconv_name = find_iconv(key);
    if (iconv_name == NULL) {
        return -1;
    }
    return through_iconv(iconv_name, bytes, length, out);
}
