/*
 * loader.c - finds plugins on the plugin path, dlopen()s them and checks their descriptors
 * (see loader.h).
 *
 * Every check reads no more of the descriptor than the checks before it have shown to be
 * there: the 8-byte header (magic, ABI major, minor) first, struct_size only for our major,
 * the rest only once struct_size covers it. No plugin callback is ever called here; the
 * only plugin code that runs is the entry function (and the object's constructors, which
 * dlopen() runs and nothing can prevent).
 *
 * The loader logs nothing: refusals are recorded in the registry, and callers print or log
 * them.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "loader.h"
#include "oauth_provider.h"
#include "sdk_abi.h"
#include "util.h"

/*
 * The smallest descriptor a plugin of each minor of ABI LH_ABI_MAJOR may declare: the size
 * of lh_plugin_t as that minor defined it. A new minor appends fields at the end of
 * lh_plugin_t and its size here, so that older plugins (with their smaller struct_size)
 * stay loadable. Written as "end of the last field of that minor" rather than sizeof(),
 * which grows with each minor.
 */
static const uint32_t descriptor_size_by_minor[] = {
    SDK_DESCRIPTOR_SIZE_2_0, /* 2.0: everything up to and including score */
    SDK_DESCRIPTOR_SIZE_2_0, /* 2.1: host->jwt_verify and paced polls; the descriptor is 2.0's */
};

/* Fields in a schema, and names in a header list, beyond which a table is taken to lack
 * its terminator. */
#define SCHEMA_FIELDS_MAX     256
#define SIGNATURE_HEADERS_MAX 16
_Static_assert(UTIL_ARRAY_LEN(descriptor_size_by_minor) == LH_ABI_MINOR + 1,
               "descriptor_size_by_minor needs one entry per ABI minor up to LH_ABI_MINOR");

/* The first 8 bytes of every descriptor, of any ABI: all we may read before the major is
 * known to be ours. */
struct descriptor_header {
    uint32_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
};
_Static_assert(offsetof(lh_plugin_t, magic) == 0 && offsetof(lh_plugin_t, abi_major) == 4 &&
                   offsetof(lh_plugin_t, abi_minor) == 6 && offsetof(lh_plugin_t, struct_size) == 8,
               "the descriptor header may never move");

#define KNOWN_KINDS (LH_KIND_SOURCE | LH_KIND_SINK | LH_KIND_SCORER)
#define KNOWN_FLAGS                                                                                \
    (LH_PLUGIN_REENTRANT | LH_PLUGIN_ORDERED | LH_PLUGIN_WEBHOOK_GET | LH_PLUGIN_WEBHOOK_CONCURRENT)

/* Plugin-supplied text is shown in diagnostics at most this long. */
#define SHOWN_TEXT_MAX 64

#define HINT_NOT_LOADABLE_FMT                                                                      \
    "check it with `ldd %s` and `file %s`: it must be a shared object built for this "             \
    "machine, with its libraries installed"
static const char hint_declare[] = "declare the plugin with LH_PLUGIN_DECLARE(descriptor)";
static const char hint_header[] =
    "start the descriptor with LH_PLUGIN_HEADER (`static const lh_plugin_t descriptor = { "
    "LH_PLUGIN_HEADER, ... }`) and build against leadhub.h";

/* One file being checked. */
struct load_attempt {
    struct plugin_registry *reg;
    const char *path;
    void *handle;
    const char *name;          /* the descriptor's name once it is known to be valid, else NULL */
    lh_config_field_t *schema; /* the normalized schema once read (owned until added) */
    lh_oauth_provider_t *oauth_provider; /* its copy, once read (owned until added) */
};

/* The file's base name without ".so": the refusal's name until the descriptor gives one. */
static char *file_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0) {
        len -= 3;
    }
    return strndup(base, len);
}

/*
 * Records a refusal of at->path. message_fmt formats the message; detail and hint may be
 * NULL. Returns -1 so that callers can `return refuse(...)`. Out of memory, the refusal may
 * go unrecorded: the file is refused all the same.
 */
