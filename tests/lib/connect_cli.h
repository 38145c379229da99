/*
 * connect_cli.h - `leadhubd connect` as a user runs it, for tests: the command in a child
 * process whose output the test reads (to find the address it prints) and whose input it
 * writes (the address pasted with --no-browser).
 */
#ifndef LEADHUB_CONNECT_CLI_H
#define LEADHUB_CONNECT_CLI_H

#include <sys/types.h>

#include "util.h"

struct connect_cli {
    pid_t pid;
    int in_fd;  /* the command's stdin */
    int out_fd; /* its stdout and stderr */
    struct strbuf output;
};

/*
 * connect_cli_start - runs `leadhubd connect` with args (NULL-terminated, after "connect")
 * and reads its output until it prints the authorization address.
 *   Returns the address (malloc'd), or NULL when the command ended, or printed none within
 *   30 s (its output so far is in cli->output).
 */
char *connect_cli_start(struct connect_cli *cli, const char *const *args);

/* connect_cli_paste - writes one line to the command's input. */
void connect_cli_paste(struct connect_cli *cli, const char *line);

/* connect_cli_finish - waits for the command (60 s at most, then kills it); returns its exit
 * status (128 + signal when killed); its whole output in *output_out (malloc'd). */
int connect_cli_finish(struct connect_cli *cli, char **output_out);

#endif
