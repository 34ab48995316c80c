/* loam pick: which model for the task, how accurate, what fits this
 * machine and how fast it will run; --explain shows the arithmetic,
 * --measure runs a random-weight file of the real shape. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static const char pick_usage[] =
    "usage: loam pick [--task T] [--lang L] [--context N] [--ram SIZE] [--commercial] [--variant V]\n"
    "                 [--quant Q] [--all] [--json] [--no-measure] [--remeasure] [-t N] [--kv-type T]\n"
    "       loam pick --explain MODEL [--quant Q] [...]     the arithmetic behind one model's row\n"
    "       loam pick --measure MODEL [--quant Q]           loam bench on a random-weight file of its shape\n"
    "  --task       chat (default), code, multilingual, long-context, reasoning, tools, text,\n"
    "               speech-to-text, translation, text-to-image\n"
    "  --lang       an ISO 639-1 code the model must support (zh, de, ...)\n"
    "  --context    positions to plan the KV cache for (4096; 32k, 128k)\n"
    "  --ram        memory to fit in (16G, 512M; default this machine's RAM); the reserve kept free\n"
    "               for the system is max(1 GiB, 10%% of it)\n"
    "  --commercial only licences that allow commercial use\n"
    "  --variant    base (pretrained, for completion or fine-tuning), instruct, chat, ...\n"
    "  --all        every model and quantization, fitting or not, any task (with --json: speech and\n"
    "               image models too)\n"
    "  --no-measure memory only; otherwise speeds come from products measured on this machine\n"
    "               (a few seconds the first time, then kept in ~/.cache/loam/pick-rates.json)\n"
    "MODEL is a catalogue model (llama-3.1-8b, phi-2, whisper-large-v3, flux.1-schnell, ...), a hub\n"
    "id or a short name (llama3.1:8b). Decode speed is at the start of a conversation.\n";

/* "16G", "512M", "1.5T", or plain bytes. */
static int parse_size(const char *opt, const char *v, uint64_t *out) {
    if (!v) return cli_error("%s needs a size such as 16G", opt), 0;
    char *end;
    double x = strtod(v, &end);
    double mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1024.0, end++;
    else if (*end == 'M' || *end == 'm') mult = 1048576.0, end++;
    else if (*end == 'G' || *end == 'g') mult = 1073741824.0, end++;
    else if (*end == 'T' || *end == 't') mult = 1099511627776.0, end++;
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || end == v || !(x > 0) || x * mult > 1.8e19) return cli_error("%s: \"%s\" is not a size such as 16G", opt, v), 0;
    *out = (uint64_t)(x * mult);
    return 1;
}

static void gib(uint64_t b, char *buf, size_t n) { snprintf(buf, n, "%.2f GiB", (double)b / (1024.0 * 1024 * 1024)); }

static void speed_text(const loam_pick_row *r, char *buf, size_t n) {
    if (r->realtime_factor > 0) snprintf(buf, n, "%.1fx RT", r->realtime_factor);
    else if (r->seconds_per_image > 0) snprintf(buf, n, "%.0f s/img", r->seconds_per_image);
    else if (r->tokens_per_s > 0) snprintf(buf, n, "%.1f t/s", r->tokens_per_s);
    else snprintf(buf, n, "-");
}

static cJSON *row_json(const loam_pick_row *r) {
    cJSON *o = cJSON_CreateObject(), *tasks = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", r->model);
    cJSON_AddStringToObject(o, "variant", r->variant);
    cJSON_AddStringToObject(o, "quant", r->quant);
    cJSON_AddStringToObject(o, "hub", r->hub);
    cJSON_AddStringToObject(o, "pull", r->pull);
    char buf[sizeof r->tasks], *save = NULL;
    snprintf(buf, sizeof buf, "%s", r->tasks);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) cJSON_AddItemToArray(tasks, cJSON_CreateString(t));
    cJSON_AddItemToObject(o, "tasks", tasks);
    cJSON_AddStringToObject(o, "licence", r->licence);
    cJSON_AddBoolToObject(o, "commercial", r->commercial);
    cJSON_AddBoolToObject(o, "gated", r->gated);
    cJSON_AddStringToObject(o, "benchmark", r->benchmark);
    cJSON_AddNumberToObject(o, "n_params", (double)r->n_params);
    cJSON_AddNumberToObject(o, "context", (double)r->context);
    cJSON_AddNumberToObject(o, "max_context", (double)r->max_context);
    cJSON_AddNumberToObject(o, "weights_bytes", (double)r->weights_bytes);
    cJSON_AddNumberToObject(o, "kv_bytes_per_token", (double)r->kv_bytes_per_token);
    cJSON_AddNumberToObject(o, "kv_bytes", (double)r->kv_bytes);
    cJSON_AddNumberToObject(o, "scratch_bytes", (double)r->scratch_bytes);
    cJSON_AddNumberToObject(o, "overhead_bytes", (double)r->overhead_bytes);
    cJSON_AddNumberToObject(o, "total_bytes", (double)r->total_bytes);
    cJSON_AddNumberToObject(o, "ram_bytes", (double)r->ram_bytes);
    cJSON_AddNumberToObject(o, "reserve_bytes", (double)r->reserve_bytes);
    cJSON_AddBoolToObject(o, "fits", r->fits);
    /* speeds that were not measured (or do not apply) are null */
