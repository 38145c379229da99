/*
 * mail_address.c - RFC 5322 address lists (see mail_address.h).
 *
 * Two passes: the value is cut into tokens (atoms, quoted strings, comments, domain
 * literals, the specials < > : ; @ ,), then members are read from the tokens. Both are
 * linear and iterative (nested comments are counted, not recursed into), so a hostile
 * value costs time in proportion to its length and no stack.
 */
#include "mail_address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_encoded_word.h"
#include "text_buffer.h"
#include "text_utf8.h"

enum token_kind {
    TOKEN_ATOM,    /* a run of atom characters; '.' is one too, so dot-atoms stay whole */
    TOKEN_QUOTED,  /* "..." with its quotes */
    TOKEN_COMMENT, /* (...) with its parentheses */
    TOKEN_LITERAL, /* [...] with its brackets */
    TOKEN_SPECIAL, /* one of < > : ; @ , */
};

struct token {
    enum token_kind kind;
    const char *text; /* raw, delimiters included */
    size_t length;
    bool space_before; /* white space or a comment came before it */
    bool closed;       /* a quoted string, comment or literal that ends with its delimiter */
};

struct tokens {
    struct token *items;
    size_t count, capacity;
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(unsigned char c)
{
    return c == '<' || c == '>' || c == ':' || c == ';' || c == '@' || c == ',';
}

static bool ends_atom(unsigned char c)
{
    return is_space(c) || is_special(c) || c == '(' || c == '"' || c == '[' || c < 0x20 ||
           c == 0x7F;
}

static int push(struct tokens *tokens, enum token_kind kind, const char *text, size_t length,
                bool space_before, bool closed)
{
    if (tokens->count == tokens->capacity) {
        size_t capacity = tokens->capacity == 0 ? 16 : tokens->capacity * 2;
        struct token *items = realloc(tokens->items, capacity * sizeof(*items));
        if (items == NULL) {
            return -1;
        }
        tokens->items = items;
        tokens->capacity = capacity;
    }
    tokens->items[tokens->count++] = (struct token){kind, text, length, space_before, closed};
    return 0;
}

/* The end of a delimited token starting at text[p] ('"', '[' or '('), honouring backslash
 * escapes and, for comments, nesting. An unterminated one runs to the end (*closed false). */
static size_t delimited_end(const char *text, size_t length, size_t p, bool *closed)
{
    char open = text[p];
    char close = open == '"' ? '"' : open == '[' ? ']' : ')';
    size_t depth = 1;
    size_t q = p + 1;
    while (q < length && depth > 0) {
        if (text[q] == '\\' && q + 1 < length) {
            q += 2;
            continue;
        }
        if (open == '(' && text[q] == '(') {
            depth++;
        } else if (text[q] == close) {
            depth--;
        }
        q++;
    }
    *closed = depth == 0;
    return q;
}

static int tokenize(const char *text, size_t length, struct tokens *tokens)
{
    bool space = false;
    size_t p = 0;
    while (p < length) {
        unsigned char c = (unsigned char)text[p];
        if (is_space(c) || c < 0x20 || c == 0x7F) {
            space = true;
            p++;
            continue;
        }
        enum token_kind kind = TOKEN_ATOM;
        size_t end = p + 1;
        bool closed = false;
        if (c == '"' || c == '[' || c == '(') {
            kind = c == '"' ? TOKEN_QUOTED : c == '[' ? TOKEN_LITERAL : TOKEN_COMMENT;
            end = delimited_end(text, length, p, &closed);
            if (c == '[' && !closed) {
                /* a '[' that never closes is no domain literal: it would swallow the rest */
                kind = TOKEN_ATOM;
                end = p + 1;
            }
        } else if (is_special(c)) {
            kind = TOKEN_SPECIAL;
        }
        if (kind == TOKEN_ATOM) {
            while (end < length && !ends_atom((unsigned char)text[end])) {
                end++;
            }
        }
        if (push(tokens, kind, text + p, end - p, space, closed) != 0) {
            return -1;
        }
        /* a comment separates words as white space does */
        space = kind == TOKEN_COMMENT;
        p = end;
    }
    return 0;
}

static bool special(const struct token *token, char c)
{
    return token->kind == TOKEN_SPECIAL && token->text[0] == c;
}

/* The content of a quoted string, comment or literal: delimiters removed, backslash
 * escapes resolved, line breaks made spaces. */
static int append_content(struct text_buffer *out, const struct token *token)
{
    const char *text = token->text + 1;
    size_t length = token->length - 1 - token->closed;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\\' && i + 1 < length) {
            c = (unsigned char)text[++i];
        } else if (c == '\r' || c == '\n') {
            c = ' ';
        }
        if (text_buffer_append_byte(out, c) != 0) {
            return -1;
        }
    }
    return 0;
}