__attribute__((format(printf, 4, 5))) static int
refuse(struct load_attempt *at, const char *detail, const char *hint, const char *message_fmt, ...)
{
    struct plugin_registry *reg = at->reg;
    struct plugin_refusal *refused =
        realloc(reg->refused, (reg->refused_count + 1) * sizeof(*refused));
    if (refused == NULL) {
        return -1;
    }
    reg->refused = refused;

    struct strbuf message = {0};
    va_list args;
    va_start(args, message_fmt);
    strbuf_appendv(&message, message_fmt, args);
    va_end(args);

    struct plugin_refusal r = {
        .path = strdup(at->path),
        .name = at->name != NULL ? strdup(at->name) : file_stem(at->path),
        .diag =
            {
                .severity = DIAG_ERROR,
                .file = strdup(at->path),
                .message = strbuf_take(&message),
                .detail = detail != NULL ? strdup(detail) : NULL,
                .hint = hint != NULL ? strdup(hint) : NULL,
            },
    };
    if (r.path == NULL || r.name == NULL || r.diag.file == NULL || r.diag.message == NULL) {
        free(r.path);
        free(r.name);
        free(r.diag.file);
        free(r.diag.message);
        free(r.diag.detail);
        free(r.diag.hint);
        return -1;
    }
    reg->refused[reg->refused_count++] = r;
    return -1;
}

/* Plugin-supplied text made fit for a diagnostic: bounded, printable, valid UTF-8.
 * Returns a malloc'd string or NULL when out of memory. */
static char *shown_text(const char *text)
{
    char *copy = strndup(text, SHOWN_TEXT_MAX);
    if (copy == NULL) {
        return NULL;
    }
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    util_utf8_sanitize(copy);
    if (strlen(text) > SHOWN_TEXT_MAX) {
        char *longer = util_printf("%s...", copy);
        free(copy);
        copy = longer;
    }
    return copy;
}

/* The link map of the object that contains addr, or NULL when no loaded object does. */
static struct link_map *object_containing(const void *addr)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) == 0) {
        return NULL;
    }
    return map;
}

/* True when [addr, addr + len) lies in the plugin's own object (not a library it uses,
 * not the heap, not a wild pointer). A cheap guard, not a proof: it catches the plugin
 * bugs that would otherwise crash the daemon on the first read. */
static bool in_plugin_object(const struct load_attempt *at, const void *addr, size_t len)
{
    struct link_map *own = NULL;
    if (dlinfo(at->handle, RTLD_DI_LINKMAP, &own) != 0 || own == NULL) {
        return false;
    }
    const char *first = addr;
    return object_containing(first) == own && object_containing(first + len - 1) == own;
}

/* Looks the entry function up and checks it is a function of the plugin itself.
 * Returns it, or NULL after recording a refusal. */
static lh_entry_fn find_entry(struct load_attempt *at)
{
    dlerror();
    void *symbol = dlsym(at->handle, LH_ENTRY_SYMBOL);
    if (symbol == NULL) {
        /* dlerror() would only repeat the path and the symbol's name */
        refuse(at,
               "it does not export the function " LH_ENTRY_SYMBOL " (LH_ENTRY_SYMBOL in leadhub.h)",
               hint_declare, "plugin %s has no entry point", at->path);
        return NULL;
    }

    struct link_map *own = NULL;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dlinfo(at->handle, RTLD_DI_LINKMAP, &own) != 0 ||
        dladdr1(symbol, &info, (void **)&sym, RTLD_DL_SYMENT) == 0) {
        refuse(at, "the dynamic linker cannot tell where " LH_ENTRY_SYMBOL " is defined",
               hint_declare, "plugin %s has no usable entry point", at->path);
        return NULL;
    }
    struct link_map *defining = object_containing(symbol);
    if (defining != own) {
        char *detail = util_printf(LH_ENTRY_SYMBOL " comes from %s, a library it links "
                                                   "against, not from the plugin itself",
                                   defining != NULL && defining->l_name != NULL ? defining->l_name
                                                                                : info.dli_fname);
        refuse(at, detail,
               "declare the plugin with LH_PLUGIN_DECLARE(descriptor) in the plugin's own "
               "code, and do not link one plugin against another",
               "plugin %s has no entry point of its own", at->path);
        free(detail);
        return NULL;
    }
    if (sym != NULL && ELF64_ST_TYPE(sym->st_info) != STT_FUNC) {
        refuse(at,
               LH_ENTRY_SYMBOL " is a data symbol; the host can only rely on dlsym() for "
                               "functions, and calls it",
               hint_declare, "plugin %s has an entry point that is not a function", at->path);
        return NULL;
    }

    /* POSIX guarantees that a function's address round-trips through void *. */
    lh_entry_fn entry;
    memcpy(&entry, &symbol, sizeof(entry));
    return entry;
}

/* The ABI checks: magic, major, minor, struct_size, and that the whole descriptor of the
 * plugin's minor lies in the plugin. Returns 0, or -1 after recording a refusal. */
