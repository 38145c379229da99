/* cmd_new_plugin.c - `leadhubd new-plugin NAME --kind KIND [--dir DIR]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "new_plugin.h"
#include "util.h"

static const char new_plugin_usage[] =
    "Usage: leadhubd new-plugin NAME --kind source|sink|source+sink|scorer [--dir DIR]\n"
    "\n"
    "Writes a plugin folder (DIR, default ./NAME) that builds out of tree against the\n"
    "installed SDK: NAME.c (its settings schema and the callbacks of its kind, with the\n"
    "statuses they return), a Makefile (pkg-config leadhub-sdk; `make test` runs the unit\n"
    "tests on the fake host, pkg-config leadhub-test), tests/test_NAME.c, tests/fake_provider.h\n"
    "and a README. `make && make test` pass in it as written. docs/sdk.md, \"Tutorial\",\n"
    "goes on from there.\n"
    "\n"
    "  NAME          [a-z][a-z0-9_]*, at most 63 bytes: the plugin's name\n"
    "  --kind KIND   source (polls a provider), sink (delivers to one), source+sink (a CRM),\n"
    "                scorer (scores leads)\n"
    "  --dir DIR     where to write it; it must not exist, or be empty\n"
    "\n"
    "Exit codes: 0 written; 1 the folder exists or cannot be written; 2 bad command line.\n";

int cmd_new_plugin(int argc, char **argv)
{
    const char *name = NULL, *kind_name = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(new_plugin_usage, stdout);
            return EXIT_OK;
        }
        if ((strcmp(argv[i], "--kind") == 0 || strcmp(argv[i], "--dir") == 0) && i + 1 < argc) {
            *(strcmp(argv[i], "--kind") == 0 ? &kind_name : &dir) = argv[i + 1];
            i++;
        } else if (argv[i][0] != '-' && name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "leadhubd new-plugin: unexpected argument '%s'\n%s", argv[i],
                    new_plugin_usage);
            return EXIT_USAGE;
        }
    }
    unsigned kind = new_plugin_kind_parse(kind_name);
    if (name == NULL || kind == 0) {
        fprintf(stderr, "leadhubd new-plugin: %s\n%s",
                name == NULL ? "NAME is missing"
                             : "--kind must be source, sink, source+sink or scorer",
                new_plugin_usage);
        return EXIT_USAGE;
    }
    if (!util_identifier_valid(name)) {
        fprintf(stderr,
                "leadhubd new-plugin: '%s' is not a plugin name: [a-z][a-z0-9_]*, at most "
                "63 bytes\n",
                name);
        return EXIT_USAGE;
    }
    char *error = NULL;
    if (new_plugin_write(dir != NULL ? dir : name, name, kind, &error) != 0) {
        fprintf(stderr, "leadhubd new-plugin: %s\n", error != NULL ? error : "out of memory");
        free(error);
        return EXIT_INVALID;
    }
    const char *where = dir != NULL ? dir : name;
    printf("wrote %s/: %s.c (a %s plugin), Makefile, README.md, tests/\n"
           "next: cd %s && make && make test\n",
           where, name, kind_name, where);
    return EXIT_OK;
}