/* --- display names ---------------------------------------------------------------------- */

/* Decodes encoded words in raw, collapses white space, trims. NULL when nothing is left
 * (*failed set when out of memory). */
static char *finish_name(const struct text_buffer *raw, bool *failed)
{
    if (raw->failed) {
        *failed = true;
        return NULL;
    }
    struct text_buffer decoded = TEXT_BUFFER_INIT;
    if (mail_decode_words(raw->data != NULL ? raw->data : "", raw->length, &decoded) != 0) {
        text_buffer_free(&decoded);
        *failed = true;
        return NULL;
    }
    struct text_buffer out = TEXT_BUFFER_INIT;
    size_t p = 0;
    bool pending_space = false;
    while (p < decoded.length) {
        size_t start = p;
        int32_t codepoint = text_utf8_next(decoded.data, decoded.length, &p);
        if (codepoint >= 0 && text_is_space((uint32_t)codepoint)) {
            pending_space = out.length > 0;
            continue;
        }
        if (pending_space) {
            text_buffer_append_byte(&out, ' ');
            pending_space = false;
        }
        text_buffer_append(&out, decoded.data + start, p - start);
    }
    text_buffer_free(&decoded);
    if (out.failed) {
        text_buffer_free(&out);
        *failed = true;
        return NULL;
    }
    if (out.length == 0) {
        text_buffer_free(&out);
        return NULL;
    }
    return text_buffer_take(&out);
}

/* The display name of tokens [from, to): words joined as they were spaced, comments left
 * out, specials kept as text (a bare "john@example.com <john@example.com>"). */
static char *phrase(const struct token *tokens, size_t from, size_t to, bool *failed)
{
    struct text_buffer raw = TEXT_BUFFER_INIT;
    bool first = true;
    for (size_t i = from; i < to; i++) {
        const struct token *token = &tokens[i];
        if (token->kind == TOKEN_COMMENT) {
            continue;
        }
        if (!first && token->space_before) {
            text_buffer_append_byte(&raw, ' ');
        }
        first = false;
        if (token->kind == TOKEN_QUOTED) {
            append_content(&raw, token);
        } else {
            text_buffer_append(&raw, token->text, token->length);
        }
    }
    char *name = finish_name(&raw, failed);
    text_buffer_free(&raw);
    return name;
}

/* The content of the last comment in [from, to), as a display name. */
static char *comment_name(const struct token *tokens, size_t from, size_t to, bool *failed)
{
    for (size_t i = to; i > from; i--) {
        if (tokens[i - 1].kind == TOKEN_COMMENT) {
            struct text_buffer raw = TEXT_BUFFER_INIT;
            append_content(&raw, &tokens[i - 1]);
            char *name = finish_name(&raw, failed);
            text_buffer_free(&raw);
            if (name != NULL || *failed) {
                return name;
            }
        }
    }
    return NULL;
}

/* --- addr-spec ------------------------------------------------------------------------- */

static bool atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool dot_atom(const char *text, size_t length)
{
    if (length == 0 || text[0] == '.' || text[length - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '.' ? text[i + 1] == '.' : !atext(c)) {
            return false;
        }
    }
    return true;
}

static bool domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c >= 0x80;
}

