/* libFuzzer target: arbitrary bytes as a chat template, rendered with a
 * small conversation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = 0;
    char *out = NULL;
    loam_error err;
    const char *msgs = "[{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"hi\"},"
                       " {\"role\": \"assistant\", \"content\": \"yo\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1}}}]}]";
    if (loam_chat_apply_template(NULL, src, msgs, "[{\"type\": \"function\"}]", "{\"date_string\": \"1 Jan 2025\"}", 1, &out, &err) == LOAM_OK)
        free(out);
    free(src);
    return 0;
}
