/*
 * test_person_name.c - the shared person-name parser (plugins/common/person_name.h): a
 * table of names from many languages and scripts with what each must give, then the
 * rules one at a time: what is removed, what full_name keeps, unreadable input, very long
 * input, the lead fields connectors set, and parsing from many threads at once.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "person_name.h"
#include "testutil.h"
#include "text_utf8.h"

#define P PERSON_NAME_PERSON
#define O PERSON_NAME_ORGANIZATION
#define U PERSON_NAME_UNKNOWN
#define E PERSON_NAME_EMPTY

struct name_case {
    const char *input;
    enum person_name_kind kind;
    const char *given;  /* NULL: must be NULL */
    const char *family; /* NULL: must be NULL */
    const char *reason;
};

static const struct name_case cases[] = {
    /* the cases */
    {"Dr. José María Gutiérrez", P, "José María", "Gutiérrez", "split"},
    {"Kowalski, Marek", P, "Marek", "Kowalski", "split"},
    {"株式会社テスト", O, NULL, NULL, "legal_form"},
    {"ООО «Ромашка»", O, NULL, NULL, "legal_form"},
    {"有限会社テスト", O, NULL, NULL, "legal_form"},
    /* two words: given + family */
    {"Priya Natarajan", P, "Priya", "Natarajan", "split"},
    {"Amélie Poulain", P, "Amélie", "Poulain", "split"},
    {"Søren Kierkegaard", P, "Søren", "Kierkegaard", "split"},
    {"Jean-Pierre Rampal", P, "Jean-Pierre", "Rampal", "split"},
    {"JOHN SMITH", P, "JOHN", "SMITH", "split"},
    {"john smith", P, "john", "smith", "split"},
    /* particles stay with the family name */
    {"Ana de la Cruz", P, "Ana", "de la Cruz", "split"},
    {"Ludwig van Beethoven", P, "Ludwig", "van Beethoven", "split"},
    {"Vincent Van Gogh", P, "Vincent", "Van Gogh", "split"},
    {"Leonardo da Vinci", P, "Leonardo", "da Vinci", "split"},
    {"Maria Anna von Trapp", P, "Maria Anna", "von Trapp", "split"},
    {"Mohammed bin Salman", P, "Mohammed", "bin Salman", "split"},
    {"Ahmed Al Mansouri", P, "Ahmed", "Al Mansouri", "split"},
    {"José Ortega y Gasset", P, "José", "Ortega y Gasset", "split"},
    {"de la Cruz", P, NULL, "de la Cruz", "family_only"},
    /* compound given names */
    {"Juan Carlos de la Fuente", P, "Juan Carlos", "de la Fuente", "split"},
    {"José Luis Rodríguez Zapatero", P, "José Luis", "Rodríguez Zapatero", "split"},
    {"María del Carmen García López", P, "María del Carmen", "García López", "split"},
    {"Ms. Mary Ann Smith", P, "Mary Ann", "Smith", "split"},
    {"Abdul Rahman Al-Saud", P, "Abdul Rahman", "Al-Saud", "split"},
    /* honorifics in many languages */
    {"Prof. Dr. med. Hans Müller", P, "Hans", "Müller", "split"},
    {"Herr Thomas Schmidt", P, "Thomas", "Schmidt", "split"},
    {"Frau Anna Weber", P, "Anna", "Weber", "split"},
    {"Sra. Lucía Fernández", P, "Lucía", "Fernández", "split"},
    {"M. Jean Dupont", P, "Jean", "Dupont", "split"},
    {"Mme Claire Martin", P, "Claire", "Martin", "split"},
    {"Sig.ra Maria Rossi", P, "Maria", "Rossi", "split"},
    {"Pani Anna Nowak", P, "Anna", "Nowak", "split"},
    {"г-н Иван Петров", P, "Иван", "Петров", "split"},
    {"κ. Γιώργος Παπαδόπουλος", P, "Γιώργος", "Παπαδόπουλος", "split"},
    {"श्री राहुल शर्मा", P, "राहुल", "शर्मा", "split"},
    {"מר דוד כהן", P, "דוד", "כהן", "split"},
    {"Mrs Smith", P, NULL, "Smith", "family_only"},
    {"Gutiérrez, Dr. José María", P, "José María", "Gutiérrez", "split"},
    /* suffixes */
    {"Smith, John, Jr.", P, "John", "Smith", "split"},
    {"John Smith, PhD, MBA", P, "John", "Smith", "split"},
    {"Henry Ford III", P, "Henry", "Ford", "split"},
    /* initials, capitals, nicknames, surrounding text */
    {"John F. Kennedy", P, "John", "Kennedy", "split"},
    {"J. R. R. Tolkien", P, NULL, "Tolkien", "family_only"},
    {"Kowalski M.", P, NULL, "Kowalski", "family_only"},
    {"Jean DUPONT", P, "Jean", "DUPONT", "split"},
    {"DUPONT Jean", P, "Jean", "DUPONT", "split"},
    {"Robert (Bob) Smith", P, "Robert", "Smith", "split"},
    {"John \"Johnny\" Smith", P, "John", "Smith", "split"},
    {"John Smith <john@example.com>", P, "John", "Smith", "split"},
    {"\"Ann Lee\"", P, "Ann", "Lee", "split"},
    {"O'Brien, Conor", P, "Conor", "O'Brien", "split"},
    {"A.G. Lafley", P, NULL, "Lafley", "family_only"},
    /* languages with their own order */
    {"Nguyễn Văn An", P, "An", "Nguyễn", "split"},
    {"Tran Thi Mai", P, "Mai", "Tran", "split"},
    {"Иванов Иван Иванович", P, "Иван", "Иванов", "split"},
    {"Иван Иванович Иванов", P, "Иван", "Иванов", "split"},
    {"Иван Петров", P, "Иван", "Петров", "split"},
    {"Петрова Анна", P, "Анна", "Петрова", "split"},
    {"Ирина Ильина", P, "Ирина", "Ильина", "split"},
    {"Γιώργος Παπαδόπουλος", P, "Γιώργος", "Παπαδόπουλος", "split"},
    {"محمد العلي", P, "محمد", "العلي", "split"},
    {"عبد الله الأحمد", P, "عبد الله", "الأحمد", "split"},
    {"דוד כהן", P, "דוד", "כהן", "split"},
    {"राहुल शर्मा", P, "राहुल", "शर्मा", "split"},
    {"สมชาย ใจดี", P, "สมชาย", "ใจดี", "split"},
    {"山田 太郎", P, "太郎", "山田", "split"},
    {"김 민준", P, "민준", "김", "split"},
    /* kept whole: not sure */
    {"Cher", P, NULL, NULL, "single_word"},
    {"Gabriel García Márquez", P, NULL, NULL, "ambiguous"},
    {"Martin Luther King Jr.", P, NULL, NULL, "ambiguous"},
    {"山田太郎", P, NULL, NULL, "cjk_unsegmented"},
    {"김민준", P, NULL, NULL, "cjk_unsegmented"},
    {"Иван Иванович", P, NULL, NULL, "ambiguous"},
    {"Taro 山田", P, NULL, NULL, "mixed_scripts"},
    {"சுந்தர் பிச்சை", P, NULL, NULL, "script_not_known"},
    {"A. B.", P, NULL, NULL, "initials"},
    /* organizations, in any script and position */
    {"Northwind Analytics Inc.", O, NULL, NULL, "legal_form"},
    {"Acme GmbH", O, NULL, NULL, "legal_form"},
    {"Acme LLC", O, NULL, NULL, "legal_form"},
    {"Acme Sp. z o.o.", O, NULL, NULL, "legal_form"},
    {"Empresa Ejemplo S.A. de C.V.", O, NULL, NULL, "legal_form"},
    {"Ejemplo S.L.", O, NULL, NULL, "legal_form"},
    {"Exemple SARL", O, NULL, NULL, "legal_form"},
    {"Voorbeeld B.V.", O, NULL, NULL, "legal_form"},
    {"Beispiel AG", O, NULL, NULL, "legal_form"},
    {"Volvo AB", O, NULL, NULL, "legal_form"},
    {"PT Maju Jaya", O, NULL, NULL, "legal_form"},
    {"Tata Consultancy Pvt. Ltd.", O, NULL, NULL, "legal_form"},
    {"Dupont et Fils", O, NULL, NULL, "legal_form"},
    {"Smith & Sons", O, NULL, NULL, "legal_form"},
    {"Meridian Holdings", O, NULL, NULL, "organization_word"},
    {"㈱テスト", O, NULL, NULL, "legal_form"},
    {"삼성전자 주식회사", O, NULL, NULL, "legal_form"},
    {"บริษัท ไทย จำกัด", O, NULL, NULL, "legal_form"},
    {"שטראוס בע\"מ", O, NULL, NULL, "legal_form"},
    {"شركة النور ذ.م.م", O, NULL, NULL, "legal_form"},
    {"Ελληνικά Τρόφιμα Α.Ε.", O, NULL, NULL, "legal_form"},
    {"АО «Газпром»", O, NULL, NULL, "legal_form"},
    /* not one person's name */
    {"john@example.com", U, NULL, NULL, "email"},
    {"Order 1234", U, NULL, NULL, "digits"},
    {"Mr. and Mrs. Smith", U, NULL, NULL, "several_people"},
    {"Tom & Jerry", U, NULL, NULL, "several_people"},
    {"Support Team", U, NULL, NULL, "role"},
    {"noreply", U, NULL, NULL, "role"},
    {"\xF0\x9F\x9A\x80 Rocket", U, NULL, NULL, "symbols"},
    {"Dr.", U, NULL, NULL, "no_name"},
    {"Jos\xE9 Garc\xED"
     "a",
     U, NULL, NULL, "invalid_utf8"},
    /* nothing */
    {"", E, NULL, NULL, "empty"},
    {"   \t\n ", E, NULL, NULL, "empty"},
    {"\xE2\x80\x8B", E, NULL, NULL, "empty"},
};