/* "[192.0.2.1]", "[IPv6:2001:db8::1]": printable ASCII between the brackets, no spaces. */
static bool domain_literal(const char *text, size_t length)
{
    for (size_t i = 1; i + 1 < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c >= 0x7F || c == '[' || c == ']' || c == '\\') {
            return false;
        }
    }
    return length > 2;
}

/* Well-formed UTF-8 without control characters (C0, DEL, C1). */
static bool no_controls(const char *text, size_t length)
{
    size_t p = 0;
    while (p < length) {
        int32_t codepoint = text_utf8_next(text, length, &p);
        if (codepoint < 0 || text_is_control((uint32_t)codepoint)) {
            return false;
        }
    }
    return true;
}

/*
 * The normalized address of tokens [from, to) (comments ignored), or NULL when they are
 * not one address (*failed set when out of memory).
 */
static char *addr_spec(const struct token *tokens, size_t from, size_t to, bool *failed)
{
    size_t at = to;
    for (size_t i = from; i < to; i++) {
        if (special(&tokens[i], '@')) {
            if (at != to) {
                return NULL; /* two '@' outside quotes */
            }
            at = i;
        } else if (tokens[i].kind == TOKEN_SPECIAL) {
            return NULL;
        }
    }
    if (at == to) {
        return NULL;
    }
    struct text_buffer local = TEXT_BUFFER_INIT;
    struct text_buffer out = TEXT_BUFFER_INIT;
    bool quoted = false, ok = true;
    for (size_t i = from; i < at && ok; i++) {
        const struct token *token = &tokens[i];
        if (token->kind == TOKEN_ATOM) {
            text_buffer_append(&local, token->text, token->length);
        } else if (token->kind == TOKEN_QUOTED && token->closed) {
            append_content(&local, token);
            quoted = true;
        } else if (token->kind != TOKEN_COMMENT) {
            ok = false; /* a special, or a quoted string that never ends */
        }
    }
    const char *local_text = local.data != NULL ? local.data : "";
    ok = ok && local.length > 0 && !local.failed;
    for (size_t i = 0; ok && !quoted && i < local.length; i++) {
        ok = local_text[i] == '.' || atext((unsigned char)local_text[i]);
    }
    if (ok && (!quoted || dot_atom(local_text, local.length))) {
        text_buffer_append(&out, local_text, local.length);
    } else if (ok) {
        text_buffer_append_byte(&out, '"');
        for (size_t i = 0; i < local.length; i++) {
            if (local_text[i] == '"' || local_text[i] == '\\') {
                text_buffer_append_byte(&out, '\\');
            }
            text_buffer_append_byte(&out, (unsigned char)local_text[i]);
        }
        text_buffer_append_byte(&out, '"');
    }
    ok = ok && out.length <= MAIL_LOCAL_PART_MAX;
    text_buffer_append_byte(&out, '@');
    size_t domain_start = out.length;
    bool literal = false;
    for (size_t i = at + 1; i < to && ok; i++) {
        const struct token *token = &tokens[i];
        if (token->kind == TOKEN_COMMENT) {
            continue;
        }
        if (token->kind == TOKEN_LITERAL && out.length == domain_start) {
            literal = true;
            ok = token->closed && domain_literal(token->text, token->length);
            text_buffer_append(&out, token->text, token->length);
        } else if (token->kind == TOKEN_ATOM && !literal) {
            for (size_t k = 0; k < token->length; k++) {
                unsigned char c = (unsigned char)token->text[k];
                c = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
                ok = ok && domain_char(c);
                text_buffer_append_byte(&out, c);
            }
        } else {
            ok = false;
        }
    }
    text_buffer_free(&local);
    if (out.failed) {
        *failed = true;
        text_buffer_free(&out);
        return NULL;
    }
    if (ok && !literal && out.length > domain_start && out.data[out.length - 1] == '.') {
        out.data[--out.length] = '\0'; /* "example.com." is example.com */
    }
    const char *domain = ok ? out.data + domain_start : "";
    size_t domain_length = ok ? out.length - domain_start : 0;
    ok = ok && domain_length > 0 && (literal || (domain[0] != '.' && strstr(domain, "..") == NULL));
    ok = ok && out.length <= MAIL_ADDRESS_MAX && no_controls(out.data, out.length);
    if (!ok) {
        text_buffer_free(&out);
        return NULL;
    }
    return text_buffer_take(&out);
}

