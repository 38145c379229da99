/*
 * sdk_abi.h - the sized structs of the plugin ABI as the host reads them.
 *
 * A struct a plugin fills starts with its struct_size (sdk/leadhub.h, GROWTH). The host
 * never reads one in place: it copies the plugin's struct_size bytes into a struct of its
 * own size, the members an older minor lacks left zero, after checking that the plugin's
 * struct is at least as large as ABI 2.0 made it. Each minimum below is "the end of the
 * last member of 2.0", not sizeof(), which grows with each minor.
 */
#ifndef LEADHUB_SDK_ABI_H
#define LEADHUB_SDK_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "leadhub.h"

#define SDK_END_OF(type, member) (offsetof(type, member) + sizeof(((type *)NULL)->member))

#define SDK_DESCRIPTOR_SIZE_2_0     SDK_END_OF(lh_plugin_t, score)
#define SDK_CONFIG_FIELD_SIZE_2_0   SDK_END_OF(lh_config_field_t, description)
#define SDK_HTTP_REQUEST_SIZE_2_0   SDK_END_OF(lh_http_request_t, retry_hint_header)
#define SDK_HTTP_RESPONSE_SIZE_2_0  SDK_END_OF(lh_http_response_t, retry_after_ms)
#define SDK_OAUTH2_SIZE_2_0         SDK_END_OF(lh_oauth2_t, scope)
#define SDK_OAUTH_PROVIDER_SIZE_2_0 SDK_END_OF(lh_oauth_provider_t, client_secret_setting)

/*
 * sdk_copy_in - copy the plugin-filled struct at src (its first member its struct_size)
 * into dst, a host struct of dst_size bytes: min(struct_size, dst_size) bytes, the rest of
 * dst zeroed, and dst's struct_size set to dst_size.
 *   Returns false (dst zeroed) when src is NULL or its struct_size is below min_size: a
 *   struct written without its initializer macro, or of an older major.
 */
static inline bool sdk_copy_in(void *dst, size_t dst_size, const void *src, size_t min_size)
{
    memset(dst, 0, dst_size);
    if (src == NULL) {
        return false;
    }
    uint32_t size;
    memcpy(&size, src, sizeof(size));
    if (size < min_size) {
        return false;
    }
    memcpy(dst, src, size < dst_size ? size : dst_size);
    uint32_t own = (uint32_t)dst_size;
    memcpy(dst, &own, sizeof(own));
    return true;
}

#endif
