/*
 * text_utf8.c - UTF-8 and code point classes (see text_utf8.h).
 */
#include "text_utf8.h"

#include <string.h>

#include "text_buffer.h"

size_t text_utf8_encode(uint32_t codepoint, char out[4])
{
    if (codepoint > 0x10FFFF || (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
        codepoint = TEXT_REPLACEMENT;
    }
    if (codepoint < 0x80) {
        out[0] = (char)codepoint;
        return 1;
    }
    if (codepoint < 0x800) {
        out[0] = (char)(0xC0 | (codepoint >> 6));
        out[1] = (char)(0x80 | (codepoint & 0x3F));
        return 2;
    }
    if (codepoint < 0x10000) {
        out[0] = (char)(0xE0 | (codepoint >> 12));
        out[1] = (char)(0x80 | ((codepoint >> 6) & 0x3F));
        out[2] = (char)(0x80 | (codepoint & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (codepoint >> 18));
    out[1] = (char)(0x80 | ((codepoint >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((codepoint >> 6) & 0x3F));
    out[3] = (char)(0x80 | (codepoint & 0x3F));
    return 4;
}

int32_t text_utf8_next(const char *text, size_t length, size_t *position)
{
    const unsigned char *p = (const unsigned char *)text + *position;
    size_t left = length - *position;
    unsigned char lead = p[0];
    if (lead < 0x80) {
        *position += 1;
        return lead;
    }
    size_t need;
    uint32_t codepoint, minimum;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
        codepoint = lead & 0x1F;
        minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        codepoint = lead & 0x0F;
        minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        codepoint = lead & 0x07;
        minimum = 0x10000;
    } else {
        *position += 1;
        return -1;
    }
    if (left <= need) {
        *position += 1;
        return -1;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *position += 1;
            return -1;
        }
        codepoint = (codepoint << 6) | (p[i] & 0x3F);
    }
    if (codepoint < minimum || codepoint > 0x10FFFF ||
        (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
        *position += 1;
        return -1;
    }
    *position += need + 1;
    return (int32_t)codepoint;
}

bool text_utf8_valid(const char *text, size_t length)
{
    size_t position = 0;
    while (position < length) {
        if (text_utf8_next(text, length, &position) < 0) {
            return false;
        }
    }
    return true;
}

long text_utf8_append_repaired(struct text_buffer *out, const char *text, size_t length)
{
    long replaced = 0;
    size_t position = 0;
    while (position < length) {
        size_t start = position;
        int32_t codepoint = text_utf8_next(text, length, &position);
        int rc = codepoint < 0 ? text_buffer_append_codepoint(out, TEXT_REPLACEMENT)
                               : text_buffer_append(out, text + start, position - start);
        if (rc != 0) {
            return -1;
        }
        replaced += codepoint < 0;
    }
    return replaced;
}

/* --- classes --------------------------------------------------------------------------- */

struct range {
    uint32_t first, last;
};

static bool in_ranges(uint32_t codepoint, const struct range *ranges, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (codepoint >= ranges[i].first && codepoint <= ranges[i].last) {
            return true;
        }
    }
    return false;
}

#define IN(cp, table) in_ranges((cp), (table), sizeof(table) / sizeof((table)[0]))

static const struct range marks[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x08D3, 0x08FF},
    {0x0900, 0x0903}, {0x093A, 0x093C}, {0x093E, 0x094F}, {0x0951, 0x0957}, {0x0962, 0x0963},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
    {0x200C, 0x200D}, {0x20D0, 0x20FF}, {0x2DE0, 0x2DFF}, {0x3099, 0x309A}, {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F},
};

static const struct range digits[] = {
    {0x0030, 0x0039}, {0x0660, 0x0669}, {0x06F0, 0x06F9}, {0x0966, 0x096F}, {0x09E6, 0x09EF},
    {0x0A66, 0x0A6F}, {0x0AE6, 0x0AEF}, {0x0B66, 0x0B6F}, {0x0BE6, 0x0BEF}, {0x0C66, 0x0C6F},
    {0x0CE6, 0x0CEF}, {0x0D66, 0x0D6F}, {0x0DE6, 0x0DEF}, {0x0E50, 0x0E59}, {0x0ED0, 0x0ED9},
    {0x0F20, 0x0F29}, {0x1040, 0x1049}, {0x17E0, 0x17E9}, {0x1810, 0x1819}, {0xFF10, 0xFF19},
};

static const struct range latin[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x00C0, 0x00D6},
    {0x00D8, 0x00F6}, {0x00F8, 0x02AF}, {0x1E00, 0x1EFF}, {0x2C60, 0x2C7F}, {0xA720, 0xA7FF},
    {0xAB30, 0xAB6F}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
};
static const struct range greek[] = {
    {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D}, {0x037F, 0x037F}, {0x0386, 0x0386},
    {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03FF}, {0x1F00, 0x1FBC},
    {0x1FC2, 0x1FCC}, {0x1FD0, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FFC},
};
static const struct range cyrillic[] = {
    {0x0400, 0x0481}, {0x048A, 0x052F}, {0x1C80, 0x1C8F}, {0xA640, 0xA66E}, {0xA67F, 0xA69F},
};
static const struct range armenian[] = {{0x0531, 0x0556}, {0x0561, 0x0587}};
static const struct range georgian[] = {{0x10A0, 0x10FF}, {0x1C90, 0x1CBF}, {0x2D00, 0x2D2F}};
static const struct range hebrew[] = {{0x05D0, 0x05EA}, {0x05EF, 0x05F2}, {0xFB1D, 0xFB4F}};
static const struct range arabic[] = {
    {0x0620, 0x064A}, {0x066E, 0x066F}, {0x0671, 0x06D3}, {0x06D5, 0x06D5},
    {0x06EE, 0x06EF}, {0x06FA, 0x06FC}, {0x06FF, 0x06FF}, {0x0750, 0x077F},
    {0x08A0, 0x08D2}, {0xFB50, 0xFDFB}, {0xFE70, 0xFEFC},
};
static const struct range devanagari[] = {
    {0x0904, 0x0939}, {0x093D, 0x093D}, {0x0950, 0x0950},
    {0x0958, 0x0961}, {0x0971, 0x097F}, {0xA8E0, 0xA8FF},
};
static const struct range thai[] = {{0x0E01, 0x0E30}, {0x0E32, 0x0E33}, {0x0E40, 0x0E46}};
static const struct range cjk[] = {
    {0x3005, 0x3007}, {0x3021, 0x3029},   {0x3041, 0x3096},   {0x309D, 0x309F}, {0x30A1, 0x30FA},
    {0x30FC, 0x30FF}, {0x31F0, 0x31FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF}, {0xF900, 0xFAFF},
    {0xFF66, 0xFF9F}, {0x20000, 0x2FA1F}, {0x30000, 0x3134F},
};
static const struct range hangul[] = {
    {0x1100, 0x11FF}, {0x3131, 0x318E}, {0xA960, 0xA97F},
    {0xAC00, 0xD7A3}, {0xD7B0, 0xD7FF}, {0xFFA0, 0xFFDC},
};
/* Letters of other scripts (Bengali to Sinhala, Lao, Tibetan, Myanmar, Ethiopic, Khmer,
 * Mongolian): recognised as letters, but no naming rules are known for them here. */
static const struct range other[] = {
    {0x0980, 0x0DFF}, {0x0E80, 0x0EFF}, {0x0F00, 0x0FFF}, {0x1000, 0x109F},
    {0x1200, 0x137F}, {0x1780, 0x17FF}, {0x1800, 0x18AF},
};

enum text_script text_script_of(uint32_t codepoint)
{
    if (codepoint < 0x80) {
        bool ascii_letter =
            (codepoint >= 'a' && codepoint <= 'z') || (codepoint >= 'A' && codepoint <= 'Z');
        return ascii_letter ? TEXT_SCRIPT_LATIN : TEXT_SCRIPT_NONE;
    }
    if (IN(codepoint, marks) || IN(codepoint, digits)) {
        return TEXT_SCRIPT_NONE;
    }
    static const struct {
        const struct range *ranges;
        size_t count;
        enum text_script script;
    } scripts[] = {
        {latin, sizeof(latin) / sizeof(latin[0]), TEXT_SCRIPT_LATIN},
        {greek, sizeof(greek) / sizeof(greek[0]), TEXT_SCRIPT_GREEK},
        {cyrillic, sizeof(cyrillic) / sizeof(cyrillic[0]), TEXT_SCRIPT_CYRILLIC},
        {armenian, sizeof(armenian) / sizeof(armenian[0]), TEXT_SCRIPT_ARMENIAN},
        {georgian, sizeof(georgian) / sizeof(georgian[0]), TEXT_SCRIPT_GEORGIAN},
        {hebrew, sizeof(hebrew) / sizeof(hebrew[0]), TEXT_SCRIPT_HEBREW},
        {arabic, sizeof(arabic) / sizeof(arabic[0]), TEXT_SCRIPT_ARABIC},
        {devanagari, sizeof(devanagari) / sizeof(devanagari[0]), TEXT_SCRIPT_DEVANAGARI},
        {thai, sizeof(thai) / sizeof(thai[0]), TEXT_SCRIPT_THAI},
        {cjk, sizeof(cjk) / sizeof(cjk[0]), TEXT_SCRIPT_CJK},
        {hangul, sizeof(hangul) / sizeof(hangul[0]), TEXT_SCRIPT_HANGUL},
        {other, sizeof(other) / sizeof(other[0]), TEXT_SCRIPT_OTHER},
    };
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        if (in_ranges(codepoint, scripts[i].ranges, scripts[i].count)) {
            return scripts[i].script;
        }
    }
    return TEXT_SCRIPT_NONE;
}