#define SPEED(key, v) ((v) > 0 ? cJSON_AddNumberToObject(o, key, v) : cJSON_AddNullToObject(o, key))
    SPEED("tokens_per_s", r->tokens_per_s);
    SPEED("prefill_tokens_per_s", r->prefill_tokens_per_s);
    SPEED("realtime_factor", r->realtime_factor);
    SPEED("seconds_per_image", r->seconds_per_image);
#undef SPEED
    cJSON_AddStringToObject(o, "why", r->why);
    return o;
}

static void print_machine(const loam_pick_params *p) {
    loam_machine_info m;
    loam_machine_get_info(NULL, &m);
    char ram[32], fr[32], disk[32];
    gib(m.ram_bytes, ram, sizeof ram), gib(m.free_ram_bytes, fr, sizeof fr), gib(m.free_disk_bytes, disk, sizeof disk);
    printf("machine: %s (%s), %d cores, RAM %s (%s free), %s free for models, GPU: %s%s\n", m.cpu, m.simd, m.cores, ram, fr, disk,
           m.gpu[0] ? m.gpu : "none found", m.gpu[0] ? " (loam runs on the CPU)" : "");
    uint64_t plan_ram = p->ram_bytes ? p->ram_bytes : m.ram_bytes;
    char pr[32], rs[32];
    gib(plan_ram, pr, sizeof pr), gib(loam_pick_reserve(plan_ram), rs, sizeof rs);
    printf("planning: task %s%s%s, context %lld, %s RAM (%s kept free)%s%s\n\n", p->task ? p->task : p->all ? "any" : "chat",
           p->lang ? ", language " : "", p->lang ? p->lang : "", (long long)(p->context ? p->context : 4096), pr, rs,
           p->commercial ? ", commercial use" : "", p->variant ? ", variant " : "");
}

static void print_table(const loam_pick_row *rows, int n, const loam_pick_rates *rates, int measured) {
    printf("%-3s %-22s %-11s %-7s %-10s %-10s %-4s %-30s %s\n", "#", "MODEL", "VARIANT", "QUANT", "MEMORY", "SPEED", "FITS", "LICENCE", "WHY");
    for (int i = 0; i < n; i++) {
        const loam_pick_row *r = &rows[i];
        char mem[32], sp[32];
        gib(r->total_bytes, mem, sizeof mem);
        speed_text(r, sp, sizeof sp);
        printf("%-3d %-22s %-11s %-7s %-10s %-10s %-4s %-30.30s %s\n", i + 1, r->model, r->variant, r->quant, mem, sp,
               r->fits ? "yes" : "no", r->licence, r->why);
        int convert = !strchr(r->pull, ':') && strcmp(r->quant, "f16") && r->tokens_per_s >= 0 && !r->realtime_factor && !r->seconds_per_image;
        if (convert) printf("    loam pull %s, then loam quantize it --type %s\n", r->pull, r->quant);
        else printf("    loam pull %s\n", r->pull);
    }
    if (!n) printf("(nothing in the catalogue matches and fits: try --all to see every model with its memory)\n");
    if (measured) printf("\nspeeds from products measured on %s with %d threads\n", rates->cpu, rates->threads);
}

