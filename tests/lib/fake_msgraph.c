/* fake_msgraph.c - see fake_msgraph.h. */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fake_msgraph.h"
#include "fake_oauth.h"
#include "http_client.h"
#include "util.h"

/* Not ck_assert: the fake also serves the benchmark, which runs outside Check (a failed
 * requirement aborts, which a Check test reports as a signal). */
#define FAKE_REQUIRE(cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fake_msgraph: " __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SUBSCRIPTION_MAX_MS (10080LL * 60 * 1000)
#define DEFAULT_PAGE        10

struct fake_msgraph {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mutex;
    char *tenant, *client_id, *client_secret;
    bool secret_expired;
    bool (*alive)(void *arg, const char *token);
    void *alive_arg;
    json_t *tokens;    /* access token -> true */
    json_t *mailboxes; /* upn -> {"inbox": {id: msg}, "sentitems": {...}, "calendar": {id: ev}} */
    json_t *log;       /* [{seq, upn, area, id, removed}] */
    json_t *links;     /* token -> link state */
    json_t *subs;      /* id -> subscription */
    long long seq;
    int generation, expired_generation;
    int issued;
    int limit_requests, limit_window_ms, limit_concurrent;
    int throttle_count, throttle_seconds;
    size_t refused;
    json_t *rate; /* upn -> {"times": [...], "inflight": n, "served": n} */
    int concurrency, peak;
    struct fake_request *received;
    size_t received_count;
};

struct upload {
    char *raw_uri;
    bool started;
    struct strbuf body;
    char *prefer;
};

struct answer {
    int status;
    char *body;
    char *location;
    int retry_after;
};

/* --- time zones (what Graph does with Prefer: outlook.timezone) -------------------------- */

/* Day of month of the nth (1-based; 5 = last) Sunday of month in year. */
static int sunday(int year, int month, int nth)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = 1, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm first;
    gmtime_r(&t, &first);
    int day = 1 + (7 - first.tm_wday) % 7;
    day += 7 * (nth - 1);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int limit = days[month - 1] + (month == 2 && year % 4 == 0);
    while (day > limit) {
        day -= 7;
    }
    return day;
}

static long long utc_of(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (long long)timegm(&tm);
}

/* Seconds east of UTC of Windows zone `zone` at local time `local` (seconds, read as UTC);
 * false for a zone the fake does not know. */
static bool zone_offset(const char *zone, long long local, int year, int *offset_out)
{
    static const struct {
        const char *name;
        int standard; /* hours */
        bool eu;
    } zones[] = {{"Pacific Standard Time", -8, false}, {"Mountain Standard Time", -7, false},
                 {"Central Standard Time", -6, false}, {"Eastern Standard Time", -5, false},
                 {"GMT Standard Time", 0, true},       {"Romance Standard Time", 1, true},
                 {"W. Europe Standard Time", 1, true}, {"UTC", 0, false}};
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (strcasecmp(zones[i].name, zone) != 0) {
            continue;
        }
        int standard = zones[i].standard * 3600;
        bool dst = false;
        if (strcmp(zones[i].name, "UTC") == 0) {
            dst = false;
        } else if (zones[i].eu) {
            long long utc = local - standard;
            dst = utc >= utc_of(year, 3, sunday(year, 3, 5), 1, 0, 0) &&
                  utc < utc_of(year, 10, sunday(year, 10, 5), 1, 0, 0);
        } else {
            dst = local >= utc_of(year, 3, sunday(year, 3, 2), 2, 0, 0) &&
                  local < utc_of(year, 11, sunday(year, 11, 1), 1, 0, 0);
        }
        *offset_out = standard + (dst ? 3600 : 0);
        return true;
    }
    return false;
}

/* {"dateTime": local, "timeZone": zone} -> the same instant in UTC (Graph's 7 fraction
 * digits). Unknown zones stay as they are. */
static void to_utc(json_t *value)
{
    const char *zone = json_string_value(json_object_get(value, "timeZone"));
    const char *text = json_string_value(json_object_get(value, "dateTime"));
    int y, mo, d, h, mi, s;
    if (zone == NULL || text == NULL ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) {
        return;
    }
    long long local = utc_of(y, mo, d, h, mi, s);
    int offset;
    if (!zone_offset(zone, local, y, &offset)) {
        return;
    }
    time_t utc = (time_t)(local - offset);
    struct tm tm;
    gmtime_r(&utc, &tm);
    char out[40];
    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S.0000000", &tm);
    json_object_set_new(value, "dateTime", json_string(out));
    json_object_set_new(value, "timeZone", json_string("UTC"));
}

/* ms of an event boundary, in UTC. */
static long long boundary_ms(const json_t *value)
{
    json_t *copy = json_deep_copy(value);
    to_utc(copy);
    int y, mo, d, h, mi, s;
    const char *text = json_string_value(json_object_get(copy, "dateTime"));
    long long ms = -1;
    if (text != NULL && sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) == 6) {
        ms = utc_of(y, mo, d, h, mi, s) * 1000;
    }
    json_decref(copy);
    return ms;
}

