/*
 * metrics.c - the registry behind /metrics.
 *
 * Series live in an open-addressing hash table keyed by "name{labels}" under one mutex:
 * an increment builds its key on the stack, then is a hash lookup and an add, cheap next
 * to the work it counts (several per webhook request).
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

const double metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t metrics_latency_bucket_count = UTIL_ARRAY_LEN(metrics_latency_buckets);
const double metrics_size_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
const size_t metrics_size_bucket_count = UTIL_ARRAY_LEN(metrics_size_buckets);

enum series_type { SERIES_COUNTER, SERIES_GAUGE, SERIES_HISTOGRAM };

struct series {
    char *key;    /* "name{labels}" or "name"; NULL for an empty slot */
    char *name;   /* owned copy */
    char *help;   /* owned copy, may be NULL */
    char *labels; /* 'a="x",b="y"' or "" */
    enum series_type type;
    double value;   /* counter/gauge; histogram sum */
    uint64_t count; /* histogram observations */
    const double *buckets;
    size_t bucket_count;
    uint64_t *bucket_hits; /* cumulative counts per bucket */
};

struct metrics {
    pthread_mutex_t mutex;
    struct series *slots;
    size_t capacity; /* power of two */
    size_t used;
};

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

struct metrics *metrics_create(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->capacity = 256;
    m->slots = calloc(m->capacity, sizeof(*m->slots));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->mutex, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->capacity; i++) {
        free(m->slots[i].key);
        free(m->slots[i].name);
        free(m->slots[i].help);
        free(m->slots[i].labels);
        free(m->slots[i].bucket_hits);
    }
    free(m->slots);
    pthread_mutex_destroy(&m->mutex);
    free(m);
}

/*
 * The series key "name{a="x",b="y"}" (or "name") from the variadic key/value list, built
 * without printf or the heap in the common case: every update builds one, and only a new
 * series keeps a copy. Label values are escaped as the exposition format wants.
 */
#define KEY_INLINE 256

struct key_buffer {
    char inline_bytes[KEY_INLINE];
    char *bytes; /* inline_bytes, or malloc'd once the key outgrows it */
    size_t len;
    size_t capacity;
    bool failed;
};

static void key_put(struct key_buffer *k, const char *text, size_t len)
{
    if (k->failed) {
        return;
    }
    if (k->len + len + 1 > k->capacity) {
        size_t capacity = (k->len + len + 1) * 2;
        char *bytes = k->bytes == k->inline_bytes ? malloc(capacity) : realloc(k->bytes, capacity);
        if (bytes == NULL) {
            k->failed = true;
            return;
        }
        if (k->bytes == k->inline_bytes) {
            memcpy(bytes, k->inline_bytes, k->len);
        }
        k->bytes = bytes;
        k->capacity = capacity;
    }
    memcpy(k->bytes + k->len, text, len);
    k->len += len;
    k->bytes[k->len] = '\0';
}

static void key_put_escaped(struct key_buffer *k, const char *value)
{
    const char *run = value;
    for (const char *p = value;; p++) {
        const char *escape = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (escape == NULL && *p != '\0') {
            continue;
        }
        key_put(k, run, (size_t)(p - run));
        if (*p == '\0') {
            return;
        }
        key_put(k, escape, 2);
        run = p + 1;
    }
}

/* Fills `k` with the key of name + labels; false when out of memory. Release with
 * key_release(). */
static bool key_build(struct key_buffer *k, const char *name, va_list args)
{
    k->bytes = k->inline_bytes;
    k->len = 0;
    k->capacity = sizeof(k->inline_bytes);
    k->failed = false;
    key_put(k, name, strlen(name));
    const char *label;
    bool first = true;
    while ((label = va_arg(args, const char *)) != NULL) {
        const char *value = va_arg(args, const char *);
        key_put(k, first ? "{" : ",", 1);
        key_put(k, label, strlen(label));
        key_put(k, "=\"", 2);
        key_put_escaped(k, value != NULL ? value : "");
        key_put(k, "\"", 1);
        first = false;
    }
    if (!first) {
        key_put(k, "}", 1);
    }
    return !k->failed;
}

