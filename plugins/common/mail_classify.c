/*
 * mail_classify.c - a message's kind, direction and counterparts from its headers, and the
 * event it becomes (see mail_classify.h for the rules).
 */
#include "mail_classify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_encoded_word.h"
#include "text_buffer.h"
#include "text_utf8.h"

/* Subjects of automatic replies as mail systems write them, compared ignoring case up to a
 * colon (ASCII or fullwidth) that must follow. */
static const char *const auto_reply_subjects[] = {
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "automatic response",
    "auto response",
    "auto-response",
    "autoresponse",
    "out of office",
    "out of the office",
    "out of office autoreply",
    "ooo",
    "oof",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "resposta automática",
    "automatisch antwoord",
    "autosvar",
    "automatisk svar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "automatická odpověď",
    "automatikus válasz",
    "otomatik yanıt",
    "автоответ",
    "автоматический ответ",
    "αυτόματη απάντηση",
    "תשובה אוטומטית",
    "رد تلقائي",
    "自动回复",
    "自動回覆",
    "自動応答",
    "自動返信",
    "자동 회신",
    "자동 응답",
};

/* Subjects that report a failure outright, whatever else they say ("Undeliverable: Re:
 * delayed order" is a bounce, not a delay warning). */
static const char *const failure_subjects[] = {
    "undeliverable",        "undelivered",   "delivery status notification (failure)",
    "mail delivery failed", "returned mail", "failure notice",
    "delivery failure",     "unzustellbar",  "non remis",
};

/* --- headers ---------------------------------------------------------------------------- */

static bool name_is(const struct mail_header *header, const char *name)
{
    return header->name != NULL && header->value != NULL &&
           text_ascii_equal(header->name, strlen(header->name), name);
}

/* The first header called `name`, or NULL. */
static const char *header_value(const struct mail_header *headers, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (name_is(&headers[i], name)) {
            return headers[i].value;
        }
    }
    return NULL;
}

static bool blank(const char *text)
{
    for (; text != NULL && *text != '\0'; text++) {
        if (*text != ' ' && *text != '\t' && *text != '\r' && *text != '\n') {
            return false;
        }
    }
    return true;
}

/* The value trimmed, up to the first ';' (a structured value's parameters), lowercased
 * into out; "" when absent. */