static int check_abi(struct load_attempt *at, const lh_plugin_t *desc)
{
    static const char invalid_pointer_hint[] =
        "return the address of a static const lh_plugin_t: LH_PLUGIN_DECLARE(descriptor)";
    if (!in_plugin_object(at, desc, sizeof(struct descriptor_header))) {
        return refuse(at,
                      LH_ENTRY_SYMBOL "() returned a pointer that is not in the plugin's "
                                      "own object",
                      invalid_pointer_hint, "plugin %s returned an invalid descriptor", at->path);
    }
    struct descriptor_header header;
    memcpy(&header, desc, sizeof(header));

    if (header.magic != LH_PLUGIN_MAGIC) {
        char detail[128];
        snprintf(detail, sizeof(detail), "expected magic 0x%08x (LH_PLUGIN_MAGIC), found 0x%08x",
                 LH_PLUGIN_MAGIC, (unsigned)header.magic);
        return refuse(at, detail, hint_header, "plugin %s has a bad magic number", at->path);
    }
    if (header.abi_major != LH_ABI_MAJOR) {
        /* Report only the major: past abi_minor, another major's layout may differ. */
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "built for plugin ABI %u.x; this leadhubd supports ABI %d.x",
                 (unsigned)header.abi_major, LH_ABI_MAJOR);
        char hint[256];
        if (header.abi_major < LH_ABI_MAJOR) {
            snprintf(hint, sizeof(hint),
                     "port the plugin to leadhub.h %d.%d (docs/sdk.md, \"Porting a plugin from "
                     "ABI 1\": every struct now starts with its size) and rebuild it",
                     LH_ABI_MAJOR, LH_ABI_MINOR);
        } else {
            snprintf(hint, sizeof(hint),
                     "upgrade leadhub, or rebuild the plugin against this leadhub's SDK "
                     "(leadhub.h of ABI %d.%d, see `pkg-config --cflags leadhub-sdk`)",
                     LH_ABI_MAJOR, LH_ABI_MINOR);
        }
        return refuse(at, detail, hint, "plugin %s was built for an incompatible plugin ABI",
                      at->path);
    }
    if (header.abi_minor > LH_ABI_MINOR) {
        char detail[128];
        snprintf(detail, sizeof(detail), "needs plugin ABI %d.%u; this leadhubd supports %d.%d",
                 LH_ABI_MAJOR, (unsigned)header.abi_minor, LH_ABI_MAJOR, LH_ABI_MINOR);
        return refuse(at, detail, "upgrade leadhub, or build the plugin against an older SDK",
                      "plugin %s needs a newer leadhubd", at->path);
    }

    if (!in_plugin_object(at, desc, offsetof(lh_plugin_t, struct_size) + sizeof(uint32_t))) {
        return refuse(at, "the descriptor ends before its struct_size field", invalid_pointer_hint,
                      "plugin %s returned an invalid descriptor", at->path);
    }
    uint32_t struct_size;
    memcpy(&struct_size, (const char *)desc + offsetof(lh_plugin_t, struct_size),
           sizeof(struct_size));
    uint32_t needed = descriptor_size_by_minor[header.abi_minor];
    if (struct_size < needed) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "struct_size is %u bytes; a descriptor of plugin ABI %d.%u has at least %u",
                 (unsigned)struct_size, LH_ABI_MAJOR, (unsigned)header.abi_minor, (unsigned)needed);
        return refuse(at, detail,
                      "fill the descriptor with LH_PLUGIN_HEADER, which sets struct_size to "
                      "sizeof(lh_plugin_t), and rebuild",
                      "plugin %s has a truncated descriptor", at->path);
    }
    /* From here on desc is read as an lh_plugin_t of up to struct_size bytes: the normalized
     * copy (load_descriptor) reads no further. */
    size_t readable = struct_size < sizeof(lh_plugin_t) ? struct_size : sizeof(lh_plugin_t);
    if ((uintptr_t)desc % alignof(lh_plugin_t) != 0 || !in_plugin_object(at, desc, readable)) {
        return refuse(at, "the descriptor is misaligned, or extends past the plugin's own object",
                      invalid_pointer_hint, "plugin %s returned an invalid descriptor", at->path);
    }
    return 0;
}

/* name, version, description. Sets at->name when the name is valid. */
static int check_identity(struct load_attempt *at, const lh_plugin_t *desc)
{
    if (desc->name == NULL || desc->name[0] == '\0') {
        return refuse(at, "the descriptor's name is NULL or empty",
                      "set .name to the plugin's name: lowercase letters, digits and "
                      "underscores, starting with a letter (e.g. \"hubspot\")",
                      "plugin %s has no name", at->path);
    }
    if (!util_identifier_valid(desc->name)) {
        char *shown = shown_text(desc->name);
        char *detail = util_printf("name \"%s\" does not match [a-z][a-z0-9_]* (at most 63 "
                                   "characters)",
                                   shown != NULL ? shown : "?");
        int rc = refuse(at, detail,
                        "name the plugin with lowercase letters, digits and underscores, "
                        "starting with a letter (e.g. \"hubspot\", \"gmail_v2\")",
                        "plugin %s has an invalid name", at->path);
        free(detail);
        free(shown);
        return rc;
    }
    at->name = desc->name;

    bool no_version = desc->version == NULL || desc->version[0] == '\0';
    bool no_description = desc->description == NULL || desc->description[0] == '\0';
    if (no_version || no_description) {
        char detail[96];
        snprintf(detail, sizeof(detail), "missing: %s%s%s", no_version ? "version" : "",
                 no_version && no_description ? ", " : "", no_description ? "description" : "");
        return refuse(at, detail,
                      "set .version (the plugin's own version, e.g. \"1.0.0\") and "
                      ".description (one line saying what it connects)",
                      "plugin %s has an incomplete descriptor", at->path);
    }
    return 0;
}