static void check_case(const struct name_case *c)
{
    struct person_name name;
    ck_assert_int_eq(person_name_parse(c->input, strlen(c->input), &name), 0);
    ck_assert_msg(name.kind == c->kind, "\"%s\": kind %s, expected %s (%s)", c->input,
                  person_name_kind_name(name.kind), person_name_kind_name(c->kind), name.reason);
    ck_assert_msg(strcmp(name.reason, c->reason) == 0, "\"%s\": reason %s, expected %s", c->input,
                  name.reason, c->reason);
    const char *got[] = {name.given_name, name.family_name};
    const char *expected[] = {c->given, c->family};
    const char *field[] = {"given", "family"};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(expected[i] == NULL ? got[i] == NULL
                                          : got[i] != NULL && strcmp(got[i], expected[i]) == 0,
                      "\"%s\": %s \"%s\", expected \"%s\"", c->input, field[i],
                      got[i] != NULL ? got[i] : "(null)",
                      expected[i] != NULL ? expected[i] : "(null)");
    }
    ck_assert_ptr_nonnull(name.full_name);
    ck_assert(text_utf8_valid(name.full_name, strlen(name.full_name)));
    ck_assert_msg((c->kind == E) == (name.full_name[0] == '\0'), "\"%s\": full_name \"%s\"",
                  c->input, name.full_name);
    person_name_clear(&name);
}

