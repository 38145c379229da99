/*
 * text_buffer.c - a growable byte buffer (see text_buffer.h).
 */
#include "text_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "text_utf8.h"

static int reserve(struct text_buffer *buffer, size_t extra)
{
    if (buffer->failed) {
        return -1;
    }
    if (extra > SIZE_MAX / 2 - buffer->length) {
        buffer->failed = true;
        return -1;
    }
    size_t needed = buffer->length + extra + 1;
    if (needed <= buffer->capacity) {
        return 0;
    }
    size_t capacity = buffer->capacity < 64 ? 64 : buffer->capacity;
    while (capacity < needed) {
        capacity *= 2;
    }
    char *data = realloc(buffer->data, capacity);
    if (data == NULL) {
        buffer->failed = true;
        return -1;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

int text_buffer_append(struct text_buffer *buffer, const void *bytes, size_t length)
{
    if (reserve(buffer, length) != 0) {
        return -1;
    }
    if (length > 0) {
        memcpy(buffer->data + buffer->length, bytes, length);
    }
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return 0;
}

int text_buffer_append_string(struct text_buffer *buffer, const char *text)
{
    return text_buffer_append(buffer, text, strlen(text));
}

int text_buffer_append_byte(struct text_buffer *buffer, unsigned char byte)
{
    return text_buffer_append(buffer, &byte, 1);
}

int text_buffer_append_codepoint(struct text_buffer *buffer, uint32_t codepoint)
{
    char encoded[4];
    size_t length = text_utf8_encode(codepoint, encoded);
    return text_buffer_append(buffer, encoded, length);
}

void text_buffer_reset(struct text_buffer *buffer)
{
    buffer->length = 0;
    if (buffer->data != NULL) {
        buffer->data[0] = '\0';
    }
}

char *text_buffer_take(struct text_buffer *buffer)
{
    if (buffer->failed) {
        text_buffer_free(buffer);
        return NULL;
    }
    char *data = buffer->data;
    if (data == NULL) {
        data = calloc(1, 1);
    }
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
    return data;
}

void text_buffer_free(struct text_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
    buffer->failed = false;
}