/* kind and flags. */
static int check_kind(struct load_attempt *at, const lh_plugin_t *desc)
{
    static const char kind_hint[] =
        "set .kind to LH_KIND_SOURCE, LH_KIND_SINK, LH_KIND_SOURCE | LH_KIND_SINK, or "
        "LH_KIND_SCORER";
    char detail[160];
    if (desc->kind == 0) {
        return refuse(at, "kind is 0: the plugin says it provides nothing", kind_hint,
                      "plugin %s has an invalid kind", at->path);
    }
    if ((desc->kind & ~(uint32_t)KNOWN_KINDS) != 0) {
        snprintf(detail, sizeof(detail), "kind 0x%x has unknown bits 0x%x", (unsigned)desc->kind,
                 (unsigned)(desc->kind & ~(uint32_t)KNOWN_KINDS));
        return refuse(at, detail, kind_hint, "plugin %s has an invalid kind", at->path);
    }
    if ((desc->kind & LH_KIND_SCORER) != 0 && desc->kind != LH_KIND_SCORER) {
        return refuse(at, "LH_KIND_SCORER cannot be combined with LH_KIND_SOURCE or LH_KIND_SINK",
                      "split it into two plugins: a scorer, and a connector",
                      "plugin %s has an "
                      "invalid kind",
                      at->path);
    }
    if ((desc->flags & ~(uint32_t)KNOWN_FLAGS) != 0) {
        /* Refused rather than ignored: a later minor may give those bits a meaning. */
        snprintf(detail, sizeof(detail), "flags 0x%x has unknown bits 0x%x", (unsigned)desc->flags,
                 (unsigned)(desc->flags & ~(uint32_t)KNOWN_FLAGS));
        return refuse(at, detail,
                      "set .flags to 0 or to LH_PLUGIN_REENTRANT, LH_PLUGIN_ORDERED, "
                      "LH_PLUGIN_WEBHOOK_GET, LH_PLUGIN_WEBHOOK_CONCURRENT",
                      "plugin %s has invalid flags", at->path);
    }
    if (desc->reserved != 0) {
        /* Refused rather than ignored, as PostgreSQL's magic block does: a later minor may
         * give the field a meaning, and a plugin must not claim it by accident. */
        snprintf(detail, sizeof(detail), "reserved is 0x%x; it must be zero",
                 (unsigned)desc->reserved);
        return refuse(at, detail,
                      "leave .reserved unset: a descriptor written with LH_PLUGIN_HEADER and "
                      "designated initializers has it zero",
                      "plugin %s sets a reserved descriptor field", at->path);
    }
    return 0;
}