START_TEST(test_person_name_table_of_names_from_many_languages)
{
    ck_assert_uint_ge(sizeof(cases) / sizeof(cases[0]), 60);
    check_case(&cases[_i]);
}
END_TEST

static void parse(const char *text, struct person_name *name)
{
    ck_assert_int_eq(person_name_parse(text, strlen(text), name), 0);
}

START_TEST(test_person_name_reports_the_honorific_and_suffix_it_removed)
{
    struct person_name name;
    parse("Prof. Dr. med. Hans Müller", &name);
    ck_assert_str_eq(name.honorific, "Prof. Dr. med.");
    ck_assert_ptr_null(name.suffix);
    person_name_clear(&name);
    parse("John Smith, PhD, MBA", &name);
    ck_assert_ptr_null(name.honorific);
    ck_assert_str_eq(name.suffix, "PhD, MBA");
    person_name_clear(&name);
    /* Sr. is Señor in front and Senior at the end */
    parse("Sr. Juan Pérez", &name);
    ck_assert_str_eq(name.honorific, "Sr.");
    ck_assert_str_eq(name.given_name, "Juan");
    person_name_clear(&name);
    parse("Juan Pérez Sr.", &name);
    ck_assert_str_eq(name.suffix, "Sr.");
    ck_assert_str_eq(name.family_name, "Pérez");
    person_name_clear(&name);
}
END_TEST

