/* oauth_consent.c - see oauth_consent.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "oauth_consent.h"
#include "oauth_token.h"
#include "sealed_state.h"
#include "util.h"

#define REDIRECT_MAX 8192 /* a pasted URL or a callback's query, at most */

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* 32 random bytes as base64url: 43 characters of [A-Za-z0-9_-] (RFC 7636's 43..128). */
static int random_text(char out[48])
{
    unsigned char bytes[32];
    if (crypto_random(bytes, sizeof(bytes)) != 0) {
        return -1;
    }
    crypto_base64url_encode(bytes, sizeof(bytes), out);
    explicit_bzero(bytes, sizeof(bytes));
    return 0;
}

int oauth_consent_begin(struct oauth_consent *out, char **error_out)
{
    memset(out, 0, sizeof(*out));
    if (random_text(out->state) != 0 || random_text(out->verifier) != 0) {
        *error_out = strdup("the system's random generator failed");
        return -1;
    }
    unsigned char digest[32];
    crypto_sha256(out->verifier, strlen(out->verifier), digest);
    crypto_base64url_encode(digest, sizeof(digest), out->challenge);
    return 0;
}

int oauth_consent_address(struct oauth_consent *consent, const struct oauth_endpoints *endpoints,
                          const char *redirect_uri, char **error_out)
{
    free(consent->redirect_uri);
    free(consent->authorization_url);
    consent->redirect_uri = strdup(redirect_uri);
    consent->authorization_url =
        consent->redirect_uri != NULL
            ? oauth_authorization_url(endpoints, redirect_uri, consent->state, consent->challenge)
            : NULL;
    if (consent->authorization_url == NULL) {
        *error_out = strdup("out of memory");
        return -1;
    }
    return 0;
}

/* The text with &, <, >, " escaped; malloc'd. */
static char *html_escape(const char *text)
{
    struct strbuf sb = {0};
    for (const char *p = text; *p != '\0'; p++) {
        const char *entity = *p == '&'   ? "&amp;"
                             : *p == '<' ? "&lt;"
                             : *p == '>' ? "&gt;"
                             : *p == '"' ? "&quot;"
                                         : NULL;
        if (entity != NULL) {
            strbuf_append(&sb, entity);
        } else {
            strbuf_append_len(&sb, p, 1);
        }
    }
    return strbuf_take(&sb);
}

char *oauth_consent_page(const char *title, const char *text)
{
    char *t = html_escape(title);
    char *x = html_escape(text);
    char *page = t != NULL && x != NULL
                     ? util_printf("<!doctype html><html><head><meta charset=\"utf-8\"><title>"
                                   "leadhub: %s</title></head><body><h1>%s</h1><p>%s</p></body>"
                                   "</html>\n",
                                   t, t, x)
                     : NULL;
    free(t);
    free(x);
    return page;
}

void oauth_consent_clear(struct oauth_consent *consent)
{
    free(consent->redirect_uri);
    free(consent->authorization_url);
    explicit_bzero(consent, sizeof(*consent));
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes [text, text + len) ('+' is a space); NULL when malformed or holding a
 * NUL or a control character. */
static char *decode(const char *text, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)text[i];
        if (c == '%') {
            int high = i + 2 < len ? hex_value(text[i + 1]) : -1;
            int low = i + 2 < len ? hex_value(text[i + 2]) : -1;
            if (high < 0 || low < 0) {
                free(out);
                return NULL;
            }
            c = high * 16 + low;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f) {
            free(out);
            return NULL;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

void oauth_redirect_clear(struct oauth_redirect *redirect)
{
    wipe_free(redirect->code);
    wipe_free(redirect->state);
    free(redirect->error);
    free(redirect->error_description);
    memset(redirect, 0, sizeof(*redirect));
}

int oauth_redirect_parse(const char *text, struct oauth_redirect *out)
{
    memset(out, 0, sizeof(*out));
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t len = strnlen(text, REDIRECT_MAX + 1);
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    if (len == 0 || len > REDIRECT_MAX) {
        return -1;
    }
    /* a whole URL: its query; a bare query: all of it */
    const char *query = memchr(text, '?', len);
    const char *start = query != NULL ? query + 1 : text;
    if (query == NULL && memchr(text, '/', len) != NULL) {
        return -1; /* a URL without a query carries nothing */
    }
    const char *fragment = memchr(start, '#', len - (size_t)(start - text));
    const char *end = fragment != NULL ? fragment : text + len;
    struct {
        const char *name;
        char **slot;
    } wanted[] = {{"code", &out->code},
                  {"state", &out->state},
                  {"error", &out->error},
                  {"error_description", &out->error_description}};
    for (const char *p = start; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *item_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        size_t name_len = (size_t)((eq != NULL ? eq : item_end) - p);
        for (size_t i = 0; i < UTIL_ARRAY_LEN(wanted); i++) {
            if (strlen(wanted[i].name) != name_len || strncmp(p, wanted[i].name, name_len) != 0) {
                continue;
            }
            const char *value = eq != NULL ? eq + 1 : item_end;
            char *decoded = decode(value, (size_t)(item_end - value));
            if (decoded == NULL || *wanted[i].slot != NULL) {
                free(decoded); /* malformed, or given twice: which one would be meant? */
                oauth_redirect_clear(out);
                return -1;
            }
            *wanted[i].slot = decoded;
        }
        p = item_end + (amp != NULL);
    }
    /* an empty value is no value */
    char **slots[] = {&out->code, &out->state, &out->error, &out->error_description};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(slots); i++) {
        if (*slots[i] != NULL && (*slots[i])[0] == '\0') {
            free(*slots[i]);
            *slots[i] = NULL;
        }
    }
    if ((out->code != NULL) == (out->error != NULL)) {
        oauth_redirect_clear(out); /* neither, or both: not an answer to trust */
        return -1;
    }
    return 0;
}

bool oauth_state_matches(const char *expected, const char *received)
{
    if (expected == NULL || received == NULL) {
        return false;
    }
    /* digests, so that neither length nor content shows in the time taken */
    unsigned char a[32], b[32];
    crypto_sha256(expected, strlen(expected), a);
    crypto_sha256(received, strlen(received), b);
    return crypto_digest_equal(a, b, sizeof(a)) == 1;
}

lh_status_t oauth_consent_complete(struct lh_ctx *ctx, const struct oauth_endpoints *endpoints,
                                   const char *code, const char *redirect_uri, const char *verifier,
                                   struct store *store, const struct seal_keyring *ring,
                                   struct oauth_grant *granted_out, char **error_out)
{
    memset(granted_out, 0, sizeof(*granted_out));
    *error_out = NULL;
    if (ring == NULL) {
        *error_out =
            strdup("no secrets_key is configured, so the grant cannot be stored: " SEAL_KEY_HINT);
        return LH_CONFIG;
    }
    struct strbuf form = {0};
    oauth_form_append(&form, "grant_type", "authorization_code");
    oauth_form_append(&form, "code", code);
    oauth_form_append(&form, "redirect_uri", redirect_uri);
    oauth_form_append(&form, "client_id", endpoints->client_id);
    oauth_form_append(&form, "client_secret", endpoints->client_secret);
    if (endpoints->pkce) {
        oauth_form_append(&form, "code_verifier", verifier);
    }
    if (endpoints->token_scope && endpoints->scope[0] != '\0') {
        oauth_form_append(&form, "scope", endpoints->scope);
    }
    struct oauth_token_answer answer;
    char *reason = NULL;
    lh_status_t status = oauth_token_request(ctx, endpoints->token_url, &form, 1, &answer, &reason);
    const char *why = reason != NULL ? reason : "?";
    switch (status) {
    case LH_OK:
        break;
    case LH_AUTH:
        *error_out = util_printf("the provider refused the authorization code (%s): it expired, "
                                 "was used already, or was issued for another redirect URL; "
                                 "start the consent again",
                                 why);
        break;
    case LH_CONFIG:
        *error_out = util_printf("the provider refused the client (%s): check client_id and "
                                 "client_secret of the instance",
                                 why);
        break;
    default:
        *error_out = answer.http_status == 0
                         ? util_printf("the token endpoint could not be reached: %s", why)
                         : util_printf("the token endpoint refused the code (%s)", why);
        break;
    }
    free(reason);
    if (status != LH_OK) {
        oauth_token_answer_clear(&answer);
        return status;
    }
    int64_t now = util_now_ms();
    granted_out->origin = OAUTH_GRANT_CONSENT;
    granted_out->refresh_token = answer.refresh_token;
    granted_out->access_token = answer.access_token;
    granted_out->scope = answer.scope;
    answer.refresh_token = answer.access_token = answer.scope = NULL; /* moved */
    granted_out->expires_at_ms = now + answer.expires_in_s * 1000;
    granted_out->refresh_expires_at_ms =
        answer.refresh_expires_in_s > 0 ? now + answer.refresh_expires_in_s * 1000 : 0;
    granted_out->granted_at_ms = now;
    oauth_token_answer_clear(&answer);
    char *store_error = NULL;
    enum store_result rc =
        oauth_grant_save(store, ring, ctx->instance->name, granted_out, &store_error);
    if (rc != STORE_OK) {
        *error_out = util_printf("the provider granted access, but the grant could not be "
                                 "stored: %s",
                                 store_error != NULL ? store_error : "?");
        free(store_error);
        oauth_grant_clear(granted_out);
        return rc == STORE_REJECTED ? LH_CONFIG : LH_RETRY;
    }
    return LH_OK;
}

enum store_result oauth_consent_save(struct store *store, const struct seal_keyring *ring,
                                     const char *instance, const struct oauth_consent *consent,
                                     char **error_out)
{
    char digest[65];
    crypto_sha256_hex(consent->state, strlen(consent->state), digest);
    const struct seal_place place = {"consent", instance, digest};
    json_t *verifier = json_string(consent->verifier);
    json_t *sealed = verifier != NULL ? seal_value(ring, &place, verifier, error_out) : NULL;
    json_decref(verifier);
    char *sealed_text = sealed != NULL ? json_dumps(sealed, JSON_COMPACT) : NULL;
    json_decref(sealed);
    if (sealed_text == NULL) {
        if (*error_out == NULL) {
            *error_out = strdup("out of memory");
        }
        return STORE_REJECTED;
    }
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%d milliseconds", OAUTH_CONSENT_TTL_MS);
    enum store_result rc =
        store_exec(store, "oauth_consent_sweep",
                   "DELETE FROM oauth_consents WHERE expires_at < now()", 0, NULL, NULL, error_out);
    if (rc == STORE_OK) {
        const char *params[] = {digest, instance, consent->redirect_uri, sealed_text, ttl};
        rc = store_exec(store, "oauth_consent_save",
                        "INSERT INTO oauth_consents (state_sha256, instance, redirect_uri, "
                        "code_verifier, expires_at) VALUES ($1, $2, $3, $4::jsonb, "
                        "now() + $5::interval)",
                        5, params, NULL, error_out);
    }
    free(sealed_text);
    return rc;
}

enum store_result oauth_consent_take(struct store *store, const struct seal_keyring *ring,
                                     const char *state, bool *found_out, bool *expired_out,
                                     char **instance_out, char **redirect_uri_out,
                                     char **verifier_out, char **error_out)
{
    *found_out = *expired_out = false;
    *instance_out = *redirect_uri_out = *verifier_out = NULL;
    char digest[65];
    crypto_sha256_hex(state, strlen(state), digest);
    const char *params[] = {digest};
    PGresult *result = NULL;
    enum store_result rc =
        store_exec(store, "oauth_consent_take",
                   "DELETE FROM oauth_consents WHERE state_sha256 = $1 RETURNING instance, "
                   "redirect_uri, code_verifier::text, expires_at <= now()",
                   1, params, &result, error_out);
    if (rc != STORE_OK || PQntuples(result) != 1) {
        PQclear(result);
        return rc;
    }
    *found_out = true;
    *expired_out = strcmp(PQgetvalue(result, 0, 3), "t") == 0;
    if (*expired_out) {
        PQclear(result);
        return STORE_OK;
    }
    const char *instance = PQgetvalue(result, 0, 0);
    const struct seal_place place = {"consent", instance, digest};
    json_t *sealed = json_loads(PQgetvalue(result, 0, 2), 0, NULL);
    json_t *verifier = sealed != NULL ? seal_open(ring, &place, sealed, NULL, error_out) : NULL;
    json_decref(sealed);
    if (!json_is_string(verifier)) {
        json_decref(verifier);
        PQclear(result);
        if (*error_out == NULL) {
            *error_out = strdup("the stored consent is not readable");
        }
        return STORE_REJECTED;
    }
    *instance_out = strdup(instance);
    *redirect_uri_out = strdup(PQgetvalue(result, 0, 1));
    *verifier_out = strdup(json_string_value(verifier));
    explicit_bzero((char *)json_string_value(verifier), json_string_length(verifier));
    json_decref(verifier);
    PQclear(result);
    if (*instance_out == NULL || *redirect_uri_out == NULL || *verifier_out == NULL) {
        free(*instance_out);
        free(*redirect_uri_out);
        free(*verifier_out);
        *instance_out = *redirect_uri_out = *verifier_out = NULL;
        *error_out = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}