/* The callbacks its kind requires. */
static int check_callbacks(struct load_attempt *at, const lh_plugin_t *desc)
{
    struct strbuf missing = {0};
    const char *sep = "";
    if (desc->init == NULL) {
        strbuf_appendf(&missing, "%sinit", sep);
        sep = ", ";
    }
    if (desc->destroy == NULL) {
        strbuf_appendf(&missing, "%sdestroy", sep);
        sep = ", ";
    }
    if ((desc->kind & LH_KIND_SOURCE) != 0 && desc->poll == NULL && desc->webhook == NULL) {
        strbuf_appendf(&missing, "%spoll or webhook", sep);
        sep = ", ";
    }
    if ((desc->kind & LH_KIND_SINK) != 0 && desc->deliver == NULL && desc->deliver_batch == NULL) {
        strbuf_appendf(&missing, "%sdeliver or deliver_batch", sep);
        sep = ", ";
    }
    if ((desc->kind & LH_KIND_SCORER) != 0 && desc->score == NULL) {
        strbuf_appendf(&missing, "%sscore", sep);
    }
    int rc = 0;
    if (missing.len > 0 || missing.failed) {
        char *detail = util_printf("a %s plugin needs them; missing: %s",
                                   loader_kind_name(desc->kind), strbuf_value(&missing));
        rc = refuse(at, detail,
                    "set the missing callbacks in the descriptor, or change .kind to what the "
                    "plugin provides",
                    "plugin %s lacks callbacks its kind requires", at->path);
        free(detail);
    }
    strbuf_free(&missing);
    if (rc != 0) {
        return rc;
    }
    const uint32_t webhook_flags = LH_PLUGIN_WEBHOOK_GET | LH_PLUGIN_WEBHOOK_CONCURRENT;
    if ((desc->flags & webhook_flags) != 0 && desc->webhook == NULL) {
        return refuse(at,
                      "LH_PLUGIN_WEBHOOK_GET and LH_PLUGIN_WEBHOOK_CONCURRENT describe the "
                      "webhook callback, which the descriptor does not set",
                      "set .webhook, or drop those flags", "plugin %s has invalid flags", at->path);
    }
    if (desc->kind == LH_KIND_SCORER && (desc->flags & LH_PLUGIN_REENTRANT) == 0) {
        return refuse(at, "the host runs scorers in parallel; flags lacks LH_PLUGIN_REENTRANT",
                      "make score() pure (it may only read the state init() built) and set "
                      ".flags = LH_PLUGIN_REENTRANT",
                      "scorer plugin %s is not marked reentrant", at->path);
    }
    return 0;
}

/* A source's declared event types must be types of docs/events.md. */
static int check_event_types(struct load_attempt *at, const lh_plugin_t *desc)
{
    if (desc->event_types == NULL) {
        return 0;
    }
    if ((desc->kind & LH_KIND_SOURCE) == 0) {
        return refuse(at, "event_types is set, but only sources emit events",
                      "set .event_types = NULL, or add LH_KIND_SOURCE to .kind",
                      "plugin %s declares event types without being a source", at->path);
    }
    for (size_t i = 0; desc->event_types[i] != NULL; i++) {
        if (i >= 64) {
            return refuse(at, "event_types has more than 64 entries or lacks its NULL end",
                          "end the list with NULL", "plugin %s has invalid event_types", at->path);
        }
        if (!event_type_known(desc->event_types[i])) {
            char detail[160];
            snprintf(detail, sizeof(detail), "\"%.64s\" is not an event type",
                     desc->event_types[i]);
            return refuse(at, detail,
                          "use the types of docs/events.md, or custom.<name> for your own",
                          "plugin %s has invalid event_types", at->path);
        }
    }
    return 0;
}

/* A header name: RFC 9110 token characters. */
static bool header_name_valid(const char *name)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";
    if (name == NULL || name[0] == '\0' || strlen(name) > 64) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(specials, c) != NULL)) {
            return false;
        }
    }
    return true;
}

/* webhook_signature_headers: only with a webhook, valid names, terminated. */
static int check_signature_headers(struct load_attempt *at, const lh_plugin_t *desc)
{
    const char *const *names = desc->webhook_signature_headers;
    static const char hint[] = "list the header names a genuine request carries, ending with "
                               "NULL: {\"X-Signature\", NULL}";
    if (names == NULL) {
        return 0;
    }
    if (desc->webhook == NULL) {
        return refuse(at, "webhook_signature_headers is set, but the descriptor has no webhook",
                      "set .webhook, or .webhook_signature_headers = NULL",
                      "plugin %s has invalid webhook_signature_headers", at->path);
    }
    for (size_t i = 0;; i++) {
        if (!in_plugin_object(at, &names[i], sizeof(names[i]))) {
            return refuse(at, "the list is not in the plugin's own object", hint,
                          "plugin %s has invalid webhook_signature_headers", at->path);
        }
        if (names[i] == NULL) {
            return i == 0 ? refuse(at, "the list is empty: no POST could ever pass", hint,
                                   "plugin %s has invalid webhook_signature_headers", at->path)
                          : 0;
        }
        if (i >= SIGNATURE_HEADERS_MAX) {
            return refuse(at, "more than 16 names, or no NULL at the end", hint,
                          "plugin %s has invalid webhook_signature_headers", at->path);
        }
        if (!in_plugin_object(at, names[i], 1) || !header_name_valid(names[i])) {
            char detail[96];
            snprintf(detail, sizeof(detail), "entry %zu is not a header name", i);
            return refuse(at, detail, hint, "plugin %s has invalid webhook_signature_headers",
                          at->path);
        }
    }
}

/*
 * Copies the plugin's schema table into at->schema: fields of this host's size, the
 * members an older minor's smaller fields lack zeroed. The table is read with the stride
 * its first field's struct_size gives, every field must carry the same size, and nothing
 * outside the plugin's object is read. Returns 0, or -1 after a refusal.
 */
