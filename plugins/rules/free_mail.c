/*
 * free_mail.c - which email domains belong to free-mail providers: the built-in list below,
 * plus the free_mail_domains setting (or that setting alone with free_mail_builtin: false).
 *
 * Entries are globs matched with fnmatch(3), case-insensitively: "gmx.*" covers gmx.de,
 * gmx.net and gmx.co.uk. Subdomains are not implied: "mail.example" does not match
 * "eu.mail.example"; write "*.mail.example" for that.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

#define DOMAIN_MAX 253

static const char *const builtin_domains[] = {
    /* global */
    "gmail.com",
    "googlemail.com",
    "yahoo.*",
    "ymail.com",
    "rocketmail.com",
    "outlook.*",
    "hotmail.*",
    "live.*",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.*",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tuta.io",
    "zohomail.com",
    "mail.com",
    "email.com",
    "gmx.*",
    "fastmail.com",
    "hey.com",
    "hushmail.com",
    /* Europe */
    "web.de",
    "t-online.de",
    "freenet.de",
    "posteo.de",
    "mailbox.org",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "btinternet.com",
    "sky.com",
    "virginmedia.com",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    /* Russia and neighbours */
    "yandex.*",
    "ya.ru",
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "rambler.ru",
    "ukr.net",
    /* Asia */
    "qq.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sina.cn",
    "sohu.com",
    "aliyun.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "rediffmail.com",
    /* North American ISPs */
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "cox.net",
    "shaw.ca",
    "rogers.com",
};

/* Letters, digits, '-', '.', '*'; a dot inside; no empty label. */
static bool domain_glob_valid(const char *text)
{
    size_t length = strlen(text);
    if (length == 0 || length > DOMAIN_MAX || strchr(text, '.') == NULL || text[0] == '.' ||
        text[length - 1] == '.' || strstr(text, "..") != NULL) {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*')) {
            return false;
        }
    }
    return true;
}

static int add_domain(struct free_mail *list, const char *domain)
{
    char *copy = strdup(domain);
    if (copy == NULL) {
        return -1;
    }
    list->domains[list->count++] = copy;
    return 0;
}

int free_mail_init(struct free_mail *list, bool builtin, const json_t *extra, char *error,
                   size_t error_size)
{
    size_t builtin_count = builtin ? sizeof(builtin_domains) / sizeof(builtin_domains[0]) : 0;
    size_t extra_count = json_is_array(extra) ? json_array_size(extra) : 0;
    list->count = 0;
    list->domains = calloc(builtin_count + extra_count + 1, sizeof(*list->domains));
    if (list->domains == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < builtin_count; i++) {
        if (add_domain(list, builtin_domains[i]) != 0) {
            snprintf(error, error_size, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < extra_count; i++) {
        const char *domain = json_string_value(json_array_get(extra, i));
        if (domain == NULL || !domain_glob_valid(domain)) {
            snprintf(error, error_size,
                     "free_mail_domains[%zu]: \"%.80s\" is not a domain; write a domain such "
                     "as mail.example, or a glob such as mail.* or *.mail.example",
                     i, domain != NULL ? domain : "");
            return -1;
        }
        if (add_domain(list, domain) != 0) {
            snprintf(error, error_size, "out of memory");
            return -1;
        }
    }
    return 0;
}

void free_mail_free(struct free_mail *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->domains[i]);
    }
    free(list->domains);
    list->domains = NULL;
    list->count = 0;
}

bool free_mail_match(const struct free_mail *list, const char *domain)
{
    for (size_t i = 0; i < list->count; i++) {
        if (fnmatch(list->domains[i], domain, FNM_CASEFOLD) == 0) {
            return true;
        }
    }
    return false;
}
