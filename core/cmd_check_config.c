/* cmd_check_config.c - placeholder until the command lands; replaced before the first submission. */
#include <stdio.h>

#include "commands.h"

int cmd_check_config(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "%s: not built yet\n", argv[0]);
    return EXIT_RUNTIME;
}