static int load_schema(struct load_attempt *at, const lh_config_field_t *table)
{
    static const char hint[] = "write every entry, the last one too, with LH_FIELD(...) and "
                               "LH_FIELD_END, which set struct_size, and rebuild";
    const char *base = (const char *)table;
    uint32_t stride = 0;
    if (!in_plugin_object(at, table, sizeof(uint32_t))) {
        return refuse(at, "config_schema does not point into the plugin's own object", hint,
                      "plugin %s has a malformed config schema", at->path);
    }
    memcpy(&stride, base, sizeof(stride));
    if (stride < SDK_CONFIG_FIELD_SIZE_2_0 || stride % alignof(lh_config_field_t) != 0 ||
        (uintptr_t)table % alignof(lh_config_field_t) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "its first field's struct_size is %u; a field of plugin ABI %d.x has at least "
                 "%zu bytes",
                 (unsigned)stride, LH_ABI_MAJOR, (size_t)SDK_CONFIG_FIELD_SIZE_2_0);
        return refuse(at, detail, hint, "plugin %s has a malformed config schema", at->path);
    }
    size_t copied = stride < sizeof(lh_config_field_t) ? stride : sizeof(lh_config_field_t);
    for (size_t i = 0;; i++) {
        const char *entry = base + i * stride;
        if (i >= SCHEMA_FIELDS_MAX || !in_plugin_object(at, entry, stride)) {
            return refuse(at,
                          "the table has more than 256 fields, or runs past the plugin's "
                          "object without an LH_FIELD_END",
                          hint, "plugin %s has a malformed config schema", at->path);
        }
        lh_config_field_t field = {0};
        memcpy(&field, entry, copied);
        if (field.struct_size != stride) {
            char detail[160];
            snprintf(detail, sizeof(detail),
                     "field %zu has struct_size %u where the first has %u (a field written "
                     "without LH_FIELD)",
                     i, (unsigned)field.struct_size, (unsigned)stride);
            return refuse(at, detail, hint, "plugin %s has a malformed config schema", at->path);
        }
        lh_config_field_t *grown = realloc(at->schema, (i + 1) * sizeof(*grown));
        if (grown == NULL) {
            return refuse(at, "out of memory", NULL, "could not load plugin %s", at->path);
        }
        at->schema = grown;
        field.struct_size = (uint32_t)sizeof(lh_config_field_t);
        at->schema[i] = field;
        if (field.name == NULL) {
            return 0;
        }
    }
}

static int check_schema(struct load_attempt *at, const lh_plugin_t *desc)
{
    if (desc->config_schema == NULL) {
        return refuse(at, "config_schema is NULL; every plugin declares its settings",
                      "a plugin without settings declares an empty schema: "
                      "`static const lh_config_field_t schema[] = { LH_FIELD_END };`",
                      "plugin %s declares no config schema", at->path);
    }
    if (load_schema(at, desc->config_schema) != 0) {
        return -1;
    }
    char *error = NULL;
    if (config_schema_check(at->schema, &error) != 0) {
        int rc = refuse(at, error != NULL ? error : "config_schema_check() gave no reason",
                        "fix that field in the plugin's config_schema table (docs/sdk.md, "
                        "\"The config schema\")",
                        "plugin %s has a malformed config schema", at->path);
        free(error);
        return rc;
    }
    free(error);
    return 0;
}

/*
 * The OAuth provider declaration, if any: copied in like every sized struct (sdk_abi.h)
 * and checked against the normalized schema, so it runs after check_schema(). The copy
 * replaces the plugin's pointer in the normalized descriptor.
 */
static int check_oauth_provider(struct load_attempt *at, const lh_plugin_t *desc)
{
    static const char hint[] = "declare it with LH_OAUTH_PROVIDER(...) and fix what the detail "
                               "names (docs/sdk.md, \"OAuth consent\")";
    const lh_oauth_provider_t *provider = desc->oauth_provider;
    if (provider == NULL) {
        return 0;
    }
    if (!in_plugin_object(at, provider, sizeof(uint32_t))) {
        return refuse(at, "oauth_provider points outside the plugin's own object", hint,
                      "plugin %s has an invalid OAuth provider", at->path);
    }
    uint32_t size;
    memcpy(&size, provider, sizeof(size));
    at->oauth_provider = malloc(sizeof(*at->oauth_provider));
    if (at->oauth_provider == NULL) {
        return refuse(at, "out of memory", NULL, "could not load plugin %s", at->path);
    }
    if (size < SDK_OAUTH_PROVIDER_SIZE_2_0 || !in_plugin_object(at, provider, size) ||
        !sdk_copy_in(at->oauth_provider, sizeof(*at->oauth_provider), provider,
                     SDK_OAUTH_PROVIDER_SIZE_2_0)) {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "oauth_provider's struct_size is %u; an lh_oauth_provider_t of ABI 2.0 has at "
                 "least %zu bytes",
                 (unsigned)size, (size_t)SDK_OAUTH_PROVIDER_SIZE_2_0);
        return refuse(at, detail, hint, "plugin %s has an invalid OAuth provider", at->path);
    }
    char *error = NULL;
    if (oauth_provider_check(at->oauth_provider, at->schema, &error) != 0) {
        int rc = refuse(at, error != NULL ? error : "out of memory", hint,
                        "plugin %s has an invalid OAuth provider", at->path);
        free(error);
        return rc;
    }
    return 0;
}

