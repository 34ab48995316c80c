/* A Jinja2 subset for chat templates, rendered as transformers renders them
 * (trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception).
 * Anything the subset does not know is an error naming the construct. */
#ifndef LOAM_CHAT_JINJA_H
#define LOAM_CHAT_JINJA_H
#include <cjson/cJSON.h>

#include "loam.h"

/* Set in a cJSON number's type by loam_json_mark_floats: the number was
 * written with a fraction or an exponent ("3.0", "1e2"), so Python's json
 * reads it as a float and the template prints it as one ("3.0", not "3"). */
#define LOAM_JSON_FLOAT (1 << 12)

/* Marks each number of `root` (parsed from `text` by cJSON) that `text`
 * writes as a float: both walk the numbers in document order. */
void loam_json_mark_floats(cJSON *root, const char *text);

/* Renders `source` with the variables of `vars` (a JSON object; its values
 * keep their key order). *out is malloc'ed. */
loam_status loam_jinja_render(const char *source, const cJSON *vars, char **out, loam_error *err);

#endif
