/* loam serve [MODEL] [--model NAME=PATH ...] [--host H] [--port P]
 *            [--parallel N] [--queue N] [--api-key K] [model flags] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "cli.h"

static const char serve_usage[] =
    "usage: loam serve [MODEL] [--model NAME=PATH ...] [--host H] [--port P] [--parallel N] [--queue N]\n"
    "                  [--api-key K] [--max-tokens N] [--max-body BYTES] [-t N] [-c N] [--kv-type T]\n"
    "  An OpenAI-compatible (/v1/chat/completions, /v1/completions, /v1/models) and ollama-compatible\n"
    "  (/api/chat, /api/generate, /api/tags, /api/show, /api/version) HTTP server with a chat page at /,\n"
    "  /health and /metrics (Prometheus). MODEL is served under its folder or file name (without\n"
    "  extension); --model NAME=PATH adds more. Requests are batched together, one KV sequence per slot.\n"
    "  --host H         address to listen on (default 127.0.0.1)\n"
    "  --port P         port (default 8080; 0 = any free port, printed)\n"
    "  --parallel N     slots: requests generated at once per model (default 4)\n"
    "  --queue N        requests waiting for a slot before 429 (default 4 x parallel)\n"
    "  --api-key K      require Authorization: Bearer K (not for / and /health)\n"
    "  --max-tokens N   cap (and default) of max_tokens per request (default 4096)\n"
    "  --max-body B     largest request body in bytes (default 8 MiB)\n"
    "  --max-upload B   largest audio upload of the speech routes in bytes (default 64 MiB)\n"
    "  --port-file F    write the port to F once listening\n"
    "  --timeout S      close a connection idle for S seconds (default 30)\n"
    "  -t, -c, --kv-type  threads, context positions per slot, KV cache type (as loam run)\n";

/* "NAME=PATH", or PATH named after its file or folder without extension. */
static int add_model(srv_config *cfg, const char *arg, int named, char (*names)[128], char (*paths)[4096]) {
    if (cfg->n_models == SRV_MAX_MODELS) return cli_error("serve: at most %d models", SRV_MAX_MODELS);
    int i = cfg->n_models;
    const char *path = arg;
    if (named) {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg || !eq[1]) return cli_error("serve: --model needs NAME=PATH, not \"%s\"", arg);
        snprintf(names[i], sizeof names[i], "%.*s", (int)(eq - arg), arg);
        path = eq + 1;
    } else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", arg);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
        snprintf(names[i], sizeof names[i], "%s", base);
        char *dot = strrchr(names[i], '.');
        if (dot && dot != names[i] && (!strcmp(dot, ".gguf") || !strcmp(dot, ".bin"))) *dot = 0;
    }
    if (cli_resolve_model(path, 1, paths[i], sizeof paths[i])) return 1;
    cfg->models[i].name = names[i], cfg->models[i].path = paths[i];
    cfg->n_models++;
    return 0;
}

int cmd_serve(int argc, char **argv) {
    static char names[SRV_MAX_MODELS][128], paths[SRV_MAX_MODELS][4096];
    srv_config cfg = {.host = "127.0.0.1", .port = 8080, .parallel = 4, .queue = -1, .max_body = 8u << 20, .max_upload = 64u << 20, .max_tokens = 4096};
    cli_gen_flags gen;
    cli_gen_flags_init(&gen);
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int taken = cli_gen_flag(argc, argv, &i, &gen);
        if (taken < 0) return 1;
        if (taken) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return fputs(serve_usage, stdout), 0;
        else if (!strcmp(a, "--model") && val) {
            if (add_model(&cfg, val, 1, names, paths)) return 1;
            i++;
        } else if (!strcmp(a, "--host") && val) cfg.host = val, i++;
        else if (!strcmp(a, "--port")) {
            if (!cli_int(a, val, 0, 65535, &v)) return 1;
            cfg.port = (int)v, i++;
        } else if (!strcmp(a, "--parallel")) {
            if (!cli_int(a, val, 1, 256, &v)) return 1;
            cfg.parallel = (int)v, i++;
        } else if (!strcmp(a, "--queue")) {
            if (!cli_int(a, val, 0, 1024, &v)) return 1;
            cfg.queue = (int)v, i++;
        } else if (!strcmp(a, "--max-tokens")) {
            if (!cli_int(a, val, 1, 1 << 20, &v)) return 1;
            cfg.max_tokens = (int)v, i++;
        } else if (!strcmp(a, "--max-body")) {
            if (!cli_int(a, val, 1024, 1 << 30, &v)) return 1;
            cfg.max_body = (size_t)v, i++;
        } else if (!strcmp(a, "--max-upload")) {
            if (!cli_int(a, val, 1024, 1L << 32, &v)) return 1;
            cfg.max_upload = (size_t)v, i++;
        } else if (!strcmp(a, "--timeout")) {
            if (!cli_int(a, val, 1, 3600, &v)) return 1;
            cfg.timeout = (int)v, i++;
        } else if (!strcmp(a, "--api-key") && val) cfg.api_key = val, i++;
        else if (!strcmp(a, "--port-file") && val) cfg.port_file = val, i++;
        else if (a[0] == '-') return cli_error("serve: unknown or incomplete option \"%s\" (see loam serve --help)", a);
        else if (add_model(&cfg, a, 0, names, paths)) return 1;
    }
    if (!cfg.n_models) return cli_error("serve: name a model (loam serve MODEL, or --model NAME=PATH)");
    if (cfg.queue < 0) cfg.queue = 4 * cfg.parallel;
    cfg.n_threads = (int)gen.n_threads, cfg.n_ctx = (int)gen.n_ctx, cfg.kv_type = gen.kv_type;
    cfg.bf16_dot = gen.bf16_dot, cfg.keep_layout = gen.keep_layout;
    return srv_run(&cfg);
}