static int check_unique(struct load_attempt *at, const lh_plugin_t *desc)
{
    const struct plugin *first = loader_find(at->reg, desc->name);
    if (first == NULL) {
        return 0;
    }
    char *detail = util_printf("\"%s\" was already loaded from %s", desc->name, first->path);
    int rc = refuse(at, detail,
                    "remove one of the two files from the plugin path, or give one plugin "
                    "another name",
                    "plugin %s has the name of another plugin", at->path);
    free(detail);
    return rc;
}

/* Adds the plugin with its normalized descriptor (copied) and schema (taken from at). */
static int add_plugin(struct load_attempt *at, const lh_plugin_t *normalized)
{
    struct plugin_registry *reg = at->reg;
    struct plugin *plugins = realloc(reg->plugins, (reg->count + 1) * sizeof(*plugins));
    if (plugins == NULL) {
        return -1;
    }
    reg->plugins = plugins;
    struct plugin p = {
        .name = strdup(normalized->name),
        .path = strdup(at->path),
        .handle = at->handle,
        .webhook_signature_headers = normalized->webhook_signature_headers,
        .desc_copy = malloc(sizeof(lh_plugin_t)),
        .schema = at->schema,
    };
    if (p.name == NULL || p.path == NULL || p.desc_copy == NULL) {
        free(p.name);
        free(p.path);
        free(p.desc_copy);
        return -1;
    }
    *p.desc_copy = *normalized;
    p.desc_copy->config_schema = p.schema;
    p.oauth_provider = at->oauth_provider;
    p.desc_copy->oauth_provider = p.oauth_provider;
    p.desc = p.desc_copy;
    at->schema = NULL;
    at->oauth_provider = NULL;
    reg->plugins[reg->count++] = p;
    return 0;
}

/* The descriptor as this host reads it: the plugin's struct_size bytes (check_abi made
 * sure they are in the plugin), the rest zero. */
static lh_plugin_t normalized_descriptor(const lh_plugin_t *desc)
{
    lh_plugin_t copy;
    memset(&copy, 0, sizeof(copy));
    uint32_t size;
    memcpy(&size, (const char *)desc + offsetof(lh_plugin_t, struct_size), sizeof(size));
    memcpy(&copy, desc, size < sizeof(copy) ? size : sizeof(copy));
    return copy;
}