/* --- members --------------------------------------------------------------------------- */

struct parser {
    const struct token *tokens;
    size_t count;
    struct mail_address_list *out;
    char *group; /* the open group's name, or NULL */
    char *held;  /* a phrase-only member waiting for the angle address it may belong to */
    bool failed;
};

static void drop_held(struct parser *parser)
{
    if (parser->held != NULL) {
        free(parser->held);
        parser->held = NULL;
        parser->out->invalid++;
    }
}

/* Adds an address (stolen) with its name (stolen). */
static void add(struct parser *parser, char *address, char *name)
{
    struct mail_address_list *out = parser->out;
    if (out->count >= MAIL_ADDRESS_LIST_MAX) {
        out->skipped++;
        free(address);
        free(name);
        return;
    }
    char *group = NULL;
    if (parser->group != NULL && (group = strdup(parser->group)) == NULL) {
        parser->failed = true;
    }
    if (parser->failed) {
        free(address);
        free(name);
        free(group);
        return;
    }
    if (out->count % 16 == 0) {
        struct mail_address *items = realloc(out->items, (out->count + 16) * sizeof(*items));
        if (items == NULL) {
            parser->failed = true;
            free(address);
            free(name);
            free(group);
            return;
        }
        out->items = items;
    }
    out->items[out->count++] = (struct mail_address){
        .name = name,
        .address = address,
        .domain = mail_address_domain(address),
        .group = group,
    };
}

/* "held, name" when a phrase was held back (both stolen), else name. */
static char *joined_name(struct parser *parser, char *name)
{
    char *held = parser->held;
    parser->held = NULL;
    if (held == NULL) {
        return name;
    }
    if (name == NULL) {
        return held;
    }
    struct text_buffer joined = TEXT_BUFFER_INIT;
    text_buffer_append_string(&joined, held);
    text_buffer_append_string(&joined, ", ");
    text_buffer_append_string(&joined, name);
    free(held);
    free(name);
    char *result = text_buffer_take(&joined);
    parser->failed |= result == NULL;
    return result;
}

/* One member in tokens [from, to): an angle address with its phrase, a bare address, or a
 * phrase alone (held for the next member). */
static void member(struct parser *parser, size_t from, size_t to)
{
    const struct token *tokens = parser->tokens;
    size_t open = to;
    bool has_at = false, has_words = false;
    for (size_t i = from; i < to; i++) {
        if (special(&tokens[i], '<') && open == to) {
            open = i;
        }
        has_at |= special(&tokens[i], '@');
        has_words |= tokens[i].kind != TOKEN_COMMENT;
    }
    if (!has_words) {
        return; /* an empty member, or only a comment */
    }
    if (open != to) {
        size_t close = open + 1;
        while (close < to && !special(&tokens[close], '>')) {
            close++;
        }
        size_t start = open + 1;
        if (start < close && special(&tokens[start], '@')) {
            /* obsolete route "@relay1,@relay2:" before the address */
            while (start < close && !special(&tokens[start], ':')) {
                start++;
            }
            start = start < close ? start + 1 : open + 1;
        }
        char *address = addr_spec(tokens, start, close, &parser->failed);
        char *name = phrase(tokens, from, open, &parser->failed);
        name = joined_name(parser, name);
        if (address == NULL) {
            free(name);
            parser->out->invalid += !parser->failed;
            return;
        }
        add(parser, address, name);
        return;
    }
    if (!has_at) {
        drop_held(parser);
        bool words_only = true;
        for (size_t i = from; i < to; i++) {
            words_only &= tokens[i].kind != TOKEN_SPECIAL && tokens[i].kind != TOKEN_LITERAL;
        }
        if (!words_only) {
            parser->out->invalid++; /* "c.be>": no display name to lend the next member */
            return;
        }
        parser->held = phrase(tokens, from, to, &parser->failed);
        return;
    }
    drop_held(parser);
    char *address = addr_spec(tokens, from, to, &parser->failed);
    if (address == NULL) {
        parser->out->invalid += !parser->failed;
        return;
    }
    add(parser, address, comment_name(tokens, from, to, &parser->failed));
}

