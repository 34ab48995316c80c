/* A Jinja2 subset for chat templates, rendered as transformers renders them
 * (trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception).
 * Anything the subset does not know is an error naming the construct. */
#ifndef LOAM_CHAT_JINJA_H
#define LOAM_CHAT_JINJA_H
#include <cjson/cJSON.h>

#include "loam.h"

/* Renders `source` with the variables of `vars` (a JSON object; its values
 * keep their key order). *out is malloc'ed. */
loam_status loam_jinja_render(const char *source, const cJSON *vars, char **out, loam_error *err);

#endif
