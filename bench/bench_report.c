/*
 * bench_report.c - figures as a table for people and as JSON lines for tools: one object
 * per figure, {"name", "value", "unit", "baseline", "baseline_value", "ratio"} plus
 * "floor" and "pass" for requirements, "note" when there is one.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum line_kind { LINE_INFO, LINE_FIGURE, LINE_CHECK };

struct line {
    enum line_kind kind;
    char *name;
    char *unit;
    char *baseline_name;
    char *note;
    char *relation;
    double value;
    double baseline;
    double ratio;
    double floor; /* figures: minimum ratio (0: none); checks: the limit */
    bool has_verdict;
    bool pass;
};

struct bench_report {
    FILE *json;
    bool json_stdout;
    json_t *pending; /* lines for stdout, printed after the table */
    struct line *lines;
    size_t count;
    size_t capacity;
};

struct bench_report *bench_report_open(const char *json_path)
{
    struct bench_report *report = calloc(1, sizeof(*report));
    if (report == NULL) {
        return NULL;
    }
    report->pending = json_array();
    if (json_path != NULL && strcmp(json_path, "-") == 0) {
        report->json_stdout = true;
    } else if (json_path != NULL) {
        report->json = fopen(json_path, "w");
        if (report->json == NULL) {
            fprintf(stderr, "bench: cannot write %s\n", json_path);
        }
    }
    return report;
}