int mail_address_list_parse(const char *value, size_t length, struct mail_address_list *out)
{
    memset(out, 0, sizeof(*out));
    struct tokens tokens = {NULL, 0, 0};
    struct parser parser = {.out = out};
    if (length > MAIL_ADDRESS_VALUE_MAX) {
        size_t cut = MAIL_ADDRESS_VALUE_MAX;
        while (cut > 0 && value[cut - 1] != ',') {
            cut--;
        }
        length = cut;
        out->skipped++;
    }
    if (tokenize(value, length, &tokens) != 0) {
        parser.failed = true;
    }
    parser.tokens = tokens.items;
    parser.count = tokens.count;
    size_t i = 0;
    while (i < tokens.count && !parser.failed) {
        const struct token *token = &tokens.items[i];
        if (special(token, ',')) {
            i++;
            continue;
        }
        if (special(token, ';')) {
            drop_held(&parser);
            free(parser.group);
            parser.group = NULL;
            i++;
            continue;
        }
        /* "display-name :" opens a group */
        size_t j = i;
        while (j < tokens.count &&
               (tokens.items[j].kind == TOKEN_ATOM || tokens.items[j].kind == TOKEN_QUOTED ||
                tokens.items[j].kind == TOKEN_COMMENT)) {
            j++;
        }
        if (parser.group == NULL && j < tokens.count && special(&tokens.items[j], ':')) {
            drop_held(&parser);
            parser.group = phrase(tokens.items, i, j, &parser.failed);
            if (parser.group == NULL && !parser.failed) {
                parser.group = strdup("");
                parser.failed = parser.group == NULL;
            }
            i = j + 1;
            continue;
        }
        /* the member runs to the next ',' or ';' outside angle brackets */
        size_t end = i;
        bool angle = false;
        while (end < tokens.count) {
            const struct token *t = &tokens.items[end];
            if (special(t, '<')) {
                angle = true;
            } else if (special(t, '>')) {
                angle = false;
            } else if (!angle && (special(t, ',') || special(t, ';'))) {
                break;
            }
            end++;
        }
        member(&parser, i, end);
        i = end;
    }
    drop_held(&parser);
    free(parser.group);
    free(tokens.items);
    if (parser.failed) {
        mail_address_list_clear(out);
        return -1;
    }
    return 0;
}

void mail_address_list_clear(struct mail_address_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].address);
        free(list->items[i].group);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

char *mail_address_normalize(const char *text, size_t length)
{
    struct mail_address_list list;
    if (mail_address_list_parse(text, length, &list) != 0) {
        return NULL;
    }
    char *address = NULL;
    if (list.count == 1 && list.invalid == 0) {
        address = list.items[0].address;
        list.items[0].address = NULL;
    }
    mail_address_list_clear(&list);
    return address;
}

const char *mail_address_domain(const char *address)
{
    const char *p = address;
    if (*p == '"') {
        for (p++; *p != '\0' && *p != '"'; p++) {
            p += p[0] == '\\' && p[1] != '\0';
        }
        p += *p == '"';
    }
    const char *at = strchr(p, '@');
    return at != NULL ? at + 1 : p + strlen(p);
}

bool mail_address_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && text_ascii_equal(a, strlen(a), b);
}

bool mail_domain_within(const char *domain, const char *parent)
{
    if (domain == NULL || parent == NULL) {
        return false;
    }
    size_t domain_length = strlen(domain), parent_length = strlen(parent);
    domain_length -= domain_length > 0 && domain[domain_length - 1] == '.';
    parent_length -= parent_length > 0 && parent[parent_length - 1] == '.';
    if (parent_length == 0 || domain_length < parent_length) {
        return false;
    }
    const char *tail = domain + domain_length - parent_length;
    return text_ascii_equal_n(tail, parent_length, parent, parent_length) &&
           (domain_length == parent_length || tail[-1] == '.');
}