static void key_release(struct key_buffer *k)
{
    if (k->bytes != k->inline_bytes) {
        free(k->bytes);
    }
}

static int grow(struct metrics *m)
{
    size_t capacity = m->capacity * 2;
    struct series *slots = calloc(capacity, sizeof(*slots));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->capacity; i++) {
        if (m->slots[i].key == NULL) {
            continue;
        }
        size_t j = hash_string(m->slots[i].key) & (capacity - 1);
        while (slots[j].key != NULL) {
            j = (j + 1) & (capacity - 1);
        }
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->capacity = capacity;
    return 0;
}

/* The series of `key` (a key_build() result, borrowed), created when absent; NULL when out
 * of memory. Called with the mutex held. */
static struct series *lookup(struct metrics *m, const char *name, const char *help,
                             const struct key_buffer *key, enum series_type type, bool create)
{
    uint64_t hash = hash_string(key->bytes);
    size_t i = hash & (m->capacity - 1);
    while (m->slots[i].key != NULL) {
        if (strcmp(m->slots[i].key, key->bytes) == 0) {
            return &m->slots[i];
        }
        i = (i + 1) & (m->capacity - 1);
    }
    if (!create || ((m->used + 1) * 2 > m->capacity && grow(m) != 0)) {
        return NULL;
    }
    i = hash & (m->capacity - 1);
    while (m->slots[i].key != NULL) {
        i = (i + 1) & (m->capacity - 1);
    }
    /* the labels are what the key holds between the braces */
    size_t name_len = strlen(name);
    bool labeled = key->len > name_len;
    char *key_copy = strdup(key->bytes);
    char *name_copy = strdup(name);
    char *help_copy = help != NULL ? strdup(help) : NULL;
    char *labels =
        labeled ? strndup(key->bytes + name_len + 1, key->len - name_len - 2) : strdup("");
    if (key_copy == NULL || name_copy == NULL || (help != NULL && help_copy == NULL) ||
        labels == NULL) {
        free(key_copy);
        free(name_copy);
        free(help_copy);
        free(labels);
        return NULL;
    }
    m->slots[i] = (struct series){
        .key = key_copy, .name = name_copy, .help = help_copy, .labels = labels, .type = type};
    m->used++;
    return &m->slots[i];
}

/* Adds to (counter) or sets (gauge) one series. */
static void update(struct metrics *m, const char *name, const char *help, enum series_type type,
                   double value, va_list args)
{
    if (m == NULL) {
        return;
    }
    struct key_buffer key;
    if (key_build(&key, name, args)) {
        pthread_mutex_lock(&m->mutex);
        struct series *s = lookup(m, name, help, &key, type, true);
        if (s != NULL) {
            s->value = type == SERIES_COUNTER ? s->value + value : value;
        }
        pthread_mutex_unlock(&m->mutex);
    }
    key_release(&key);
}

void metrics_counter_add(struct metrics *m, const char *name, const char *help, double delta, ...)
{
    va_list args;
    va_start(args, delta);
    update(m, name, help, SERIES_COUNTER, delta, args);
    va_end(args);
}

void metrics_gauge_set(struct metrics *m, const char *name, const char *help, double value, ...)
{
    va_list args;
    va_start(args, value);
    update(m, name, help, SERIES_GAUGE, value, args);
    va_end(args);
}