static long long parse_iso_ms(const char *text)
{
    int y, mo, d, h, mi, s;
    if (text == NULL || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) {
        return -1;
    }
    return utc_of(y, mo, d, h, mi, s) * 1000;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- answers ------------------------------------------------------------------------------ */

static struct answer json_answer(int status, json_t *body)
{
    struct answer a = {status, json_dumps(body, JSON_COMPACT), NULL, -1};
    json_decref(body);
    return a;
}

static struct answer graph_error(int status, const char *code, const char *message)
{
    return json_answer(status, json_pack("{s:{s:s, s:s, s:{s:s}}}", "error", "code", code,
                                         "message", message, "innerError", "request-id",
                                         "00000000-0000-0000-0000-000000000000"));
}

/* --- identity ---------------------------------------------------------------------------- */

static struct answer token_endpoint(struct fake_msgraph *f, const char *form)
{
    char *url = util_printf("/?%s", form);
    char *grant = fake_oauth_query_param(url, "grant_type");
    char *id = fake_oauth_query_param(url, "client_id");
    char *secret = fake_oauth_query_param(url, "client_secret");
    char *scope = fake_oauth_query_param(url, "scope");
    free(url);
    struct answer a;
    if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
        a = json_answer(400, json_pack("{s:s, s:s}", "error", "unsupported_grant_type",
                                       "error_description", "AADSTS70003: grant type"));
    } else if (id == NULL || strcmp(id, f->client_id) != 0) {
        a = json_answer(400, json_pack("{s:s, s:s}", "error", "unauthorized_client",
                                       "error_description", "AADSTS700016: application not found"));
    } else if (secret == NULL || strcmp(secret, f->client_secret) != 0) {
        a = json_answer(401, json_pack("{s:s, s:s}", "error", "invalid_client", "error_description",
                                       "AADSTS7000215: Invalid client secret provided."));
    } else if (f->secret_expired) {
        a = json_answer(401, json_pack("{s:s, s:s}", "error", "invalid_client", "error_description",
                                       "AADSTS7000222: The provided client secret keys for app "
                                       "are expired. Visit the Azure portal to create new keys "
                                       "for your app."));
    } else if (scope == NULL || strcmp(scope, "https://graph.microsoft.com/.default") != 0) {
        a = json_answer(400, json_pack("{s:s, s:s}", "error", "invalid_scope", "error_description",
                                       "AADSTS1002012: scope must be .default"));
    } else {
        char *token = util_printf("fake-graph-at-%d", ++f->issued);
        json_object_set_new(f->tokens, token, json_true());
        a = json_answer(200, json_pack("{s:s, s:i, s:i, s:s}", "token_type", "Bearer", "expires_in",
                                       3599, "ext_expires_in", 3599, "access_token", token));
        free(token);
    }
    free(grant);
    free(id);
    free(secret);
    free(scope);
    return a;
}

static bool token_ok(struct fake_msgraph *f, const char *authorization)
{
    if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0) {
        return false;
    }
    const char *token = authorization + 7;
    if (json_object_get(f->tokens, token) != NULL) {
        return true;
    }
    return f->alive != NULL && f->alive(f->alive_arg, token);
}

/* --- mail and calendar delta ------------------------------------------------------------- */

static json_t *area_of(struct fake_msgraph *f, const char *upn, const char *area)
{
    return json_object_get(json_object_get(f->mailboxes, upn), area);
}

static void log_change(struct fake_msgraph *f, const char *upn, const char *area, const char *id,
                       bool removed)
{
    json_array_append_new(f->log,
                          json_pack("{s:I, s:s, s:s, s:s, s:b}", "seq", (json_int_t)++f->seq, "upn",
                                    upn, "area", area, "id", id, "removed", removed));
}

static char *new_link(struct fake_msgraph *f, json_t *state)
{
    char *token = util_printf("L%d-%lld-%zu", f->generation, f->seq, json_object_size(f->links));
    json_object_set_new(state, "generation", json_integer(f->generation));
    json_object_set_new(f->links, token, state);
    return token;
}

/* Projects a message on $select (id always kept). */
static json_t *project(const json_t *item, const json_t *select)
{
    if (!json_is_array(select)) {
        return json_deep_copy(item);
    }
    json_t *out = json_object();
    json_object_set(out, "id", json_object_get(item, "id"));
    size_t i;
    const json_t *field;
    json_array_foreach(select, i, field)
    {
        const json_t *value = json_object_get(item, json_string_value(field));
        if (value != NULL) {
            json_object_set(out, json_string_value(field), (json_t *)value);
        }
    }
    return out;
}

static bool in_window(const json_t *event, long long from, long long to)
{
    long long starts = boundary_ms(json_object_get(event, "start"));
    long long ends = boundary_ms(json_object_get(event, "end"));
    return starts >= 0 && ends >= 0 && starts < to && ends > from;
}

