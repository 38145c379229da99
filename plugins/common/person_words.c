/*
 * person_words.c - the word lists of person_name.c (see person_words.h).
 *
 * Keys are written folded, without dots or apostrophes. Where a word is written with and
 * without diacritics in the wild (José/Jose), both keys are listed.
 */
#include "person_words.h"

#include <stdint.h>
#include <string.h>

#include "text_utf8.h"

#define COUNT(table) (sizeof(table) / sizeof((table)[0]))

static bool listed(const char *key, const char *const *table, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(key, table[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool dropped_in_key(uint32_t codepoint)
{
    switch (codepoint) {
    case '.':
    case '\'':
    case '"':
    case 0x2019: /* ’ */
    case 0x02BC: /* ʼ */
    case 0x05F3: /* Hebrew geresh */
    case 0x05F4: /* Hebrew gershayim */
        return true;
    default:
        return false;
    }
}

bool person_words_key(const char *word, size_t length, char key[PERSON_WORDS_KEY_MAX])
{
    size_t used = 0, p = 0;
    while (p < length) {
        int32_t codepoint = text_utf8_next(word, length, &p);
        if (codepoint < 0) {
            return false;
        }
        if (dropped_in_key((uint32_t)codepoint)) {
            continue;
        }
        char encoded[4];
        size_t n = text_utf8_encode(text_fold((uint32_t)codepoint), encoded);
        if (used + n >= PERSON_WORDS_KEY_MAX) {
            return false;
        }
        memcpy(key + used, encoded, n);
        used += n;
    }
    key[used] = '\0';
    return used > 0;
}

/* --- honorifics and suffixes ------------------------------------------------------------ */

static const char *const honorifics[] = {
    /* English */
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "sir",
    "dame",
    "lord",
    "lady",
    "rev",
    "revd",
    "reverend",
    "fr",
    "hon",
    "dr-ing",
    "dr-med",
    /* German, Austrian, Dutch, Scandinavian */
    "herr",
    "frau",
    "fräulein",
    "dipl-ing",
    "ing",
    "mag",
    "univ-prof",
    "dhr",
    "mevr",
    "mw",
    "fru",
    /* Romance */
    "sr",
    "sra",
    "srta",
    "sres",
    "doña",
    "dña",
    "mme",
    "mlle",
    "monsieur",
    "madame",
    "mademoiselle",
    "sig",
    "sigra",
    "signa",
    "signor",
    "signora",
    "signorina",
    "dott",
    "dottssa",
    "avv",
    "senhor",
    "senhora",
    /* Polish, Czech, Turkish */
    "pani",
    "bayan",
    "sayın",
    /* Russian, Greek */
    "г-н",
    "г-жа",
    "господин",
    "госпожа",
    "κος",
    "κα",
    "κυρία",
    "κύριος",
    /* Hindi */
    "shri",
    "shree",
    "smt",
    "श्री",
    "श्रीमती",
    "सुश्री",
    "डॉ",
    /* Arabic, Hebrew */
    "د",
    "السيد",
    "السيدة",
    "الدكتور",
    "מר",
    "גב",
    "דר",
    "פרופ",
    /* Thai, written apart from the name */
    "คุณ",
    "นาย",
    "นาง",
    "นางสาว",
    "ดร",
};

static const char *const honorific_continuations[] = {
    "med",  "hc",  "mult", "rer", "nat", "phil", "jur",   "habil",
    "dent", "vet", "oec",  "pol", "ing", "sc",   "techn",
};

static const char *const suffixes[] = {
    "jr",    "junior", "sr",   "senior", "ii",  "iii",  "iv",   "phd", "md",  "mba",
    "esq",   "cpa",    "dds",  "dmd",    "dvm", "jd",   "llm",  "msc", "bsc", "mphil",
    "dphil", "mph",    "rn",   "cfa",    "pmp", "obe",  "mbe",  "cbe", "kbe", "frcs",
    "frcp",  "mrcp",   "facs", "qc",     "kc",  "ceng", "peng", "ret",
};

/* Honorifics that are also names or initials ("M." Monsieur or Michael, "Pan" Mr. or the
 * Chinese surname, Greek "Κ." Mr. or an initial): honorifics only before two more words. */
static const char *const ambiguous_honorifics[] = {"m", "pan", "bay", "κ"};

bool person_words_honorific(const char *key, size_t words_after)
{
    return listed(key, honorifics, COUNT(honorifics)) ||
           (words_after >= 2 && listed(key, ambiguous_honorifics, COUNT(ambiguous_honorifics)));
}

bool person_words_honorific_continuation(const char *key)
{
    return listed(key, honorific_continuations, COUNT(honorific_continuations));
}

bool person_words_suffix(const char *key)
{
    return listed(key, suffixes, COUNT(suffixes));
}

/* --- particles ------------------------------------------------------------------------- */

/* Particles in any case. */
static const char *const particles[] = {
    "van",   "von", "de",  "da",  "das", "dos", "del",  "della", "delle", "dei",
    "degli", "di",  "du",  "des", "der", "den", "ter",  "ten",   "la",    "le",
    "lo",    "zu",  "al",  "el",  "bin", "ibn", "bint", "binti", "st",    "dello",
    "dalla", "dal", "vom", "vd",  "بن",  "ابن", "بنت",  "آل",    "בן",    "בת",
};
/* Particles only when written in lower case: capitalized they are names of their own
 * ("Ben", "Do", "Te"). */
static const char *const lowercase_particles[] = {
    "do", "te", "zum", "zur", "af", "av", "ben", "bat", "ó", "ní", "nic", "mac",
};

bool person_words_particle(const char *key, bool capitalized)
{
    return listed(key, particles, COUNT(particles)) ||
           (!capitalized && listed(key, lowercase_particles, COUNT(lowercase_particles)));
}

bool person_words_surname_conjunction(const char *key)
{
    return strcmp(key, "y") == 0 || strcmp(key, "e") == 0 || strcmp(key, "i") == 0;
}

bool person_words_people_conjunction(const char *key)
{
    static const char *const words[] = {"and", "und", "et", "&", "+", "en", "och", "og", "и"};
    return listed(key, words, COUNT(words));
}

/* --- organizations ---------------------------------------------------------------------- */

static const char *const legal_forms[] = {
    /* English-speaking */
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "plc",
    "llp",
    "company",
    "pty",
    "pvt",
    "pte",
    "lllp",
    /* German-speaking */
    "gmbh",
    "ggmbh",
    "mbh",
    "kgaa",
    "ohg",
    "gbr",
    /* French, Belgian, Italian, Spanish, Portuguese, Latin America */
    "sarl",
    "sasu",
    "eurl",
    "sprl",
    "bvba",
    "srl",
    "spa",
    "sapa",
    "slu",
    "ltda",
    "lda",
    "eireli",
    "limitada",
    "sociedad",
    "sas",
    "scs",
    "sca",
    "s/a",
    /* Nordic, Baltic, Central and Eastern Europe */
    "oyj",
    "aps",
    "asa",
    "ehf",
    "a/s",
    "kft",
    "zrt",
    "nyrt",
    "doo",
    "sro",
    "spzoo",
    "aş",
    "şti",
    "ooo",
    "uab",
    "sia",
    /* Southeast Asia */
    "bhd",
    "sdn",
    "tbk",
    "tnhh",
    /* Cyrillic */
    "ооо",
    "оао",
    "зао",
    "пао",
    "нко",
    "тов",
    "пат",
    "прат",
    "еоод",
    "оод",
    "доо",
    "ао",
    /* Greek, Hebrew, Arabic, Devanagari */
    "αε",
    "επε",
    "οε",
    "ικε",
    "εε",
    "בעמ",
    "شمم",
    "ذمم",
    "شمع",
    "شمل",
    "شركة",
    "مؤسسة",
    "लिमिटेड",
    "प्राइवेट",
};
/* Short forms that are also initials or name words: counted only when written in capitals
 * or with dots ("AG", "S.A.", "Co."), and not as the first word ("A.G. Lafley"). */
static const char *const short_legal_forms[] = {
    "ag", "sa", "sc", "sci", "snc", "nv", "bv", "kk", "kg", "gk", "yk", "se",  "sl",
    "ab", "as", "oy", "ev",  "ug",  "lp", "bt", "dd", "ad", "co", "sp", "spk", "spj",
};
/* Short forms that stand first: "PT Maju Jaya", "CV Sinar", "АО «Газпром»", "ИП Иванов". */
static const char *const prefix_legal_forms[] = {"pt", "cv", "ип"};

enum person_words_legal person_words_legal_form(const char *key)
{
    if (listed(key, legal_forms, COUNT(legal_forms))) {
        return PERSON_WORDS_LEGAL;
    }
    if (listed(key, short_legal_forms, COUNT(short_legal_forms))) {
        return PERSON_WORDS_LEGAL_SHORT;
    }
    if (listed(key, prefix_legal_forms, COUNT(prefix_legal_forms))) {
        return PERSON_WORDS_LEGAL_PREFIX;
    }
    return PERSON_WORDS_NOT_LEGAL;
}

bool person_words_legal_form_words(const char *joined_key)
{
    static const char *const forms[] = {
        "spzoo",  "spk",    "spj",    "sadecv", "sderl",  "sdnbhd", "pvtltd",
        "ptyltd", "pteltd", "ltdşti", "ltdsti", "côngty", "congty", "sapi",
    };
    return listed(joined_key, forms, COUNT(forms));
}

static const char *const organization_words[] = {
    "group",       "gruppe",       "groupe",     "grupo",       "gruppo",      "holding",
    "holdings",    "foundation",   "stiftung",   "fondation",   "fundación",   "fundação",
    "association", "verein",       "agency",     "agentur",     "solutions",   "studios",
    "studio",      "technologies", "technology", "software",    "systems",     "consulting",
    "consultants", "partners",     "ventures",   "capital",     "labs",        "laboratories",
    "university",  "universität",  "université", "universidad", "università",  "institute",
    "institut",    "instituto",    "college",    "academy",     "hospital",    "clinic",
    "bank",        "insurance",    "services",   "industries",  "enterprises", "trading",
    "logistics",   "société",      "societe",    "sociedade",   "società",     "компания",
    "группа",      "холдинг",      "фонд",       "университет", "εταιρεία",
};

bool person_words_organization(const char *key)
{
    return listed(key, organization_words, COUNT(organization_words));
}

bool person_words_firm_successor(const char *key)
{
    static const char *const words[] = {
        "sons",     "son",  "co",      "company",   "partners", "associates", "söhne",
        "sohn",     "fils", "cie",     "hijos",     "figli",    "zonen",      "zoon",
        "brothers", "bros", "sisters", "daughters", "partner",  "friends",
    };
    return listed(key, words, COUNT(words));
}

bool person_words_role(const char *key)
{
    static const char *const words[] = {
        "support",
        "team",
        "info",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
        "notifications",
        "notification",
        "newsletter",
        "admin",
        "administrator",
        "office",
        "billing",
        "accounts",
        "accounting",
        "sales",
        "hr",
        "jobs",
        "careers",
        "recruiting",
        "recruitment",
        "helpdesk",
        "help",
        "service",
        "customer",
        "reception",
        "webmaster",
        "alerts",
        "updates",
        "digest",
        "reply",
        "hello",
        "contact",
        "marketing",
        "press",
        "bot",
        "system",
        "robot",
        "mailer",
        "daemon",
        "invoices",
        "invoice",
        "orders",
        "security",
        "unknown",
        "undisclosed-recipients",
    };
    return listed(key, words, COUNT(words));
}

/* --- given names ------------------------------------------------------------------------ */

static const char *const compound_given[][2] = {
    /* Spanish */
    {"josé", "maría"},
    {"jose", "maria"},
    {"maría", "josé"},
    {"maria", "jose"},
    {"josé", "luis"},
    {"jose", "luis"},
    {"josé", "antonio"},
    {"jose", "antonio"},
    {"josé", "manuel"},
    {"jose", "manuel"},
    {"josé", "carlos"},
    {"jose", "carlos"},
    {"josé", "miguel"},
    {"jose", "miguel"},
    {"josé", "ignacio"},
    {"jose", "ignacio"},
    {"josé", "ramón"},
    {"jose", "ramon"},
    {"josé", "ángel"},
    {"jose", "angel"},
    {"juan", "carlos"},
    {"juan", "pablo"},
    {"juan", "manuel"},
    {"juan", "antonio"},
    {"juan", "josé"},
    {"juan", "jose"},
    {"juan", "luis"},
    {"juan", "ignacio"},
    {"juan", "martín"},
    {"juan", "martin"},
    {"luis", "miguel"},
    {"luis", "fernando"},
    {"luis", "alberto"},
    {"miguel", "ángel"},
    {"miguel", "angel"},
    {"maría", "teresa"},
    {"maria", "teresa"},
    {"maría", "elena"},
    {"maria", "elena"},
    {"maría", "isabel"},
    {"maria", "isabel"},
    {"maría", "luisa"},
    {"maria", "luisa"},
    {"maría", "carmen"},
    {"maria", "carmen"},
    {"maría", "pilar"},
    {"maría", "dolores"},
    {"maría", "jesús"},
    {"maría", "fernanda"},
    {"maria", "fernanda"},
    {"maría", "paula"},
    {"ana", "maría"},
    {"ana", "maria"},
    {"ana", "isabel"},
    {"ana", "belén"},
    {"ana", "lucía"},
    {"ana", "sofía"},
    {"ana", "paula"},
    {"ana", "clara"},
    {"ana", "luiza"},
    {"ana", "carolina"},
    {"rosa", "maría"},
    {"luz", "maría"},
    /* French */
    {"jean", "pierre"},
    {"jean", "paul"},
    {"jean", "luc"},
    {"jean", "claude"},
    {"jean", "marc"},
    {"jean", "françois"},
    {"jean", "francois"},
    {"jean", "baptiste"},
    {"jean", "louis"},
    {"jean", "michel"},
    {"jean", "philippe"},
    {"jean", "jacques"},
    {"jean", "marie"},
    {"marie", "claire"},
    {"marie", "france"},
    {"marie", "louise"},
    {"marie", "anne"},
    {"marie", "christine"},
    {"marie", "hélène"},
    {"marie", "laure"},
    {"marie", "pierre"},
    {"anne", "marie"},
    {"anne", "sophie"},
    {"anne", "laure"},
    {"anne", "claire"},
    {"pierre", "yves"},
    {"pierre", "louis"},
    {"paul", "henri"},
    /* Italian */
    {"gian", "luca"},
    {"gian", "carlo"},
    {"gian", "marco"},
    {"gian", "paolo"},
    {"pier", "paolo"},
    {"pier", "luigi"},
    {"anna", "maria"},
    {"maria", "grazia"},
    {"maria", "rosa"},
    /* Portuguese */
    {"joão", "pedro"},
    {"joao", "pedro"},
    {"joão", "paulo"},
    {"joao", "paulo"},
    {"joão", "vitor"},
    {"joão", "victor"},
    {"joão", "gabriel"},
    {"maria", "eduarda"},
    {"maria", "clara"},
    {"maria", "luiza"},
    {"luiz", "fernando"},
    {"luiz", "carlos"},
    {"carlos", "eduardo"},
    {"carlos", "alberto"},
    {"paulo", "roberto"},
    {"luis", "felipe"},
    {"luiz", "felipe"},
    /* German */
    {"hans", "peter"},
    {"hans", "jürgen"},
    {"hans", "joachim"},
    {"karl", "heinz"},
    {"klaus", "dieter"},
    /* English */
    {"mary", "ann"},
    {"mary", "anne"},
    {"mary", "jane"},
    {"mary", "beth"},
    {"mary", "kate"},
    {"mary", "ellen"},
    {"mary", "lou"},
    {"anna", "marie"},
    {"sarah", "jane"},
    {"john", "paul"},
    {"jo", "ann"},
    {"lee", "ann"},
    {"ann", "marie"},
    {"rose", "marie"},
    {"billy", "bob"},
    {"billie", "jean"},
};

bool person_words_compound_given(const char *first, const char *second)
{
    for (size_t i = 0; i < COUNT(compound_given); i++) {
        if (strcmp(first, compound_given[i][0]) == 0 && strcmp(second, compound_given[i][1]) == 0) {
            return true;
        }
    }
    return false;
}

bool person_words_given_prefix(const char *key)
{
    static const char *const words[] = {
        "abdul", "abdel", "abd", "abdol", "abdal", "abu", "abou", "عبد", "أبو", "ابو",
    };
    return listed(key, words, COUNT(words));
}

bool person_words_given_before_particle(const char *key)
{
    static const char *const words[] = {"maría", "maria", "josé", "jose", "ma"};
    return listed(key, words, COUNT(words));
}

/* --- particular languages ------------------------------------------------------------ */

bool person_words_vietnamese_family(const char *key)
{
    static const char *const words[] = {
        "nguyễn", "nguyen", "trần",   "tran", "lê",   "le",    "phạm",  "pham",  "hoàng", "hoang",
        "huỳnh",  "huynh",  "phan",   "vũ",   "vu",   "võ",    "vo",    "đặng",  "dang",  "bùi",
        "bui",    "đỗ",     "do",     "hồ",   "ho",   "ngô",   "ngo",   "dương", "duong", "lý",
        "ly",     "trương", "truong", "đinh", "dinh", "lương", "luong", "trịnh", "trinh",
    };
    return listed(key, words, COUNT(words));
}

bool person_words_vietnamese_middle(const char *key)
{
    return strcmp(key, "văn") == 0 || strcmp(key, "van") == 0 || strcmp(key, "thị") == 0 ||
           strcmp(key, "thi") == 0;
}

static bool ends_with(const char *key, const char *ending)
{
    size_t length = strlen(key), ending_length = strlen(ending);
    /* the ending must leave a stem: "Ов" is no surname */
    return length > ending_length + 2 && strcmp(key + length - ending_length, ending) == 0;
}

bool person_words_slavic_surname(const char *key)
{
    static const char *const endings[] = {
        "ов", "ев", "ёв",  "ин",  "ын",  "ский", "цкий", "ской", "енко",
        "ук", "юк", "ова", "ева", "ёва", "ина",  "ына",  "ская", "цкая",
    };
    /* given names with a surname's ending */
    static const char *const given[] = {
        "ирина",    "марина",    "алина",      "галина",   "екатерина", "полина",
        "кристина", "валентина", "антонина",   "нина",     "карина",    "регина",
        "зарина",   "ангелина",  "константин", "валентин", "вениамин",  "марлен",
    };
    if (listed(key, given, COUNT(given))) {
        return false;
    }
    for (size_t i = 0; i < COUNT(endings); i++) {
        if (ends_with(key, endings[i])) {
            return true;
        }
    }
    return false;
}

bool person_words_slavic_patronymic(const char *key)
{
    static const char *const endings[] = {"ович", "евич", "ич", "овна", "евна", "ична", "инична"};
    for (size_t i = 0; i < COUNT(endings); i++) {
        if (ends_with(key, endings[i])) {
            return true;
        }
    }
    return false;
}

/* --- CJK and Thai ---------------------------------------------------------------------- */

const char *const person_words_org_substrings[] = {
    "株式会社", "有限会社", "合同会社", "合資会社", "合名会社", "一般社団法人", "公益財団法人",
    "有限公司", "股份公司", "公司",     "集团",     "集團",     "㈱",           "㈲",
    "(株)",     "（株）",   "(有)",     "（有）",   "주식회사", "유한회사",     "㈜",
    "(주)",     "（주）",   "บริษัท",     "จำกัด",     "ห้างหุ้นส่วน", NULL,
};

const char *const person_words_cjk_honorifics[] = {
    "様", "さま", "さん", "殿", "先生", "女士", "小姐", "선생님", "님", "씨", NULL,
};