void metrics_observe(struct metrics *m, const char *name, const char *help, const double *buckets,
                     size_t bucket_count, double value, ...)
{
    if (m == NULL) {
        return;
    }
    va_list args;
    va_start(args, value);
    struct key_buffer key;
    bool built = key_build(&key, name, args);
    va_end(args);
    if (!built) {
        key_release(&key);
        return;
    }
    pthread_mutex_lock(&m->mutex);
    struct series *s = lookup(m, name, help, &key, SERIES_HISTOGRAM, true);
    if (s != NULL && s->bucket_hits == NULL) {
        s->bucket_hits = calloc(bucket_count, sizeof(*s->bucket_hits));
        s->buckets = buckets;
        s->bucket_count = bucket_count;
    }
    if (s != NULL && s->bucket_hits != NULL) {
        for (size_t b = 0; b < s->bucket_count; b++) {
            if (value <= s->buckets[b]) {
                s->bucket_hits[b]++;
            }
        }
        s->count++;
        s->value += value;
    }
    pthread_mutex_unlock(&m->mutex);
    key_release(&key);
}

double metrics_get(struct metrics *m, const char *name, ...)
{
    va_list args;
    va_start(args, name);
    struct key_buffer key;
    bool built = key_build(&key, name, args);
    va_end(args);
    double value = 0;
    if (built) {
        pthread_mutex_lock(&m->mutex);
        const struct series *s = lookup(m, name, NULL, &key, SERIES_COUNTER, false);
        value = s != NULL ? (s->type == SERIES_HISTOGRAM ? (double)s->count : s->value) : 0;
        pthread_mutex_unlock(&m->mutex);
    }
    key_release(&key);
    return value;
}

static int compare_series(const void *a, const void *b)
{
    const struct series *x = *(const struct series *const *)a;
    const struct series *y = *(const struct series *const *)b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->labels, y->labels);
}

static void append_number(struct strbuf *sb, double value)
{
    if (isinf(value)) {
        strbuf_append(sb, value > 0 ? "+Inf" : "-Inf");
    } else if (value == (double)(int64_t)value && fabs(value) < 1e15) {
        strbuf_appendf(sb, "%lld", (long long)value);
    } else {
        strbuf_appendf(sb, "%.9g", value);
    }
}

static void render_histogram(struct strbuf *sb, const struct series *s)
{
    const char *sep = s->labels[0] ? "," : "";
    for (size_t b = 0; b < s->bucket_count; b++) {
        strbuf_appendf(sb, "%s_bucket{%s%sle=\"", s->name, s->labels, sep);
        append_number(sb, s->buckets[b]);
        strbuf_appendf(sb, "\"} %llu\n", (unsigned long long)s->bucket_hits[b]);
    }
    strbuf_appendf(sb, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep,
                   (unsigned long long)s->count);
    const char *open = s->labels[0] ? "{" : "";
    const char *close = s->labels[0] ? "}" : "";
    strbuf_appendf(sb, "%s_sum%s%s%s ", s->name, open, s->labels, close);
    append_number(sb, s->value);
    strbuf_appendf(sb, "\n%s_count%s%s%s %llu\n", s->name, open, s->labels, close,
                   (unsigned long long)s->count);
}

char *metrics_render(struct metrics *m)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct strbuf sb = {0};
    pthread_mutex_lock(&m->mutex);
    const struct series **sorted = calloc(m->used + 1, sizeof(*sorted));
    if (sorted == NULL) {
        pthread_mutex_unlock(&m->mutex);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < m->capacity; i++) {
        if (m->slots[i].key != NULL) {
            sorted[n++] = &m->slots[i];
        }
    }
    qsort(sorted, n, sizeof(*sorted), compare_series);
    const char *previous = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct series *s = sorted[i];
        if (previous == NULL || strcmp(previous, s->name) != 0) {
            strbuf_appendf(&sb, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help ? s->help : "",
                           s->name, type_names[s->type]);
            previous = s->name;
        }
        if (s->type == SERIES_HISTOGRAM) {
            render_histogram(&sb, s);
            continue;
        }
        strbuf_append(&sb, s->name);
        if (s->labels[0]) {
            strbuf_appendf(&sb, "{%s}", s->labels);
        }
        strbuf_append(&sb, " ");
        append_number(&sb, s->value);
        strbuf_append(&sb, "\n");
    }
    pthread_mutex_unlock(&m->mutex);
    free(sorted);
    return strbuf_take(&sb);
}