START_TEST(test_person_name_ambiguous_honorifics_need_two_words_after_them)
{
    /* "Pan" is Mr. in Polish and a Chinese surname; "M." Monsieur or an initial */
    struct person_name name;
    parse("Pan Wei", &name);
    ck_assert_ptr_null(name.honorific);
    ck_assert_str_eq(name.given_name, "Pan");
    person_name_clear(&name);
    parse("Pan Jan Kowalski", &name);
    ck_assert_str_eq(name.honorific, "Pan");
    ck_assert_str_eq(name.given_name, "Jan");
    person_name_clear(&name);
    parse("M. Dupont", &name);
    ck_assert_ptr_null(name.honorific);
    ck_assert_ptr_null(name.given_name);
    ck_assert_str_eq(name.family_name, "Dupont");
    person_name_clear(&name);
}
END_TEST

START_TEST(test_person_name_short_legal_forms_need_capitals_or_dots_and_not_first)
{
    struct {
        const char *input;
        enum person_name_kind kind;
    } cases_short[] = {
        {"Beispiel AG", O}, {"Beispiel Ag", P},      {"AG Lafley", P},
        {"Meyer Co.", O},   {"Meyer Co", P},         {"Ejemplo S.A.", O},
        {"Ejemplo Sa", P},  {"Sa Ejemplo Perez", P}, {"CV Sinar", O},
    };
    for (size_t i = 0; i < sizeof(cases_short) / sizeof(cases_short[0]); i++) {
        struct person_name name;
        parse(cases_short[i].input, &name);
        ck_assert_msg(name.kind == cases_short[i].kind, "\"%s\": %s (%s)", cases_short[i].input,
                      person_name_kind_name(name.kind), name.reason);
        person_name_clear(&name);
    }
}
END_TEST

START_TEST(test_person_name_full_name_is_the_cleaned_input)
{
    struct {
        const char *input, *full;
    } cleaned[] = {
        {"  Ann \t  Lee \n", "Ann Lee"},
        {"\"Ann Lee\"", "Ann Lee"},
        {"«Ann Lee»", "Ann Lee"},
        {"'Ann Lee'", "Ann Lee"},
        {"Ann\xE2\x80\x8B Lee", "Ann Lee"}, /* zero-width space dropped */
        {"Ann\xC2\xA0Lee", "Ann Lee"},      /* no-break space is a space */
        {"Ann\x01Lee", "Ann Lee"},          /* a control character is a space */
        {"Ann Lee <ann@example.com>", "Ann Lee"},
        {"\"Ann Lee\" (ann@example.com)", "Ann Lee"},
        {"Dr. José María Gutiérrez", "Dr. José María Gutiérrez"},
        {"ООО «Ромашка»", "ООО «Ромашка»"},
        {"ann@example.com", "ann@example.com"},
        {"Jos\xE9", "Jos\xEF\xBF\xBD"}, /* U+FFFD for the Latin-1 byte */
    };
    for (size_t i = 0; i < sizeof(cleaned) / sizeof(cleaned[0]); i++) {
        struct person_name name;
        parse(cleaned[i].input, &name);
        ck_assert_msg(strcmp(name.full_name, cleaned[i].full) == 0, "\"%s\": full \"%s\"",
                      cleaned[i].input, name.full_name);
        person_name_clear(&name);
    }
}
END_TEST