int loader_load_file(struct plugin_registry *reg, const char *path)
{
    struct load_attempt at = {.reg = reg, .path = path};
    /* Without a slash, dlopen() would search the library path instead of opening the file. */
    char *open_path = strchr(path, '/') != NULL ? strdup(path) : util_printf("./%s", path);
    if (open_path == NULL) {
        return refuse(&at, "out of memory", NULL, "could not load plugin %s", path);
    }

    int rc = -1;
    dlerror();
    at.handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    if (at.handle == NULL) {
        const char *error = dlerror();
        char *hint = util_printf(HINT_NOT_LOADABLE_FMT, path, path);
        refuse(&at, error != NULL ? error : "dlopen() failed", hint, "could not load plugin %s",
               path);
        free(hint);
        goto out;
    }

    lh_entry_fn entry = find_entry(&at);
    if (entry == NULL) {
        goto out;
    }
    const lh_plugin_t *desc = entry();
    if (desc == NULL) {
        refuse(&at, LH_ENTRY_SYMBOL "() returned NULL",
               "return the address of a static const lh_plugin_t: "
               "LH_PLUGIN_DECLARE(descriptor)",
               "plugin %s returned no descriptor", path);
        goto out;
    }
    if (check_abi(&at, desc) != 0) {
        goto out;
    }
    lh_plugin_t normalized = normalized_descriptor(desc);
    if (check_identity(&at, &normalized) != 0 || check_kind(&at, &normalized) != 0 ||
        check_callbacks(&at, &normalized) != 0 || check_event_types(&at, &normalized) != 0 ||
        check_signature_headers(&at, &normalized) != 0 || check_schema(&at, &normalized) != 0 ||
        check_oauth_provider(&at, &normalized) != 0 || check_unique(&at, &normalized) != 0) {
        goto out;
    }
    if (add_plugin(&at, &normalized) != 0) {
        refuse(&at, "out of memory", NULL, "could not load plugin %s", path);
        goto out;
    }
    at.handle = NULL; /* the registry owns it now */
    rc = 0;

out:
    if (at.handle != NULL) {
        dlclose(at.handle);
    }
    free(at.schema);
    free(at.oauth_provider);
    free(open_path);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_plugin_file_name(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 3 && strcmp(name + len - 3, ".so") == 0;
}

/* The paths of the regular "*.so" files in dir, sorted by name (byte order, not locale).
 * Returns the count; *paths_out is a malloc'd array of malloc'd strings, NULL when none. */
static size_t list_plugin_files(const char *dir, char ***paths_out)
{
    *paths_out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0; /* missing (or unreadable) directories are skipped */
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (!is_plugin_file_name(entry->d_name)) {
            continue;
        }
        char *path = util_printf("%s/%s", dir, entry->d_name);
        struct stat st;
        /* stat, not lstat: a symlink to a plugin is a plugin */
        if (path == NULL || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        char **grown = realloc(names, (count + 1) * sizeof(*names));
        if (grown == NULL) {
            free(path);
            break;
        }
        names = grown;
        names[count++] = path;
    }
    closedir(d);
    if (count > 0) {
        qsort(names, count, sizeof(*names), compare_names);
    }
    *paths_out = names;
    return count;
}

size_t loader_scan(struct plugin_registry *reg, char *const *dirs, size_t dir_count)
{
    size_t accepted = 0;
    for (size_t i = 0; i < dir_count; i++) {
        char **paths;
        size_t count = list_plugin_files(dirs[i], &paths);
        for (size_t j = 0; j < count; j++) {
            if (loader_load_file(reg, paths[j]) == 0) {
                accepted++;
            }
            free(paths[j]);
        }
        free(paths);
    }
    return accepted;
}

const struct plugin *loader_find(const struct plugin_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->plugins[i].name, name) == 0) {
            return &reg->plugins[i];
        }
    }
    return NULL;
}

const struct plugin_refusal *loader_find_refused(const struct plugin_registry *reg,
                                                 const char *name)
{
    for (size_t i = 0; i < reg->refused_count; i++) {
        if (strcmp(reg->refused[i].name, name) == 0) {
            return &reg->refused[i];
        }
    }
    return NULL;
}

size_t loader_default_path(char ***dirs_out)
{
    *dirs_out = NULL;
    char *exe = util_exe_dir();
    if (exe == NULL) {
        return 0;
    }

    static const char *const relative[] = {"plugins", "../lib/leadhub/plugins"};
    char **dirs = calloc(UTIL_ARRAY_LEN(relative), sizeof(*dirs));
    if (dirs == NULL) {
        free(exe);
        return 0;
    }
    size_t count = 0;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(relative); i++) {
        char *candidate = util_printf("%s/%s", exe, relative[i]);
        /* realpath() both checks that it exists and drops the "bin/.." for display */
        char *resolved = candidate != NULL ? realpath(candidate, NULL) : NULL;
        free(candidate);
        struct stat st;
        if (resolved != NULL && stat(resolved, &st) == 0 && S_ISDIR(st.st_mode)) {
            dirs[count++] = resolved;
        } else {
            free(resolved);
        }
    }
    free(exe);
    if (count == 0) {
        free(dirs);
        dirs = NULL;
    }
    *dirs_out = dirs;
    return count;
}

const char *loader_kind_name(uint32_t kind)
{
    switch (kind) {
    case LH_KIND_SOURCE:
        return "source";
    case LH_KIND_SINK:
        return "sink";
    case LH_KIND_SOURCE | LH_KIND_SINK:
        return "source+sink";
    case LH_KIND_SCORER:
        return "scorer";
    default:
        return "invalid";
    }
}

void loader_free(struct plugin_registry *reg)
{
    for (size_t i = 0; i < reg->count; i++) {
        struct plugin *p = &reg->plugins[i];
        if (p->handle != NULL) {
            dlclose(p->handle);
        }
        free(p->name);
        free(p->path);
        free(p->desc_copy);
        free(p->schema);
        free(p->oauth_provider);
    }
    free(reg->plugins);
    for (size_t i = 0; i < reg->refused_count; i++) {
        struct plugin_refusal *r = &reg->refused[i];
        free(r->path);
        free(r->name);
        free(r->diag.file);
        free(r->diag.key);
        free(r->diag.message);
        free(r->diag.detail);
        free(r->diag.hint);
    }
    free(reg->refused);
    *reg = (struct plugin_registry){0};
}
