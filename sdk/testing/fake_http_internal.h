/* fake_http_internal.h - what fake_http.c lends fake_http_record.c. Not installed. */
#ifndef LEADHUB_FAKE_HTTP_INTERNAL_H
#define LEADHUB_FAKE_HTTP_INTERNAL_H

#include "fake_http.h"

/* fake_http_handler() with an argument the server owns: free_arg(arg) when it is replaced
 * or the server stops. */
void fake_http_own(struct fake_http *server, fake_http_handler_fn handler, void *arg,
                   void (*free_arg)(void *arg));

#endif
