/*
 * text_buffer.h - a growable byte buffer that remembers a failed allocation, so that a
 * builder can append many pieces and check once at the end.
 *
 * Ownership: the buffer owns `data` (malloc'd, always NUL-terminated once anything was
 * appended). text_buffer_take() hands it to the caller; text_buffer_free() releases it.
 * Not shared between threads; no globals.
 */
#ifndef LEADHUB_TEXT_BUFFER_H
#define LEADHUB_TEXT_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct text_buffer {
    char *data;      /* NULL until the first append */
    size_t length;   /* bytes, the terminating NUL excluded */
    size_t capacity; /* bytes allocated */
    bool failed;     /* an allocation failed: every later append is ignored */
};

#define TEXT_BUFFER_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/* Appends `length` bytes. Returns 0, or -1 when out of memory (then `failed` is set). */
int text_buffer_append(struct text_buffer *buffer, const void *bytes, size_t length);

/* Appends a NUL-terminated string. */
int text_buffer_append_string(struct text_buffer *buffer, const char *text);

/* Appends one byte. */
int text_buffer_append_byte(struct text_buffer *buffer, unsigned char byte);

/* Appends the UTF-8 encoding of a Unicode scalar value (U+FFFD for anything that is not). */
int text_buffer_append_codepoint(struct text_buffer *buffer, uint32_t codepoint);

/* Forgets the content, keeps the allocation. */
void text_buffer_reset(struct text_buffer *buffer);

/*
 * text_buffer_take - the content as a NUL-terminated string the caller frees, or NULL when
 * an allocation failed. An empty buffer gives "". The buffer is empty afterwards.
 */
char *text_buffer_take(struct text_buffer *buffer);

/* Frees the content. Accepts a zeroed or already freed buffer. */
void text_buffer_free(struct text_buffer *buffer);

#endif