static void header_word(const char *value, char *out, size_t size)
{
    size_t used = 0;
    const char *p = value != NULL ? value : "";
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        p++;
    }
    for (; *p != '\0' && *p != ';' && used + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        out[used++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    while (used > 0 && (out[used - 1] == ' ' || out[used - 1] == '\t' || out[used - 1] == '\r' ||
                        out[used - 1] == '\n')) {
        used--;
    }
    out[used] = '\0';
}

/*
 * The value of parameter `name` of a structured header ("multipart/report;
 * report-type=delivery-status; boundary=\"x\""), lowercased, quotes removed, into out;
 * false when absent.
 */
static bool header_parameter(const char *value, const char *name, char *out, size_t size)
{
    size_t name_length = strlen(name);
    const char *p = value;
    while (p != NULL && (p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        }
        if (!text_ascii_prefix(p, strlen(p), name)) {
            continue;
        }
        const char *q = p + name_length;
        while (*q == ' ' || *q == '\t') {
            q++;
        }
        if (*q != '=') {
            continue;
        }
        q++;
        while (*q == ' ' || *q == '\t') {
            q++;
        }
        bool quoted = *q == '"';
        q += quoted;
        size_t used = 0;
        for (; *q != '\0' && (quoted ? *q != '"' : *q != ';' && *q != ' ' && *q != '\t'); q++) {
            unsigned char c = (unsigned char)*q;
            if (quoted && c == '\\' && q[1] != '\0') {
                c = (unsigned char)*++q;
            }
            if (used + 1 < size) {
                out[used++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
        }
        out[used] = '\0';
        return true;
    }
    return false;
}

/* Parses every header called `name` into list (appending). Returns 0 or -1 (memory). */
static int parse_addresses(const struct mail_header *headers, size_t count, const char *name,
                           struct mail_address_list *list)
{
    for (size_t i = 0; i < count; i++) {
        if (!name_is(&headers[i], name)) {
            continue;
        }
        struct mail_address_list more;
        if (mail_address_list_parse(headers[i].value, strlen(headers[i].value), &more) != 0) {
            return -1;
        }
        if (list->count == 0 && list->items == NULL) {
            *list = more;
            continue;
        }
        size_t room = more.count;
        if (list->count + room > MAIL_ADDRESS_LIST_MAX) {
            room = MAIL_ADDRESS_LIST_MAX - list->count;
        }
        struct mail_address *items =
            room > 0 ? realloc(list->items, (list->count + room) * sizeof(*items)) : list->items;
        if (items == NULL) {
            mail_address_list_clear(&more);
            return -1;
        }
        list->items = items;
        if (room > 0) {
            memcpy(list->items + list->count, more.items, room * sizeof(*items));
        }
        list->count += room;
        list->invalid += more.invalid;
        list->skipped += more.skipped + (more.count - room);
        for (size_t k = room; k < more.count; k++) {
            free(more.items[k].name);
            free(more.items[k].address);
            free(more.items[k].group);
        }
        free(more.items);
    }
    return 0;
}

/* The first "<...>" of a message-id list, or the trimmed value; NULL when blank. */
static char *first_message_id(const char *value)
{
    if (blank(value)) {
        return NULL;
    }
    const char *start = value, *end;
    const char *open = strchr(value, '<');
    const char *close = open != NULL ? strchr(open, '>') : NULL;
    if (close != NULL) {
        start = open;
        end = close + 1;
    } else {
        while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n') {
            start++;
        }
        end = start + strlen(start);
        while (end > start &&
               (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) {
            end--;
        }
    }
    struct text_buffer out = TEXT_BUFFER_INIT;
    if (text_utf8_append_repaired(&out, start, (size_t)(end - start)) < 0) {
        text_buffer_free(&out);
        return NULL;
    }
    return text_buffer_take(&out);
}

/* --- the mailbox's people ---------------------------------------------------------------- */

static bool own_address(const struct mail_mailbox *mailbox, const struct mail_address *address)
{
    for (size_t i = 0; i < mailbox->address_count; i++) {
        const char *own = mailbox->addresses[i];
        if (own == NULL) {
            continue;
        }
        /* configured addresses may carry spaces or an uppercase domain */
        char *normalized = mail_address_normalize(own, strlen(own));
        bool same = mail_address_same(normalized != NULL ? normalized : own, address->address);
        free(normalized);
        if (same) {
            return true;
        }
    }
    return false;
}

static bool internal_address(const struct mail_mailbox *mailbox, const struct mail_address *address)
{
    if (own_address(mailbox, address)) {
        return true;
    }
    for (size_t i = 0; i < mailbox->internal_domain_count; i++) {
        const char *domain = mailbox->internal_domains[i];
        if (domain != NULL && domain[0] == '@') {
            domain++; /* "@example.com" as some write it */
        }
        if (mail_domain_within(address->domain, domain)) {
            return true;
        }
    }
    return false;
}

/* --- kind ------------------------------------------------------------------------------- */

static bool local_part_is(const struct mail_address *address, const char *local)
{
    size_t length = (size_t)(address->domain - address->address);
    length -= length > 0; /* the '@' */
    return text_ascii_equal(address->address, length, local);
}

/* Does the subject start with an automatic-reply prefix and a colon? */
static bool auto_reply_subject(const char *subject)
{
    if (subject == NULL) {
        return false;
    }
    size_t length = strlen(subject);
    for (size_t i = 0; i < sizeof(auto_reply_subjects) / sizeof(auto_reply_subjects[0]); i++) {
        const char *prefix = auto_reply_subjects[i];
        size_t prefix_length = strlen(prefix);
        /* the subject's first code points, as many as the prefix has */
        size_t p = 0, q = 0;
        bool same = true;
        while (q < prefix_length && same) {
            if (p >= length) {
                same = false;
                break;
            }
            int32_t a = text_utf8_next(subject, length, &p);
            int32_t b = text_utf8_next(prefix, prefix_length, &q);
            same = a >= 0 && b >= 0 && text_fold((uint32_t)a) == text_fold((uint32_t)b);
        }
        if (!same) {
            continue;
        }
        while (p < length && (subject[p] == ' ' || subject[p] == '\t')) {
            p++;
        }
        if (p < length && subject[p] == ':') {
            return true;
        }
        if (p + 3 <= length && memcmp(subject + p, "\xEF\xBC\x9A", 3) == 0) { /* U+FF1A */
            return true;
        }
    }
    return false;
}

/* An ASCII word inside text, ignoring case. */
static bool contains_word(const char *text, const char *word)
{
    size_t length = text != NULL ? strlen(text) : 0, word_length = strlen(word);
    for (size_t i = 0; i + word_length <= length; i++) {
        if (text_ascii_equal_n(text + i, word_length, word, word_length)) {
            return true;
        }
    }
    return false;
}

static bool affirmative(const char *value)
{
    char word[16];
    header_word(value, word, sizeof(word));
    return strcmp(word, "no") != 0 && strcmp(word, "false") != 0 && strcmp(word, "0") != 0;
}

static void set_kind(struct mail_classification *out, enum mail_kind kind, const char *reason)
{
    out->kind = kind;
    out->kind_reason = reason;
}

static void classify_kind(const struct mail_header *headers, size_t count, bool from_mailbox,
                          struct mail_classification *out)
{
    char word[64], parameter[64];
    const char *content_type = header_value(headers, count, "Content-Type");
    header_word(content_type, word, sizeof(word));
    bool report = strcmp(word, "multipart/report") == 0;
    bool has_report_type =
        report && header_parameter(content_type, "report-type", parameter, sizeof(parameter));
    bool failed_recipients = header_value(headers, count, "X-Failed-Recipients") != NULL;

    if (has_report_type && strcmp(parameter, "disposition-notification") == 0) {
        set_kind(out, MAIL_KIND_AUTOMATED, "read_receipt");
        return;
    }
    const char *reason = NULL;
    if (failed_recipients) {
        reason = "x_failed_recipients";
    } else if (has_report_type && strcmp(parameter, "delivery-status") == 0) {
        reason = "delivery_status";
    } else if (out->sender != NULL && (local_part_is(out->sender, "mailer-daemon") ||
                                       local_part_is(out->sender, "postmaster"))) {
        reason = "mailer_daemon";
    }
    if (reason != NULL) {
        const char *subject = out->subject != NULL ? out->subject : "";
        bool failure = failed_recipients;
        for (size_t i = 0; i < sizeof(failure_subjects) / sizeof(failure_subjects[0]); i++) {
            failure |= text_ascii_prefix(subject, strlen(subject), failure_subjects[i]);
        }
        bool delay = !failure && (contains_word(subject, "delay") ||
                                  text_ascii_prefix(subject, strlen(subject), "warning:"));
        set_kind(out, delay ? MAIL_KIND_DELAY : MAIL_KIND_BOUNCE, reason);
        return;
    }

    const char *auto_submitted = header_value(headers, count, "Auto-Submitted");
    header_word(auto_submitted, word, sizeof(word));
    if (auto_submitted != NULL && word[0] != '\0' && strcmp(word, "no") != 0) {
        set_kind(out,
                 strcmp(word, "auto-replied") == 0 ? MAIL_KIND_AUTO_REPLY : MAIL_KIND_AUTOMATED,
                 "auto_submitted");
        return;
    }
    const char *const autoreply_headers[] = {"X-Autoreply", "X-Autorespond", "X-Autoresponder"};
    for (size_t i = 0; i < sizeof(autoreply_headers) / sizeof(autoreply_headers[0]); i++) {
        const char *value = header_value(headers, count, autoreply_headers[i]);
        if (value != NULL && affirmative(value)) {
            set_kind(out, MAIL_KIND_AUTO_REPLY, "x_autoreply");
            return;
        }
    }
    header_word(header_value(headers, count, "Precedence"), word, sizeof(word));
    if (strcmp(word, "auto_reply") == 0 || strcmp(word, "auto-reply") == 0) {
        set_kind(out, MAIL_KIND_AUTO_REPLY, "precedence");
        return;
    }

    if (!from_mailbox) {
        if (strcmp(word, "bulk") == 0 || strcmp(word, "list") == 0 || strcmp(word, "junk") == 0) {
            set_kind(out, MAIL_KIND_LIST, "precedence");
            return;
        }
        if (!blank(header_value(headers, count, "List-Id"))) {
            set_kind(out, MAIL_KIND_LIST, "list_id");
            return;
        }
        if (!blank(header_value(headers, count, "List-Unsubscribe"))) {
            set_kind(out, MAIL_KIND_LIST, "list_unsubscribe");
            return;
        }
        const char *suppress = header_value(headers, count, "X-Auto-Response-Suppress");
        if (contains_word(suppress, "all") || contains_word(suppress, "oof") ||
            contains_word(suppress, "autoreply")) {
            set_kind(out, MAIL_KIND_AUTOMATED, "x_auto_response_suppress");
            return;
        }
    }

    if (auto_reply_subject(out->subject)) {
        set_kind(out, MAIL_KIND_AUTO_REPLY, "subject");
        return;
    }
    set_kind(out, MAIL_KIND_PERSON, "none");
}

/* --- direction and counterparts --------------------------------------------------------- */

static int add_counterpart(struct mail_classification *out, const struct mail_address *address)
{
    for (size_t i = 0; i < out->counterpart_count; i++) {
        if (mail_address_same(out->counterparts[i]->address, address->address)) {
            return 0;
        }
    }
    const struct mail_address **items =
        realloc(out->counterparts, (out->counterpart_count + 1) * sizeof(*items));
    if (items == NULL) {
        return -1;
    }
    items[out->counterpart_count++] = address;
    out->counterparts = items;
    return 0;
}

static int classify_direction(const struct mail_mailbox *mailbox, bool from_mailbox,
                              struct mail_classification *out)
{
    if (out->sender == NULL) {
        out->direction = MAIL_DIRECTION_UNKNOWN;
        return 0;
    }
    if (!from_mailbox) {
        if (internal_address(mailbox, out->sender)) {
            out->direction = MAIL_DIRECTION_INTERNAL;
            return 0;
        }
        out->direction = MAIL_DIRECTION_RECEIVED;
        return add_counterpart(out, out->sender);
    }
    for (size_t i = 0; i < out->recipients.count; i++) {
        const struct mail_address *recipient = &out->recipients.items[i];
        if (!internal_address(mailbox, recipient) && add_counterpart(out, recipient) != 0) {
            return -1;
        }
    }
    out->direction = out->counterpart_count > 0 ? MAIL_DIRECTION_SENT : MAIL_DIRECTION_INTERNAL;
    return 0;
}

int mail_classify(const struct mail_header *headers, size_t count,
                  const struct mail_mailbox *mailbox, struct mail_classification *out)
{
    memset(out, 0, sizeof(*out));
    out->kind_reason = "none";
    if (parse_addresses(headers, count, "From", &out->from) != 0 ||
        (out->from.count == 0 && parse_addresses(headers, count, "Sender", &out->from) != 0) ||
        parse_addresses(headers, count, "To", &out->recipients) != 0 ||
        parse_addresses(headers, count, "Cc", &out->recipients) != 0 ||
        parse_addresses(headers, count, "Bcc", &out->recipients) != 0) {
        goto fail;
    }
    out->sender = out->from.count > 0 ? &out->from.items[0] : NULL;
    const char *subject = header_value(headers, count, "Subject");
    if (subject != NULL &&
        (out->subject = mail_decode_words_dup(subject, strlen(subject))) == NULL) {
        goto fail;
    }
    const char *message_id = header_value(headers, count, "Message-ID");
    const char *in_reply_to = header_value(headers, count, "In-Reply-To");
    const char *references = header_value(headers, count, "References");
    out->message_id = first_message_id(message_id);
    out->in_reply_to = first_message_id(in_reply_to);
    if ((!blank(message_id) && out->message_id == NULL) ||
        (!blank(in_reply_to) && out->in_reply_to == NULL)) {
        goto fail;
    }
    out->is_reply = !blank(in_reply_to) || !blank(references);

    bool from_mailbox = out->sender != NULL && own_address(mailbox, out->sender);
    classify_kind(headers, count, from_mailbox, out);
    if (out->kind == MAIL_KIND_BOUNCE &&
        parse_addresses(headers, count, "X-Failed-Recipients", &out->bounced) != 0) {
        goto fail;
    }
    if (classify_direction(mailbox, from_mailbox, out) != 0) {
        goto fail;
    }
    return 0;
fail:
    mail_classification_clear(out);
    return -1;
}

int mail_classify_json(const json_t *headers, const struct mail_mailbox *mailbox,
                       struct mail_classification *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_array(headers)) {
        return -1;
    }
    size_t count = json_array_size(headers);
    struct mail_header *list = calloc(count > 0 ? count : 1, sizeof(*list));
    if (list == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *header = json_array_get(headers, i);
        const json_t *name = json_object_get(header, "name");
        const json_t *value = json_object_get(header, "value");
        /* an embedded NUL would cut the value short: such a header is ignored */
        if (json_is_string(name) && json_is_string(value) &&
            strlen(json_string_value(value)) == json_string_length(value)) {
            list[i] = (struct mail_header){json_string_value(name), json_string_value(value)};
        }
    }
    int rc = mail_classify(list, count, mailbox, out);
    free(list);
    return rc;
}

void mail_classification_clear(struct mail_classification *classification)
{
    mail_address_list_clear(&classification->from);
    mail_address_list_clear(&classification->recipients);
    mail_address_list_clear(&classification->bounced);
    free(classification->counterparts);
    free(classification->subject);
    free(classification->message_id);
    free(classification->in_reply_to);
    memset(classification, 0, sizeof(*classification));
    classification->kind_reason = "none";
}

const char *mail_kind_name(enum mail_kind kind)
{
    switch (kind) {
    case MAIL_KIND_PERSON:
        return "person";
    case MAIL_KIND_AUTO_REPLY:
        return "auto_reply";
    case MAIL_KIND_AUTOMATED:
        return "automated";
    case MAIL_KIND_BOUNCE:
        return "bounce";
    case MAIL_KIND_DELAY:
        return "delay";
    case MAIL_KIND_LIST:
        return "list";
    }
    return "person";
}

const char *mail_direction_name(enum mail_direction direction)
{
    switch (direction) {
    case MAIL_DIRECTION_UNKNOWN:
        return "unknown";
    case MAIL_DIRECTION_RECEIVED:
        return "received";
    case MAIL_DIRECTION_SENT:
        return "sent";
    case MAIL_DIRECTION_INTERNAL:
        return "internal";
    }
    return "unknown";
}

/* --- the event --------------------------------------------------------------------------- */

enum mail_event mail_event_decide(const struct mail_classification *classification,
                                  bool mailbox_in_thread, const char **skip_reason)
{
    const char *reason = NULL;
    enum mail_event event = MAIL_EVENT_SKIP;
    switch (classification->kind) {
    case MAIL_KIND_AUTO_REPLY:
        reason = "auto_reply";
        break;
    case MAIL_KIND_AUTOMATED:
        reason = "automated";
        break;
    case MAIL_KIND_DELAY:
        reason = "delivery_delay";
        break;
    case MAIL_KIND_LIST:
        reason = "list";
        break;
    case MAIL_KIND_BOUNCE:
        if (mailbox_in_thread) {
            event = MAIL_EVENT_BOUNCED;
        } else {
            reason = "bounce_unmatched";
        }
        break;
    case MAIL_KIND_PERSON:
        switch (classification->direction) {
        case MAIL_DIRECTION_UNKNOWN:
            reason = "no_sender";
            break;
        case MAIL_DIRECTION_INTERNAL:
            reason = "internal";
            break;
        case MAIL_DIRECTION_SENT:
            event = MAIL_EVENT_SENT;
            break;
        case MAIL_DIRECTION_RECEIVED:
            event = classification->is_reply && mailbox_in_thread ? MAIL_EVENT_REPLIED
                                                                  : MAIL_EVENT_RECEIVED;
            break;
        }
        break;
    }
    if (event == MAIL_EVENT_SKIP && skip_reason != NULL) {
        *skip_reason = reason != NULL ? reason : "no_sender";
    }
    return event;
}

const char *mail_event_type(enum mail_event event)
{
    switch (event) {
    case MAIL_EVENT_RECEIVED:
        return "email.received";
    case MAIL_EVENT_SENT:
        return "email.sent";
    case MAIL_EVENT_REPLIED:
        return "email.replied";
    case MAIL_EVENT_BOUNCED:
        return "email.bounced";
    case MAIL_EVENT_SKIP:
        break;
    }
    return NULL;
}
