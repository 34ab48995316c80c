/* loam template: renders a chat template exactly, for scripts and for
 * checking a template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *read_all(const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *g = realloc(buf, cap * 2 + 1);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g, cap *= 2;
        }
    }
    if (buf) buf[n] = 0;
    if (f != stdin) fclose(f);
    return buf;
}

char *cli_read_file(const char *path) { return read_all(path); }

int cmd_template(int argc, char **argv) {
    const char *path = NULL, *messages_path = NULL, *tools_path = NULL, *template_path = NULL;
    int add_gen = 0;
    /* --var KEY=JSON pairs collected into one JSON object */
    size_t vcap = 64, vlen = 1;
    char *vars = malloc(vcap);
    if (!vars) return cli_error("out of memory");
    strcpy(vars, "{");
    int n_vars = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--messages") == 0 && v) messages_path = v, i++;
        else if (strcmp(a, "--tools") == 0 && v) tools_path = v, i++;
        else if (strcmp(a, "--chat-template") == 0 && v) template_path = v, i++;
        else if (strcmp(a, "--add-generation-prompt") == 0) add_gen = 1;
        else if (strcmp(a, "--var") == 0 && v) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) rc = cli_error("--var needs KEY=JSON");
            size_t need = vlen + strlen(v) + 8;
            if (!rc && need > vcap) {
                while (vcap < need) vcap *= 2;
                char *g = realloc(vars, vcap);
                if (!g) rc = cli_error("out of memory");
                else vars = g;
            }
            if (!rc) vlen += (size_t)sprintf(vars + vlen, "%s\"%.*s\": %s", n_vars++ ? ", " : "", (int)(eq - v), v, eq + 1);
            i++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            free(vars);
            puts("usage: loam template PATH --messages FILE.json [--tools FILE.json] [--var KEY=JSON ...]\n"
                 "                     [--add-generation-prompt] [--chat-template FILE]");
            return 0;
        } else if (a[0] == '-' && a[1]) rc = cli_error("template: unknown or incomplete option \"%s\"", a);
        else if (!path) path = a;
        else rc = cli_error("template: unexpected argument \"%s\"", a);
    }
    strcpy(vars + vlen, "}");
    if (!rc && (!path || !messages_path)) rc = cli_error("usage: loam template PATH --messages FILE.json [...]");
    char *messages = NULL, *tools = NULL, *tpl = NULL, *out = NULL;
    loam_tokenizer *tok = NULL;
    loam_error err;
    if (!rc && !(messages = read_all(messages_path))) rc = cli_error("template: cannot read %s", messages_path);
    if (!rc && tools_path && !(tools = read_all(tools_path))) rc = cli_error("template: cannot read %s", tools_path);
    if (!rc && template_path && !(tpl = read_all(template_path))) rc = cli_error("template: cannot read %s", template_path);
    char resolved[4096];
    if (!rc && cli_resolve_model(path, 0, resolved, sizeof resolved)) rc = 1;
    if (!rc) path = resolved;
    if (!rc && cli_check_gguf(path)) rc = 1;
    if (!rc && loam_tokenizer_open(path, &tok, &err) != LOAM_OK) rc = cli_error_status(&err);
    if (!rc && loam_chat_apply_template(tok, tpl, messages, tools, vars, add_gen, &out, &err) != LOAM_OK) rc = cli_error_status(&err);
    if (!rc) fputs(out, stdout);
    free(out);
    free(messages);
    free(tools);
    free(tpl);
    free(vars);
    loam_tokenizer_free(tok);
    return rc;
}