bool text_is_mark(uint32_t codepoint)
{
    return IN(codepoint, marks);
}

bool text_is_letter(uint32_t codepoint)
{
    return text_script_of(codepoint) != TEXT_SCRIPT_NONE;
}

bool text_is_space(uint32_t codepoint)
{
    switch (codepoint) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
    case 0x00A0:
    case 0x1680:
    case 0x180E:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return codepoint >= 0x2000 && codepoint <= 0x200A;
    }
}

bool text_is_digit(uint32_t codepoint)
{
    return IN(codepoint, digits);
}

bool text_is_control(uint32_t codepoint)
{
    return codepoint < 0x20 || (codepoint >= 0x7F && codepoint <= 0x9F);
}

bool text_is_invisible(uint32_t codepoint)
{
    return codepoint == 0x200B || codepoint == 0xFEFF || codepoint == 0x2060 || codepoint == 0x00AD;
}

uint32_t text_fold(uint32_t c)
{
    if (c < 0x80) {
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
    if (c >= 0x00C0 && c <= 0x00DE && c != 0x00D7) {
        return c + 32;
    }
    if (c >= 0x0100 && c <= 0x017F) {
        if (c == 0x0130) {
            return 'i';
        }
        if (c == 0x0178) {
            return 0x00FF;
        }
        if (c == 0x017F) {
            return 's';
        }
        bool odd_upper = (c >= 0x0139 && c <= 0x0148) || (c >= 0x0179 && c <= 0x017E);
        bool even_upper = (c <= 0x0137 && c != 0x0131) || (c >= 0x014A && c <= 0x0177);
        if ((odd_upper && (c & 1)) || (even_upper && !(c & 1))) {
            return c + 1;
        }
        return c;
    }
    if (c >= 0x1E00 && c <= 0x1EFF) {
        if (c == 0x1E9E) {
            return 0x00DF;
        }
        bool paired = c <= 0x1E95 || c >= 0x1EA0;
        return paired && !(c & 1) ? c + 1 : c;
    }
    if (c >= 0x0370 && c <= 0x03FF) {
        if (c == 0x0386) {
            return 0x03AC;
        }
        if (c >= 0x0388 && c <= 0x038A) {
            return c + 37;
        }
        if (c == 0x038C) {
            return 0x03CC;
        }
        if (c == 0x038E || c == 0x038F) {
            return c + 63;
        }
        if ((c >= 0x0391 && c <= 0x03A1) || (c >= 0x03A3 && c <= 0x03AB)) {
            return c + 32;
        }
        if (c == 0x03C2) {
            return 0x03C3;
        }
        return c;
    }
    if (c >= 0x0400 && c <= 0x052F) {
        if (c <= 0x040F) {
            return c + 80;
        }
        if (c <= 0x042F) {
            return c + 32;
        }
        if (c == 0x04C0) {
            return 0x04CF;
        }
        bool even_upper = (c >= 0x0460 && c <= 0x0481) || (c >= 0x048A && c <= 0x04BF) ||
                          (c >= 0x04D0 && c <= 0x052F);
        bool odd_upper = c >= 0x04C1 && c <= 0x04CE;
        if ((even_upper && !(c & 1)) || (odd_upper && (c & 1))) {
            return c + 1;
        }
        return c;
    }
    if (c >= 0x0531 && c <= 0x0556) {
        return c + 48;
    }
    if (c >= 0xFF21 && c <= 0xFF3A) {
        return c + 32;
    }
    return c;
}

bool text_is_upper(uint32_t codepoint)
{
    return codepoint != 0x03C2 && codepoint != 0x017F && text_fold(codepoint) != codepoint;
}

bool text_is_lower(uint32_t codepoint)
{
    enum text_script script = text_script_of(codepoint);
    bool cased = script == TEXT_SCRIPT_LATIN || script == TEXT_SCRIPT_GREEK ||
                 script == TEXT_SCRIPT_CYRILLIC || script == TEXT_SCRIPT_ARMENIAN;
    return cased && !text_is_upper(codepoint);
}

bool text_fold_equal(const char *a, size_t a_length, const char *b)
{
    size_t b_length = strlen(b);
    size_t i = 0, j = 0;
    while (i < a_length && j < b_length) {
        int32_t x = text_utf8_next(a, a_length, &i);
        int32_t y = text_utf8_next(b, b_length, &j);
        if (x < 0 || y < 0 || text_fold((uint32_t)x) != text_fold((uint32_t)y)) {
            return false;
        }
    }
    return i == a_length && j == b_length;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool text_ascii_equal(const char *a, size_t a_length, const char *b)
{
    return text_ascii_equal_n(a, a_length, b, strlen(b));
}

bool text_ascii_equal_n(const char *a, size_t a_length, const char *b, size_t b_length)
{
    if (a_length != b_length) {
        return false;
    }
    for (size_t i = 0; i < a_length; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

bool text_ascii_prefix(const char *text, size_t length, const char *prefix)
{
    size_t prefix_length = strlen(prefix);
    return prefix_length <= length && text_ascii_equal(text, prefix_length, prefix);
}