/* loam synth + loam bench of the model's real shape, when it fits. */
static int measure_model(const char *model, const char *quant) {
    loam_error err;
    int64_t n_params;
    uint64_t bytes;
    if (loam_synth_estimate(model, quant, &n_params, &bytes, &err) != LOAM_OK) return cli_error_status(&err);
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    loam_machine_info m;
    loam_machine_get_info(tmp, &m);
    char b[32], d[32], r[32];
    gib(bytes, b, sizeof b), gib(m.free_disk_bytes, d, sizeof d), gib(m.free_ram_bytes, r, sizeof r);
    if (bytes + (1ull << 30) > m.free_disk_bytes) return cli_error("pick --measure: %s at %s is %s; %s has %s free", model, quant, b, tmp, d);
    if (bytes + (1ull << 30) > m.free_ram_bytes) return cli_error("pick --measure: %s at %s is %s; %s of RAM is free", model, quant, b, r);
    char path[4096], cmd[8400];
    snprintf(path, sizeof path, "%s/loam-measure-%d-%s-%s.gguf", tmp, (int)getpid(), model, quant);
    fprintf(stderr, "writing %s (%s, random weights of the real shape)\n", path, b);
    if (loam_synth(model, quant, path, NULL, NULL, &err) != LOAM_OK) return unlink(path), cli_error_status(&err);
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return unlink(path), cli_error("pick --measure: cannot find the loam program itself");
    self[len] = 0;
    snprintf(cmd, sizeof cmd, "'%s' bench '%s' -p 512 -n 128 -r 1", self, path);
    int rc = system(cmd);
    unlink(path);
    /* beside it, what loam pick expects */
    loam_pick_params p = loam_pick_default_params();
    p.model = model, p.quant = quant;
    loam_pick_row *rows;
    int n;
    if (rc == 0 && loam_pick(&p, &rows, &n, NULL, &err) == LOAM_OK) {
        if (n > 0 && rows[0].tokens_per_s > 0)
            printf("\nloam pick expected: %.1f tokens/s decode, %.1f tokens/s prefill (--explain %s shows why)\n", rows[0].tokens_per_s,
                   rows[0].prefill_tokens_per_s, model);
        loam_pick_rows_free(rows);
    }
    return rc == 0 ? 0 : 1;
}

int cmd_pick(int argc, char **argv) {
    loam_pick_params p = loam_pick_default_params();
    int json = 0;
    const char *explain = NULL, *measure = NULL;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return fputs(pick_usage, stdout), 0;
        else if (!strcmp(a, "--task") && val) p.task = val, i++;
        else if (!strcmp(a, "--lang") && val) p.lang = val, i++;
        else if (!strcmp(a, "--variant") && val) p.variant = val, i++;
        else if (!strcmp(a, "--quant") && val) p.quant = val, i++;
        else if (!strcmp(a, "--explain") && val) explain = val, i++;
        else if (!strcmp(a, "--measure") && val) measure = val, i++;
        else if (!strcmp(a, "--context")) {
            uint64_t c;
            if (!val) return cli_error("--context needs a number of positions");
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%s", val);
            size_t n = strlen(tmp);
            if (n && (tmp[n - 1] == 'k' || tmp[n - 1] == 'K')) tmp[n - 1] = 0, c = 1024;
            else c = 1;
            if (!cli_int("--context", tmp, 1, 1 << 24, &v)) return 1;
            p.context = (int64_t)v * (int64_t)c, i++;
        } else if (!strcmp(a, "--ram")) {
            if (!parse_size(a, val, &p.ram_bytes)) return 1;
            i++;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_int(a, val, 1, 1024, &v)) return 1;
            p.n_threads = (int)v, i++;
        } else if (!strcmp(a, "--kv-type")) {
            if (!val || !loam_kv_type_parse(val, &p.kv_type)) return cli_error("--kv-type needs f32, f16 or q8_0");
            i++;
        } else if (!strcmp(a, "--commercial")) p.commercial = 1;
        else if (!strcmp(a, "--all")) p.all = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--no-measure")) p.measure = 0;
        else if (!strcmp(a, "--remeasure")) p.remeasure = 1;
        else return cli_error("pick: unknown or incomplete option \"%s\" (see loam pick --help)", a);
    }
    if (measure) return measure_model(measure, p.quant ? p.quant : "q4_0");
    if (explain) p.model = explain;
    loam_pick_row *rows;
    int n;
    loam_pick_rates rates;
    loam_error err;
    if (loam_pick(&p, &rows, &n, &rates, &err) != LOAM_OK) return cli_error_status(&err);
    if (explain && !n) return loam_pick_rows_free(rows), cli_error("pick: no catalogue model \"%s\"", explain);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, row_json(&rows[i]));
        char *text = cJSON_Print(arr);
        puts(text ? text : "[]");
        free(text);
        cJSON_Delete(arr);
    } else if (explain) {
        for (int i = 0; i < n; i++) {
            char mem[32];
            gib(rows[i].total_bytes, mem, sizeof mem);
            printf("%s %s at %s: %s in all, %s\n%s\n", rows[i].model, rows[i].variant, rows[i].quant, mem, rows[i].why, rows[i].explain);
        }
    } else {
        print_machine(&p);
        print_table(rows, n, &rates, p.measure);
    }
    loam_pick_rows_free(rows);
    return 0;
}