/* The items of a round: [[id, removed], ...] changed after base, in change order. */
static json_t *round_items(struct fake_msgraph *f, const json_t *link)
{
    const char *upn = json_string_value(json_object_get(link, "upn"));
    const char *area = json_string_value(json_object_get(link, "area"));
    long long base = json_integer_value(json_object_get(link, "base"));
    long long since = json_integer_value(json_object_get(link, "since"));
    json_t *last = json_object(); /* id -> position in the log */
    size_t i;
    json_t *entry;
    json_array_foreach(f->log, i, entry)
    {
        if (json_integer_value(json_object_get(entry, "seq")) > base &&
            strcmp(json_string_value(json_object_get(entry, "upn")), upn) == 0 &&
            strcmp(json_string_value(json_object_get(entry, "area")), area) == 0) {
            json_object_set_new(last, json_string_value(json_object_get(entry, "id")),
                                json_integer((json_int_t)i));
        }
    }
    json_t *items = json_array();
    json_array_foreach(f->log, i, entry)
    {
        const char *id = json_string_value(json_object_get(entry, "id"));
        if (json_integer_value(json_object_get(last, id)) != (json_int_t)i ||
            json_integer_value(json_object_get(entry, "seq")) <= base) {
            continue;
        }
        bool removed = json_is_true(json_object_get(entry, "removed"));
        const json_t *item = json_object_get(area_of(f, upn, area), id);
        if (strcmp(area, "calendar") == 0 && item != NULL) {
            long long from = json_integer_value(json_object_get(link, "from"));
            long long to = json_integer_value(json_object_get(link, "to"));
            if (!in_window(item, from, to)) {
                if (base == 0) {
                    continue;
                }
                removed = true; /* Graph: a change outside the window comes as @removed */
            }
        } else if (item != NULL && since > 0 &&
                   parse_iso_ms(json_string_value(json_object_get(item, "receivedDateTime"))) <
                       since) {
            continue;
        }
        if (removed && base == 0) {
            continue;
        }
        json_array_append_new(items, json_pack("[s, b]", id, removed));
    }
    json_decref(last);
    return items;
}

static struct answer delta_page(struct fake_msgraph *f, json_t *link, json_t *items, int page,
                                bool utc, const char *self)
{
    const char *upn = json_string_value(json_object_get(link, "upn"));
    const char *area = json_string_value(json_object_get(link, "area"));
    json_t *value = json_array();
    size_t count = json_array_size(items);
    size_t take = count < (size_t)page ? count : (size_t)page;
    for (size_t i = 0; i < take; i++) {
        const json_t *pair = json_array_get(items, i);
        const char *id = json_string_value(json_array_get(pair, 0));
        const json_t *item = json_object_get(area_of(f, upn, area), id);
        if (json_is_true(json_array_get(pair, 1)) || item == NULL) {
            json_array_append_new(
                value, json_pack("{s:s, s:{s:s}}", "id", id, "@removed", "reason", "deleted"));
            continue;
        }
        json_t *out = project(item, json_object_get(link, "select"));
        if (utc) {
            to_utc(json_object_get(out, "start"));
            to_utc(json_object_get(out, "end"));
        }
        json_array_append_new(value, out);
    }
    json_t *body =
        json_pack("{s:s, s:o}", "@odata.context",
                  "https://graph.microsoft.com/v1.0/$metadata#Collection", "value", value);
    json_t *state = json_deep_copy(link);
    if (take < count) {
        json_t *rest = json_array();
        for (size_t i = take; i < count; i++) {
            json_array_append(rest, json_array_get(items, i));
        }
        json_object_set_new(state, "rest", rest);
        char *token = new_link(f, state);
        char *next = util_printf("http://127.0.0.1:%d%s?$skiptoken=%s", f->port, self, token);
        json_object_set_new(body, "@odata.nextLink", json_string(next));
        free(next);
        free(token);
    } else {
        json_object_del(state, "rest");
        json_object_set_new(state, "base",
                            json_integer(json_integer_value(json_object_get(link, "upto"))));
        char *token = new_link(f, state);
        char *done = util_printf("http://127.0.0.1:%d%s?$deltatoken=%s", f->port, self, token);
        json_object_set_new(body, "@odata.deltaLink", json_string(done));
        free(done);
        free(token);
    }
    return json_answer(200, body);
}

static int page_size(const char *prefer)
{
    const char *p = prefer != NULL ? strstr(prefer, "odata.maxpagesize=") : NULL;
    int n = p != NULL ? atoi(p + strlen("odata.maxpagesize=")) : 0;
    return n > 0 ? n : DEFAULT_PAGE;
}

/* GET .../delta: `self` is the path, `area` "inbox", "sentitems" or "calendar". */
static struct answer delta(struct fake_msgraph *f, const char *upn, const char *area,
                           const char *self, const char *raw, const char *prefer)
{
    char *skip = fake_oauth_query_param(raw, "$skiptoken");
    char *token = skip != NULL ? skip : fake_oauth_query_param(raw, "$deltatoken");
    struct answer a;
    json_t *link = NULL;
    if (token != NULL) {
        json_t *known = json_object_get(f->links, token);
        if (known == NULL ||
            json_integer_value(json_object_get(known, "generation")) < f->expired_generation) {
            a = graph_error(410, "resyncRequired",
                            "Resync required. Replace any local cached data with the current "
                            "server state.");
            a.location = util_printf("http://127.0.0.1:%d%s?$deltatoken=", f->port, self);
            free(token);
            return a;
        }
        link = json_deep_copy(known);
    } else {
        link = json_pack("{s:s, s:s, s:I, s:I}", "upn", upn, "area", area, "base", (json_int_t)0,
                         "since", (json_int_t)0);
        char *select = fake_oauth_query_param(raw, "$select");
        if (select != NULL) {
            json_t *fields = json_array();
            for (char *save = NULL, *p = strtok_r(select, ",", &save); p != NULL;
                 p = strtok_r(NULL, ",", &save)) {
                json_array_append_new(fields, json_string(p));
            }
            json_object_set_new(link, "select", fields);
        }
        free(select);
        char *filter = fake_oauth_query_param(raw, "$filter");
        if (filter != NULL) {
            const char *ge = strstr(filter, " ge ");
            json_object_set_new(link, "since", json_integer(ge != NULL ? parse_iso_ms(ge + 4) : 0));
        }
        free(filter);
        if (strcmp(area, "calendar") == 0) {
            char *from = fake_oauth_query_param(raw, "startDateTime");
            char *to = fake_oauth_query_param(raw, "endDateTime");
            long long from_ms = parse_iso_ms(from), to_ms = parse_iso_ms(to);
            free(from);
            free(to);
            if (from_ms < 0 || to_ms < 0) {
                json_decref(link);
                return graph_error(400, "ErrorInvalidParameter",
                                   "startDateTime and endDateTime are required");
            }
            json_object_set_new(link, "from", json_integer(from_ms));
            json_object_set_new(link, "to", json_integer(to_ms));
        }
    }
    json_t *items = json_incref(json_object_get(link, "rest"));
    if (items == NULL) {
        json_object_set_new(link, "upto", json_integer(f->seq));
        items = round_items(f, link);
    }
    bool utc = prefer != NULL && strstr(prefer, "outlook.timezone=\"UTC\"") != NULL;
    a = delta_page(f, link, items, page_size(prefer), utc, self);
    json_decref(items);
    json_decref(link);
    free(token);
    return a;
}

