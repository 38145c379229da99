/*
 * mail_address.h - RFC 5322 address lists (From, To, Cc, Bcc, Reply-To, Sender) as the
 * header values Gmail (`payload.headers[].value`) and Graph (`internetMessageHeaders`)
 * give them, and the address comparisons the classifier makes.
 *
 * What is read:
 *   - name-addr (`Display Name <local@domain>`) and bare addr-spec (`local@domain`);
 *   - display names as atoms, quoted strings with backslash escapes, RFC 2047 encoded words
 *     (mail_encoded_word.h: also inside quotes), obsolete phrases with dots
 *     (`John Q. Public`), raw UTF-8 (RFC 6532);
 *   - comments, nested, anywhere white space may be; with a bare addr-spec, a comment is
 *     the display name (`john@example.com (John Doe)`, an obsolete form still sent);
 *   - groups (`Team: a@x, b@y;`, `undisclosed-recipients:;`): members are returned with
 *     the group's name, an empty group returns nothing;
 *   - obsolete routes (`<@relay1,@relay2:user@domain>`, the route dropped), white space
 *     and comments around the dots and the `@` of an address, empty list members (`a@x,,b@y`);
 *   - an unquoted comma inside a display name, as some clients write it
 *     (`Kowalski, Marek <marek@example.pl>`): a member that is only a phrase, followed by
 *     a member with an angle address, is taken as the first part of that display name;
 *   - a missing `>` at the end of a member.
 *
 * Normalization of each address:
 *   - the domain is lowercased (ASCII letters only: an internationalized domain is kept
 *     as given, neither punycoded nor case-folded), a trailing dot removed;
 *   - the local part is kept as written (case included: Gmail and Graph give it so, and
 *     only the receiving server may interpret it), without comments and white space;
 *     quotes are removed when what they enclose is a plain dot-atom (`"john.doe"@x` is
 *     `john.doe@x`) and kept, minimally escaped, otherwise; no provider-specific rewriting
 *     (dots and `+tags` of Gmail addresses are left alone: other domains give them meaning);
 *   - a domain literal (`[192.0.2.1]`) is kept as written.
 * A member is invalid, counted and left out, when it has no `@`, an empty local part or
 * domain, more than one `@` outside quotes, a local part over 64 bytes, an address over
 * 254 bytes, ill-formed UTF-8 or a control character in the address, a quoted local part
 * or domain literal that is never closed, or a domain literal with spaces or non-ASCII
 * characters. Display names are always well-formed
 * UTF-8 (ill-formed bytes become U+FFFD; control characters become spaces).
 *
 * Pure and thread-safe; every string returned is owned by the list.
 */
#ifndef LEADHUB_MAIL_ADDRESS_H
#define LEADHUB_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many members of one list are returned; the rest are counted in `skipped`. */
#define MAIL_ADDRESS_LIST_MAX 1000
/* At most this many bytes of a value are read (a thousand long addresses fit): a longer
 * value is cut at its last comma before the limit, and what follows counts as one skipped
 * member. */
#define MAIL_ADDRESS_VALUE_MAX (128 * 1024)
#define MAIL_ADDRESS_MAX       254
#define MAIL_LOCAL_PART_MAX    64

struct mail_address {
    char *name;         /* display name, or NULL when there is none (or only white space) */
    char *address;      /* "local@domain", normalized as above; never NULL */
    const char *domain; /* into `address`, just past its '@' */
    char *group;        /* the name of the group it was listed in, or NULL */
};

struct mail_address_list {
    struct mail_address *items;
    size_t count;
    size_t invalid; /* members that were not readable addresses */
    size_t skipped; /* members beyond MAIL_ADDRESS_LIST_MAX or MAIL_ADDRESS_VALUE_MAX */
};

/*
 * mail_address_list_parse - the addresses of one header value.
 *   value/length: the header value (unfolded or not: CR and LF count as white space).
 *   out: filled; free with mail_address_list_clear(), also after an error.
 *   Returns 0, or -1 when out of memory (then out is empty).
 */
int mail_address_list_parse(const char *value, size_t length, struct mail_address_list *out);

/* Frees every member; the list is empty afterwards. */
void mail_address_list_clear(struct mail_address_list *list);

/*
 * mail_address_normalize - one bare address (a Graph emailAddress.address, a configured
 * alias) normalized as above, or NULL when it is not exactly one readable address (or out
 * of memory). A display name around it is allowed and dropped. The caller frees it.
 */
char *mail_address_normalize(const char *text, size_t length);

/* The domain of a normalized address (just past the '@' that ends its local part, which a
 * quoted local part may itself contain), or "" when it has none. */
const char *mail_address_domain(const char *address);

/* Are two normalized addresses the same mailbox? Compared ignoring ASCII case in the
 * local part too: mail systems leadhub reads from treat it so. */
bool mail_address_same(const char *a, const char *b);

/*
 * mail_domain_within - is `domain` the domain `parent` or one of its subdomains
 * (`eu.example.com` within `example.com`; `badexample.com` is not)? ASCII case is ignored,
 * a trailing dot on either is ignored, and an IDN is compared as given (a U-label does not
 * match its A-label).
 */
bool mail_domain_within(const char *domain, const char *parent);

#endif