START_TEST(test_person_name_invalid_utf8_is_never_passed_on)
{
    const char *inputs[] = {
        "\xC3",               /* truncated */
        "\xC0\xAF",           /* overlong '/' */
        "\xED\xA0\x80 Smith", /* a surrogate */
        "\xF4\x90\x80\x80",   /* past U+10FFFF */
        "Ann \x80\x80 Lee",   /* stray continuation bytes */
        "\xFF\xFE\xFD",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct person_name name;
        parse(inputs[i], &name);
        ck_assert_int_eq(name.kind, PERSON_NAME_UNKNOWN);
        ck_assert_str_eq(name.reason, "invalid_utf8");
        ck_assert(text_utf8_valid(name.full_name, strlen(name.full_name)));
        ck_assert_ptr_null(name.given_name);
        ck_assert_ptr_null(name.family_name);
        person_name_clear(&name);
    }
    /* embedded NUL: the length given counts, and NUL is no name character */
    struct person_name name;
    ck_assert_int_eq(person_name_parse("Ann\0Lee", 7, &name), 0);
    ck_assert_str_eq(name.full_name, "Ann Lee");
    person_name_clear(&name);
}
END_TEST

START_TEST(test_person_name_very_long_input_is_kept_whole)
{
    size_t words = 20000;
    char *text = malloc(words * 3 + 1);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < words; i++) {
        memcpy(text + i * 3, "Ab ", 3);
    }
    text[words * 3 - 1] = '\0';
    struct person_name name;
    ck_assert_int_eq(person_name_parse(text, strlen(text), &name), 0);
    ck_assert_int_eq(name.kind, PERSON_NAME_PERSON);
    ck_assert_str_eq(name.reason, "too_many_words");
    ck_assert_ptr_null(name.given_name);
    ck_assert_str_eq(name.full_name, text);
    person_name_clear(&name);
    /* one enormous word */
    memset(text, 'a', words * 3);
    text[words * 3] = '\0';
    ck_assert_int_eq(person_name_parse(text, strlen(text), &name), 0);
    ck_assert_str_eq(name.reason, "single_word");
    ck_assert_uint_eq(strlen(name.full_name), words * 3);
    person_name_clear(&name);
    /* deep brackets and quotes cost nothing */
    memset(text, '(', words * 3);
    ck_assert_int_eq(person_name_parse(text, strlen(text), &name), 0);
    ck_assert_ptr_null(name.given_name);
    person_name_clear(&name);
    free(text);
}
END_TEST

START_TEST(test_person_name_clear_accepts_a_cleared_or_zeroed_result)
{
    struct person_name name;
    memset(&name, 0, sizeof(name));
    person_name_clear(&name);
    ck_assert_str_eq(name.full_name, "");
    person_name_clear(&name);
    ck_assert_int_eq(name.kind, PERSON_NAME_EMPTY);
    /* NULL text with length 0 is an empty name */
    ck_assert_int_eq(person_name_parse(NULL, 0, &name), 0);
    ck_assert_int_eq(name.kind, PERSON_NAME_EMPTY);
    person_name_clear(&name);
}
END_TEST

/* --- the lead fields ------------------------------------------------------------------ */

static json_t *lead_of(const char *text)
{
    json_t *lead = json_object();
    ck_assert_int_ge(person_name_set_lead(lead, text, strlen(text), 1024), 0);
    return lead;
}

static void assert_lead(json_t *lead, const char *expected_json)
{
    json_t *expected = json_loads(expected_json, 0, NULL);
    ck_assert_ptr_nonnull(expected);
    char *got = json_dumps(lead, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(lead, expected), "lead %s, expected %s", got, expected_json);
    free(got);
    json_decref(expected);
    json_decref(lead);
}

START_TEST(test_person_name_set_lead_sets_what_it_is_sure_of)
{
    assert_lead(lead_of("Dr. José María Gutiérrez"),
                "{\"first_name\": \"José María\", \"last_name\": \"Gutiérrez\"}");
    assert_lead(lead_of("Kowalski, Marek"),
                "{\"first_name\": \"Marek\", \"last_name\": \"Kowalski\"}");
    assert_lead(lead_of("Gabriel García Márquez"),
                "{\"attributes\": {\"full_name\": \"Gabriel García Márquez\"}}");
    assert_lead(lead_of("Mrs Smith"),
                "{\"last_name\": \"Smith\", \"attributes\": {\"full_name\": \"Mrs Smith\"}}");
    assert_lead(lead_of("株式会社テスト"), "{\"company\": \"株式会社テスト\"}");
    assert_lead(lead_of("ООО «Ромашка»"), "{\"company\": \"ООО «Ромашка»\"}");
    assert_lead(lead_of("ann@example.com"), "{}");
    assert_lead(lead_of("Order 1234"), "{}");
    assert_lead(lead_of("  "), "{}");
}
END_TEST