static char *dup_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static struct line *add_line(struct bench_report *report)
{
    if (report->count == report->capacity) {
        size_t capacity = report->capacity ? report->capacity * 2 : 64;
        struct line *grown = realloc(report->lines, capacity * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        report->lines = grown;
        report->capacity = capacity;
    }
    struct line *line = &report->lines[report->count++];
    memset(line, 0, sizeof(*line));
    return line;
}

/* A number fit for JSON: NaN and infinities become null. */
static json_t *number(double value)
{
    return isfinite(value) ? json_real(value) : json_null();
}

static void emit_json(struct bench_report *report, json_t *object)
{
    if (object == NULL) {
        return;
    }
    if (report->json != NULL) {
        char *text =
            json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (text != NULL) {
            fprintf(report->json, "%s\n", text);
            fflush(report->json);
            free(text);
        }
    }
    if (report->json_stdout) {
        json_array_append(report->pending, object);
    }
    json_decref(object);
}

void bench_figure(struct bench_report *report, const char *name, double value, const char *unit,
                  const char *baseline_name, double baseline, double floor_ratio, const char *note)
{
    struct line *line = add_line(report);
    if (line == NULL) {
        return;
    }
    line->kind = LINE_FIGURE;
    line->name = strdup(name);
    line->unit = strdup(unit);
    line->baseline_name = dup_or_null(baseline_name);
    line->note = dup_or_null(note);
    line->value = value;
    line->baseline = baseline;
    line->ratio = baseline > 0 ? value / baseline : NAN;
    line->floor = floor_ratio;
    if (floor_ratio > 0) {
        line->has_verdict = true;
        line->pass = isfinite(line->ratio) && line->ratio >= floor_ratio;
    }
    json_t *object = json_object();
    json_object_set_new(object, "name", json_string(name));
    json_object_set_new(object, "value", number(value));
    json_object_set_new(object, "unit", json_string(unit));
    json_object_set_new(object, "baseline",
                        baseline_name ? json_string(baseline_name) : json_null());
    json_object_set_new(object, "baseline_value", baseline_name ? number(baseline) : json_null());
    json_object_set_new(object, "ratio", number(line->ratio));
    if (floor_ratio > 0) {
        json_object_set_new(object, "floor", json_real(floor_ratio));
        json_object_set_new(object, "pass", json_boolean(line->pass));
    }
    if (note != NULL) {
        json_object_set_new(object, "note", json_string(note));
    }
    emit_json(report, object);
}

void bench_check(struct bench_report *report, const char *name, double value, const char *unit,
                 const char *relation, double limit, bool pass)
{
    struct line *line = add_line(report);
    if (line == NULL) {
        return;
    }
    line->kind = LINE_CHECK;
    line->name = strdup(name);
    line->unit = strdup(unit);
    line->relation = strdup(relation);
    line->value = value;
    line->floor = limit;
    line->has_verdict = true;
    line->pass = pass;
    json_t *object = json_object();
    json_object_set_new(object, "name", json_string(name));
    json_object_set_new(object, "value", number(value));
    json_object_set_new(object, "unit", json_string(unit));
    json_object_set_new(object, "requirement", json_sprintf("%s %g %s", relation, limit, unit));
    json_object_set_new(object, "pass", json_boolean(pass));
    emit_json(report, object);
}

void bench_info(struct bench_report *report, const char *key, const char *value)
{
    struct line *line = add_line(report);
    if (line == NULL) {
        return;
    }
    line->kind = LINE_INFO;
    line->name = strdup(key);
    line->note = strdup(value);
    json_t *object = json_object();
    json_object_set_new(object, "name", json_string(key));
    json_object_set_new(object, "info", json_string(value));
    emit_json(report, object);
}

/* 1234567.8 -> "1,234,568"; small values keep decimals. */
static void format_value(double value, char *out, size_t size)
{
    if (!isfinite(value)) {
        snprintf(out, size, "-");
    } else if (fabs(value) >= 1000) {
        char digits[48];
        snprintf(digits, sizeof(digits), "%.0f", fabs(value));
        size_t len = strlen(digits), used = 0;
        if (value < 0) {
            out[used++] = '-';
        }
        for (size_t i = 0; i < len && used + 2 < size; i++) {
            if (i > 0 && (len - i) % 3 == 0) {
                out[used++] = ',';
            }
            out[used++] = digits[i];
        }
        out[used] = '\0';
    } else if (fabs(value) >= 100) {
        snprintf(out, size, "%.0f", value);
    } else if (fabs(value) >= 10) {
        snprintf(out, size, "%.1f", value);
    } else {
        snprintf(out, size, "%.2f", value);
    }
}

int bench_report_close(struct bench_report *report)
{
    int failed = 0;
    printf("\n");
    for (size_t i = 0; i < report->count; i++) {
        const struct line *l = &report->lines[i];
        if (l->kind == LINE_INFO) {
            printf("%-22s %s\n", l->name, l->note);
        }
    }
    printf("\n%-38s %14s %-9s %14s %8s  %s\n", "figure", "value", "unit", "baseline", "ratio",
           "baseline is / verdict");
    printf("%.*s\n", 120,
           "-------------------------------------------------------------------------------------"
           "-----------------------------------");
    for (size_t i = 0; i < report->count; i++) {
        const struct line *l = &report->lines[i];
        char value[32], baseline[32];
        format_value(l->value, value, sizeof(value));
        if (l->kind == LINE_FIGURE) {
            format_value(l->baseline, baseline, sizeof(baseline));
            char verdict[64] = "";
            if (l->has_verdict) {
                snprintf(verdict, sizeof(verdict), "  [%s: floor %.2f]", l->pass ? "PASS" : "FAIL",
                         l->floor);
                failed += !l->pass;
            }
            char ratio[16] = "-";
            if (isfinite(l->ratio)) {
                snprintf(ratio, sizeof(ratio), "%.3f", l->ratio);
            }
            printf("%-38s %14s %-9s %14s %8s  %s%s\n", l->name, value, l->unit,
                   l->baseline_name != NULL ? baseline : "", ratio,
                   l->baseline_name != NULL ? l->baseline_name : "(a baseline itself)", verdict);
        } else if (l->kind == LINE_CHECK) {
            printf("%-38s %14s %-9s %14s %8s  %s %g %s  [%s]\n", l->name, value, l->unit, "", "",
                   l->relation, l->floor, l->unit, l->pass ? "PASS" : "FAIL");
            failed += !l->pass;
        }
    }
    if (report->json_stdout) {
        printf("\n");
        size_t i;
        json_t *object;
        json_array_foreach(report->pending, i, object)
        {
            char *text =
                json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            if (text != NULL) {
                printf("%s\n", text);
                free(text);
            }
        }
    }
    if (report->json != NULL) {
        fclose(report->json);
    }
    for (size_t i = 0; i < report->count; i++) {
        free(report->lines[i].name);
        free(report->lines[i].unit);
        free(report->lines[i].baseline_name);
        free(report->lines[i].note);
        free(report->lines[i].relation);
    }
    free(report->lines);
    json_decref(report->pending);
    free(report);
    fflush(stdout);
    return failed;
}