/* --- subscriptions -------------------------------------------------------------------------- */

static bool header_has(const char *headers, const char *name, const char *value)
{
    for (const char *line = headers; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > strlen(name) && strncasecmp(line, name, strlen(name)) == 0 &&
            line[strlen(name)] == ':') {
            const char *v = line + strlen(name) + 1;
            while (*v == ' ') {
                v++;
            }
            if (strncasecmp(v, value, strlen(value)) == 0) {
                return true;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* Graph's handshake: POST url?validationToken=<token>, 200 text/plain echoing it decoded. */
static bool validate_url(const char *url, int serial)
{
    /* a token with characters that must be percent-encoded, as Graph's are */
    char *token = util_printf("Validation: Token+%d/fake=ok&x", serial);
    char *encoded = curl_easy_escape(NULL, token, 0);
    char *target =
        util_printf("%s%svalidationToken=%s", url, strchr(url, '?') ? "&" : "?", encoded);
    const char *headers[] = {"Content-Type: text/plain; charset=utf-8", NULL};
    struct http_result r = {0};
    http_request("POST", target, headers, "", 0, &r);
    bool ok = r.status == 200 && r.body != NULL && strcmp(r.body, token) == 0 &&
              header_has(r.headers, "content-type", "text/plain");
    http_result_free(&r);
    free(target);
    curl_free(encoded);
    free(token);
    return ok;
}

static const char *resource_upn(const char *resource, char *out, size_t size)
{
    if (resource == NULL || strncmp(resource, "/users/", 7) != 0) {
        return NULL;
    }
    const char *start = resource + 7;
    const char *slash = strchr(start, '/');
    if (slash == NULL || (size_t)(slash - start) >= size) {
        return NULL;
    }
    memcpy(out, start, (size_t)(slash - start));
    out[slash - start] = '\0';
    return slash + 1;
}

static struct answer create_subscription(struct fake_msgraph *f, const char *body)
{
    json_t *req = json_loads(body, 0, NULL);
    const char *resource = json_string_value(json_object_get(req, "resource"));
    const char *url = json_string_value(json_object_get(req, "notificationUrl"));
    const char *life = json_string_value(json_object_get(req, "lifecycleNotificationUrl"));
    const char *state = json_string_value(json_object_get(req, "clientState"));
    const char *change = json_string_value(json_object_get(req, "changeType"));
    long long expires = parse_iso_ms(json_string_value(json_object_get(req, "expirationDateTime")));
    char upn[256];
    const char *what = resource_upn(resource, upn, sizeof(upn));
    struct answer a;
    if (req == NULL || url == NULL || change == NULL || what == NULL ||
        (strcmp(what, "messages") != 0 && strcmp(what, "events") != 0) ||
        json_object_get(f->mailboxes, upn) == NULL) {
        a = graph_error(400, "InvalidRequest", "resource, notificationUrl, changeType required");
    } else if (state == NULL || strlen(state) > 128) {
        a = graph_error(400, "InvalidRequest", "clientState");
    } else if (expires < now_ms() || expires > now_ms() + SUBSCRIPTION_MAX_MS + 60000) {
        a = graph_error(400, "InvalidRequest",
                        "Subscription expiration can only be 10080 minutes in the future.");
    } else {
        int serial = f->issued + (int)json_object_size(f->subs) + 1;
        json_t *copy = json_deep_copy(req);
        pthread_mutex_unlock(&f->mutex); /* the daemon answers the handshake meanwhile */
        bool valid = validate_url(url, serial) && (life == NULL || validate_url(life, serial + 1));
        pthread_mutex_lock(&f->mutex);
        if (!valid) {
            a = graph_error(400, "ValidationError",
                            "Subscription validation request failed. Response must exactly "
                            "match validationToken query parameter.");
            json_decref(copy);
        } else {
            char *id = util_printf("7f105c7d-2dc5-4530-97cd-%012d", serial);
            json_object_set_new(copy, "id", json_string(id));
            json_object_set_new(copy, "upn", json_string(upn));
            json_object_set_new(copy, "what", json_string(what));
            json_object_set_new(copy, "expires_ms", json_integer(expires));
            json_object_set(f->subs, id, copy);
            json_t *out = json_deep_copy(copy);
            json_object_del(out, "upn");
            json_object_del(out, "what");
            json_object_del(out, "expires_ms");
            json_decref(copy);
            free(id);
            a = json_answer(201, out);
        }
    }
    json_decref(req);
    return a;
}

static void drop_lapsed(struct fake_msgraph *f)
{
    const char *id;
    json_t *sub, *tmp;
    json_object_foreach_safe(f->subs, tmp, id, sub)
    {
        if (json_integer_value(json_object_get(sub, "expires_ms")) <= now_ms()) {
            json_object_del(f->subs, id);
        }
    }
}

static struct answer subscription(struct fake_msgraph *f, const char *method, const char *id,
                                  const char *body)
{
    drop_lapsed(f);
    json_t *sub = json_object_get(f->subs, id);
    if (sub == NULL) {
        return graph_error(404, "ResourceNotFound", "The object was not found.");
    }
    if (strcmp(method, "DELETE") == 0) {
        json_object_del(f->subs, id);
        return (struct answer){204, NULL, NULL, -1};
    }
    json_t *req = json_loads(body, 0, NULL);
    long long expires = parse_iso_ms(json_string_value(json_object_get(req, "expirationDateTime")));
    json_decref(req);
    if (expires < now_ms() || expires > now_ms() + SUBSCRIPTION_MAX_MS + 60000) {
        return graph_error(400, "InvalidRequest", "expirationDateTime");
    }
    json_object_set_new(sub, "expirationDateTime",
                        json_string(json_string_value(json_object_get(sub, "expirationDateTime"))));
    json_object_set_new(sub, "expires_ms", json_integer(expires));
    char text[40];
    time_t t = (time_t)(expires / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(sub, "expirationDateTime", json_string(text));
    json_t *out = json_deep_copy(sub);
    json_object_del(out, "upn");
    json_object_del(out, "what");
    json_object_del(out, "expires_ms");
    return json_answer(200, out);
}

/* --- limits ------------------------------------------------------------------------------ */

/* Whether a request of upn may be served now; counts it in flight when so. */
static bool admit(struct fake_msgraph *f, const char *upn, int *retry_after)
{
    json_t *rate = json_object_get(f->rate, upn);
    if (rate == NULL) {
        rate = json_pack("{s:[], s:i, s:i}", "times", "inflight", 0, "served", 0);
        json_object_set_new(f->rate, upn, rate);
    }
    json_t *times = json_object_get(rate, "times");
    long long now = util_monotonic_ms();
    while (json_array_size(times) > 0 && f->limit_window_ms > 0 &&
           json_integer_value(json_array_get(times, 0)) + f->limit_window_ms <= now) {
        json_array_remove(times, 0);
    }
    int inflight = (int)json_integer_value(json_object_get(rate, "inflight"));
    if (f->limit_requests > 0 && (int)json_array_size(times) >= f->limit_requests) {
        long long wait = json_integer_value(json_array_get(times, 0)) + f->limit_window_ms - now;
        *retry_after = (int)((wait + 999) / 1000);
        f->refused++;
        return false;
    }
    if (f->limit_concurrent > 0 && inflight >= f->limit_concurrent) {
        *retry_after = 1;
        f->refused++;
        return false;
    }
    json_array_append_new(times, json_integer(now));
    json_object_set_new(rate, "inflight", json_integer(inflight + 1));
    return true;
}

static void release(struct fake_msgraph *f, const char *upn, bool served)
{
    json_t *rate = json_object_get(f->rate, upn);
    json_object_set_new(rate, "inflight",
                        json_integer(json_integer_value(json_object_get(rate, "inflight")) - 1));
    if (served) {
        json_object_set_new(rate, "served",
                            json_integer(json_integer_value(json_object_get(rate, "served")) + 1));
    }
}

/* --- routing ---------------------------------------------------------------------------- */

static struct answer graph(struct fake_msgraph *f, const char *method, const char *path,
                           const char *raw, const char *body, const char *prefer)
{
    if (strcmp(method, "POST") == 0 && strcmp(path, "/v1.0/subscriptions") == 0) {
        return create_subscription(f, body);
    }
    if (strncmp(path, "/v1.0/subscriptions/", 20) == 0 &&
        (strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0)) {
        return subscription(f, method, path + 20, body);
    }
    char upn[256];
    const char *rest = resource_upn(path + 5, upn, sizeof(upn));
    if (strcmp(method, "GET") != 0 || rest == NULL) {
        return graph_error(404, "ResourceNotFound", "Resource not found for the segment.");
    }
    if (json_object_get(f->mailboxes, upn) == NULL) {
        return graph_error(404, "ErrorInvalidUser", "The requested user is invalid.");
    }
    if (strcmp(rest, "mailFolders/inbox/messages/delta") == 0) {
        return delta(f, upn, "inbox", path, raw, prefer);
    }
    if (strcmp(rest, "mailFolders/sentitems/messages/delta") == 0) {
        return delta(f, upn, "sentitems", path, raw, prefer);
    }
    if (strcmp(rest, "calendarView/delta") == 0) {
        return delta(f, upn, "calendar", path, raw, prefer);
    }
    return graph_error(404, "ResourceNotFound", "Resource not found for the segment.");
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct strbuf *headers = cls;
    strbuf_append(headers, key);
    strbuf_append(headers, ": ");
    strbuf_append(headers, value);
    strbuf_append(headers, "\n");
    return MHD_YES;
}

/* Every Prefer header, joined (Graph takes several). */
static enum MHD_Result collect_prefer(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct strbuf *prefer = cls;
    if (strcasecmp(key, "Prefer") == 0) {
        strbuf_append(prefer, value);
        strbuf_append(prefer, ";");
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fake_msgraph *f = cls;
    struct upload *upload = *con_cls;
    if (upload == NULL) {
        return MHD_NO;
    }
    if (!upload->started) {
        upload->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        strbuf_append_len(&upload->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *raw = upload->raw_uri != NULL ? upload->raw_uri : url;
    struct strbuf headers = {0}, prefer = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &headers);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_prefer, &prefer);
    const char *authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
    const char *body = strbuf_value(&upload->body);
    pthread_mutex_lock(&f->mutex);
    struct fake_request *grown = realloc(f->received, (f->received_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        f->received = grown;
        f->received[f->received_count++] =
            (struct fake_request){.method = strdup(method),
                                  .url = strdup(raw),
                                  .body = strdup(body),
                                  .authorization = NULL,
                                  .headers = strdup(strbuf_value(&headers)),
                                  .at_ms = util_monotonic_ms()};
    }
    struct answer a;
    char upn[256] = "";
    bool admitted = false;
    char *token_path = util_printf("/%s/oauth2/v2.0/token", f->tenant);
    if (strcmp(method, "POST") == 0 && strcmp(url, token_path) == 0) {
        a = token_endpoint(f, body);
    } else if (strncmp(url, "/v1.0/", 6) != 0) {
        a = graph_error(404, "NotFound", "no such endpoint");
    } else if (!token_ok(f, authorization)) {
        a = graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.");
    } else if (f->throttle_count > 0) {
        f->throttle_count--;
        a = graph_error(429, "TooManyRequests", "Please retry again later.");
        a.retry_after = f->throttle_seconds;
    } else {
        int retry_after = 0;
        bool mailbox = resource_upn(url + 5, upn, sizeof(upn)) != NULL;
        if (mailbox && !admit(f, upn, &retry_after)) {
            a = graph_error(429, "TooManyRequests",
                            "Application is over its MailboxConcurrency "
                            "or request limit.");
            a.retry_after = retry_after;
        } else {
            admitted = mailbox;
            f->concurrency++;
            f->peak = f->concurrency > f->peak ? f->concurrency : f->peak;
            a = graph(f, method, url, raw, body, strbuf_value(&prefer));
            f->concurrency--;
        }
    }
    free(token_path);
    pthread_mutex_unlock(&f->mutex);
    strbuf_free(&headers);
    strbuf_free(&prefer);
    const char *text = a.body != NULL ? a.body : "";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (a.body != NULL) {
        MHD_add_response_header(response, "Content-Type", "application/json");
    }
    if (a.location != NULL) {
        MHD_add_response_header(response, "Location", a.location);
    }
    if (a.retry_after >= 0) {
        char seconds[16];
        snprintf(seconds, sizeof(seconds), "%d", a.retry_after);
        MHD_add_response_header(response, "Retry-After", seconds);
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)a.status, response);
    MHD_destroy_response(response);
    if (admitted) {
        pthread_mutex_lock(&f->mutex);
        release(f, upn, a.status >= 200 && a.status < 300);
        pthread_mutex_unlock(&f->mutex);
    }
    free(a.body);
    free(a.location);
    return rc;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    struct upload *upload = calloc(1, sizeof(*upload));
    if (upload != NULL) {
        upload->raw_uri = strdup(uri);
    }
    return upload;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct upload *upload = *con_cls;
    if (upload != NULL) {
        strbuf_free(&upload->body);
        free(upload->raw_uri);
        free(upload);
        *con_cls = NULL;
    }
}

/* --- the test's side ---------------------------------------------------------------------- */

struct fake_msgraph *fake_msgraph_start(const char *tenant, const char *client_id,
                                        const char *client_secret)
{
    struct fake_msgraph *f = calloc(1, sizeof(*f));
    FAKE_REQUIRE(f != NULL, "%s", "f");
    pthread_mutex_init(&f->mutex, NULL);
    f->tenant = strdup(tenant);
    f->client_id = strdup(client_id);
    f->client_secret = strdup(client_secret);
    f->tokens = json_object();
    f->mailboxes = json_object();
    f->log = json_array();
    f->links = json_object();
    f->subs = json_object();
    f->rate = json_object();
    f->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                              f, MHD_OPTION_URI_LOG_CALLBACK, on_uri, f, MHD_OPTION_END);
    FAKE_REQUIRE(f->mhd != NULL, "%s", "f->mhd");
    f->port = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return f;
}

void fake_msgraph_stop(struct fake_msgraph *f)
{
    if (f == NULL) {
        return;
    }
    MHD_stop_daemon(f->mhd);
    for (size_t i = 0; i < f->received_count; i++) {
        fake_http_request_free(&f->received[i]);
    }
    free(f->received);
    json_decref(f->tokens);
    json_decref(f->mailboxes);
    json_decref(f->log);
    json_decref(f->links);
    json_decref(f->subs);
    json_decref(f->rate);
    free(f->tenant);
    free(f->client_id);
    free(f->client_secret);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}

char *fake_msgraph_url(const struct fake_msgraph *f, const char *path)
{
    return util_printf("http://127.0.0.1:%d%s", f->port, path);
}

void fake_msgraph_expire_secret(struct fake_msgraph *f, bool expired)
{
    pthread_mutex_lock(&f->mutex);
    f->secret_expired = expired;
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_accept(struct fake_msgraph *f, bool (*alive)(void *arg, const char *token),
                         void *arg)
{
    pthread_mutex_lock(&f->mutex);
    f->alive = alive;
    f->alive_arg = arg;
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_revoke_tokens(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    json_object_clear(f->tokens);
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_add_mailbox(struct fake_msgraph *f, const char *upn)
{
    pthread_mutex_lock(&f->mutex);
    json_object_set_new(f->mailboxes, upn,
                        json_pack("{s:{}, s:{}, s:{}}", "inbox", "sentitems", "calendar"));
    pthread_mutex_unlock(&f->mutex);
}

char *fake_msgraph_add_message(struct fake_msgraph *f, const char *upn, const char *folder,
                               const char *json)
{
    json_error_t error;
    json_t *message = json_loads(json, 0, &error);
    FAKE_REQUIRE(message != NULL, "bad message JSON: %s", error.text);
    pthread_mutex_lock(&f->mutex);
    json_t *area = area_of(f, upn, folder);
    FAKE_REQUIRE(area != NULL, "%s", "area");
    if (json_object_get(message, "id") == NULL) {
        char *id = util_printf("AAMkAGI2THVSAAA-msg-%lld=", f->seq + 1);
        json_object_set_new(message, "id", json_string(id));
        free(id);
    }
    char *id = strdup(json_string_value(json_object_get(message, "id")));
    json_object_set_new(area, id, message);
    log_change(f, upn, folder, id, false);
    pthread_mutex_unlock(&f->mutex);
    return id;
}

void fake_msgraph_delete_message(struct fake_msgraph *f, const char *upn, const char *folder,
                                 const char *id)
{
    pthread_mutex_lock(&f->mutex);
    json_object_del(area_of(f, upn, folder), id);
    log_change(f, upn, folder, id, true);
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_put_event(struct fake_msgraph *f, const char *upn, const char *json)
{
    json_error_t error;
    json_t *event = json_loads(json, 0, &error);
    FAKE_REQUIRE(event != NULL, "bad event JSON: %s", error.text);
    const char *id = json_string_value(json_object_get(event, "id"));
    FAKE_REQUIRE(id != NULL, "%s", "id");
    pthread_mutex_lock(&f->mutex);
    char *copy = strdup(id);
    json_t *area = area_of(f, upn, "calendar");
    FAKE_REQUIRE(area != NULL, "%s", "area");
    char stamp[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
    json_object_set_new(event, "lastModifiedDateTime", json_string(stamp));
    char *change = util_printf("ck%lld", f->seq + 1);
    json_object_set_new(event, "changeKey", json_string(change));
    free(change);
    json_object_set_new(area, copy, event);
    log_change(f, upn, "calendar", copy, false);
    free(copy);
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_delete_event(struct fake_msgraph *f, const char *upn, const char *id)
{
    pthread_mutex_lock(&f->mutex);
    json_object_del(area_of(f, upn, "calendar"), id);
    log_change(f, upn, "calendar", id, true);
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_expire_links(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    f->generation++;
    f->expired_generation = f->generation;
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_limits(struct fake_msgraph *f, int requests, int window_ms, int concurrent)
{
    pthread_mutex_lock(&f->mutex);
    f->limit_requests = requests;
    f->limit_window_ms = window_ms;
    f->limit_concurrent = concurrent;
    pthread_mutex_unlock(&f->mutex);
}

void fake_msgraph_throttle_next(struct fake_msgraph *f, int count, int retry_after_s)
{
    pthread_mutex_lock(&f->mutex);
    f->throttle_count = count;
    f->throttle_seconds = retry_after_s;
    pthread_mutex_unlock(&f->mutex);
}

size_t fake_msgraph_refused(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    size_t n = f->refused;
    pthread_mutex_unlock(&f->mutex);
    return n;
}

size_t fake_msgraph_served(struct fake_msgraph *f, const char *upn)
{
    pthread_mutex_lock(&f->mutex);
    size_t n = (size_t)json_integer_value(json_object_get(json_object_get(f->rate, upn), "served"));
    pthread_mutex_unlock(&f->mutex);
    return n;
}

int fake_msgraph_peak_concurrency(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    int n = f->peak;
    pthread_mutex_unlock(&f->mutex);
    return n;
}

json_t *fake_msgraph_subscriptions(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    drop_lapsed(f);
    json_t *out = json_array();
    const char *id;
    json_t *sub;
    json_object_foreach(f->subs, id, sub)
    {
        json_array_append_new(out, json_deep_copy(sub));
    }
    pthread_mutex_unlock(&f->mutex);
    return out;
}

void fake_msgraph_drop_subscriptions(struct fake_msgraph *f)
{
    pthread_mutex_lock(&f->mutex);
    json_object_clear(f->subs);
    pthread_mutex_unlock(&f->mutex);
}

/* The live subscription of upn's resource (a copy), or NULL. */
static json_t *find_subscription(struct fake_msgraph *f, const char *upn, const char *what)
{
    pthread_mutex_lock(&f->mutex);
    drop_lapsed(f);
    json_t *found = NULL;
    const char *id;
    json_t *sub;
    json_object_foreach(f->subs, id, sub)
    {
        if (strcmp(json_string_value(json_object_get(sub, "upn")), upn) == 0 &&
            strcmp(json_string_value(json_object_get(sub, "what")), what) == 0) {
            found = json_deep_copy(sub);
        }
    }
    pthread_mutex_unlock(&f->mutex);
    return found;
}

static int post_json(const char *url, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", NULL};
    struct http_result r = {0};
    http_request("POST", url, headers, text, strlen(text), &r);
    int status = (int)r.status;
    http_result_free(&r);
    free(text);
    return status;
}

int fake_msgraph_notify(struct fake_msgraph *f, const char *upn, const char *resource,
                        const char *client_state)
{
    json_t *sub = find_subscription(f, upn, resource);
    if (sub == NULL) {
        return 0;
    }
    const char *id = json_string_value(json_object_get(sub, "id"));
    const char *state = client_state != NULL
                            ? client_state
                            : json_string_value(json_object_get(sub, "clientState"));
    char *path = util_printf("Users/%s/%s/AAMkAGI2-notified", upn,
                             strcmp(resource, "events") == 0 ? "Events" : "Messages");
    json_t *body = json_pack(
        "{s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s}]}", "value", "subscriptionId", id,
        "subscriptionExpirationDateTime",
        json_string_value(json_object_get(sub, "expirationDateTime")), "changeType", "created",
        "resource", path, "resourceData", "@odata.type",
        strcmp(resource, "events") == 0 ? "#Microsoft.Graph.Event" : "#Microsoft.Graph.Message",
        "@odata.id", path, "id", "AAMkAGI2-notified", "clientState", state, "tenantId",
        "72f988bf-86f1-41af-91ab-2d7cd011db47");
    int status = post_json(json_string_value(json_object_get(sub, "notificationUrl")), body);
    json_decref(body);
    json_decref(sub);
    free(path);
    return status;
}

int fake_msgraph_lifecycle(struct fake_msgraph *f, const char *upn, const char *resource,
                           const char *event)
{
    json_t *sub = find_subscription(f, upn, resource);
    if (sub == NULL) {
        return 0;
    }
    const char *id = json_string_value(json_object_get(sub, "id"));
    if (strcmp(event, "subscriptionRemoved") == 0) {
        pthread_mutex_lock(&f->mutex);
        json_object_del(f->subs, id);
        pthread_mutex_unlock(&f->mutex);
    }
    json_t *body =
        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "value", "subscriptionId", id,
                  "subscriptionExpirationDateTime",
                  json_string_value(json_object_get(sub, "expirationDateTime")), "tenantId",
                  "72f988bf-86f1-41af-91ab-2d7cd011db47", "clientState",
                  json_string_value(json_object_get(sub, "clientState")), "lifecycleEvent", event);
    const char *url = json_string_value(json_object_get(sub, "lifecycleNotificationUrl"));
    int status = post_json(
        url != NULL ? url : json_string_value(json_object_get(sub, "notificationUrl")), body);
    json_decref(body);
    json_decref(sub);
    return status;
}

/* The nth request (method, path prefix) under the lock, or NULL. */
static const struct fake_request *nth_request(struct fake_msgraph *f, const char *method,
                                              const char *prefix, size_t nth, size_t *count_out)
{
    size_t count = 0;
    const struct fake_request *found = NULL;
    for (size_t i = 0; i < f->received_count; i++) {
        if (strcmp(f->received[i].method, method) == 0 &&
            strncmp(f->received[i].url, prefix, strlen(prefix)) == 0) {
            if (count == nth) {
                found = &f->received[i];
            }
            count++;
        }
    }
    if (count_out != NULL) {
        *count_out = count;
    }
    return found;
}

size_t fake_msgraph_count(struct fake_msgraph *f, const char *method, const char *prefix)
{
    pthread_mutex_lock(&f->mutex);
    size_t count = 0;
    nth_request(f, method, prefix, (size_t)-1, &count);
    pthread_mutex_unlock(&f->mutex);
    return count;
}

char *fake_msgraph_request_url(struct fake_msgraph *f, const char *method, const char *prefix,
                               size_t nth)
{
    pthread_mutex_lock(&f->mutex);
    const struct fake_request *r = nth_request(f, method, prefix, nth, NULL);
    char *url = r != NULL ? strdup(r->url) : NULL;
    pthread_mutex_unlock(&f->mutex);
    return url;
}

char *fake_msgraph_request_headers(struct fake_msgraph *f, const char *method, const char *prefix,
                                   size_t nth)
{
    pthread_mutex_lock(&f->mutex);
    const struct fake_request *r = nth_request(f, method, prefix, nth, NULL);
    char *headers = r != NULL ? strdup(r->headers) : NULL;
    pthread_mutex_unlock(&f->mutex);
    return headers;
}

long long fake_msgraph_request_at(struct fake_msgraph *f, const char *method, const char *prefix,
                                  size_t nth)
{
    pthread_mutex_lock(&f->mutex);
    const struct fake_request *r = nth_request(f, method, prefix, nth, NULL);
    long long at = r != NULL ? r->at_ms : -1;
    pthread_mutex_unlock(&f->mutex);
    return at;
}