START_TEST(test_person_name_set_lead_keeps_a_company_already_set_and_other_attributes)
{
    json_t *lead =
        json_pack("{s:s, s:{s:s}}", "company", "Acme Corp", "attributes", "tier", "gold");
    ck_assert_int_eq(person_name_set_lead(lead, "Northwind Inc.", 14, 1024), 0);
    ck_assert_int_eq(person_name_set_lead(lead, "Cher", 4, 1024), 1);
    assert_lead(lead, "{\"company\": \"Acme Corp\", \"attributes\": {\"tier\": \"gold\", "
                      "\"full_name\": \"Cher\"}}");
}
END_TEST

START_TEST(test_person_name_set_lead_leaves_out_what_is_too_long)
{
    /* a part too long for the field: not split, and the whole does not fit either */
    json_t *lead = json_object();
    ck_assert_int_eq(person_name_set_lead(lead, "Priya Natarajan", 15, 8), 0);
    ck_assert_uint_eq(json_object_size(json_object_get(lead, "attributes")), 0);
    ck_assert_ptr_null(json_object_get(lead, "first_name"));
    ck_assert_ptr_null(json_object_get(lead, "last_name"));
    json_decref(lead);
    /* the parts fit, the whole would not matter */
    lead = json_object();
    ck_assert_int_eq(person_name_set_lead(lead, "Ann Lee", 7, 3), 1);
    assert_lead(lead, "{\"first_name\": \"Ann\", \"last_name\": \"Lee\"}");
}
END_TEST

/* --- threads --------------------------------------------------------------------------- */

static void *parse_all(void *arg)
{
    long *mismatches = arg;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct person_name name;
            if (person_name_parse(cases[i].input, strlen(cases[i].input), &name) != 0) {
                (*mismatches)++;
                continue;
            }
            bool same = name.kind == cases[i].kind && strcmp(name.reason, cases[i].reason) == 0 &&
                        (cases[i].given == NULL ? name.given_name == NULL
                                                : name.given_name != NULL &&
                                                      strcmp(name.given_name, cases[i].given) == 0);
            *mismatches += !same;
            person_name_clear(&name);
        }
    }
    return NULL;
}

START_TEST(test_person_name_parses_from_many_threads_at_once)
{
    pthread_t threads[4];
    long mismatches[4] = {0};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&threads[i], NULL, parse_all, &mismatches[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(mismatches[i], 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("person_name");
    TCase *tc = tcase_create("person_name");
    tcase_add_loop_test(tc, test_person_name_table_of_names_from_many_languages, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_person_name_reports_the_honorific_and_suffix_it_removed);
    tcase_add_test(tc, test_person_name_ambiguous_honorifics_need_two_words_after_them);
    tcase_add_test(tc, test_person_name_short_legal_forms_need_capitals_or_dots_and_not_first);
    tcase_add_test(tc, test_person_name_full_name_is_the_cleaned_input);
    tcase_add_test(tc, test_person_name_invalid_utf8_is_never_passed_on);
    tcase_add_test(tc, test_person_name_very_long_input_is_kept_whole);
    tcase_add_test(tc, test_person_name_clear_accepts_a_cleared_or_zeroed_result);
    tcase_add_test(tc, test_person_name_set_lead_sets_what_it_is_sure_of);
    tcase_add_test(tc, test_person_name_set_lead_keeps_a_company_already_set_and_other_attributes);
    tcase_add_test(tc, test_person_name_set_lead_leaves_out_what_is_too_long);
    tcase_add_test(tc, test_person_name_parses_from_many_threads_at_once);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
