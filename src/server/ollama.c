/* ollama's routes: /api/generate, /api/chat (newline-delimited JSON
 * streams, on by default as in ollama), /api/tags, /api/show. Options use
 * ollama's names (num_predict, repeat_penalty, ...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "params.h"

/* ollama's option names and the ranges it takes. */
static const srv_sampling_field ollama_sampling[] = {
    {"temperature", 0, 100, 0, SP_TEMPERATURE},     {"top_p", 0, 1, 0, SP_TOP_P},
    {"top_k", 0, 1e9, 1, SP_TOP_K},                 {"min_p", 0, 1, 0, SP_MIN_P},
    {"repeat_penalty", 0, 100, 0, SP_REPEAT},       {"presence_penalty", -100, 100, 0, SP_PRESENCE},
    {"frequency_penalty", -100, 100, 0, SP_FREQUENCY},
    {"seed", -9007199254740991.0, 9007199254740991.0, 1, SP_SEED},
};

/* options {...} into the request; 0 after the error. */
static int options(srv_server *s, srv_engine *e, const cJSON *b, srv_request *r, srv_reply *out) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, "options");
    r->sampling = loam_model_sampling_params(srv_engine_model(e));
    r->sampling.seed = (uint64_t)time(NULL);
    r->max_tokens = s->cfg->max_tokens;
    if (o && !cJSON_IsNull(o) && !cJSON_IsObject(o)) return srv_error(out, 400, "options", "invalid_type", "options must be an object"), 0;
    if (!o || cJSON_IsNull(o)) return 1;
    if (!srv_param_sampling(o, ollama_sampling, (int)(sizeof ollama_sampling / sizeof *ollama_sampling), &r->sampling, out)) return 0;
    /* -1: until the context is full (capped as every request is) */
    double v;
    int got = srv_param_number(o, "num_predict", -2, 1e9, 1, &v, out);
    if (got < 0) return 0;
    if (got && v > 0) r->max_tokens = v < s->cfg->max_tokens ? (int)v : s->cfg->max_tokens;
    return srv_param_stop(o, "stop", 16, r, out) >= 0;
}

static srv_engine *model_of(srv_server *s, const cJSON *b, srv_job *job, srv_reply *out) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (!cJSON_IsString(m)) return srv_error(out, 400, "model", "missing_required_parameter", "model is required"), NULL;
    srv_engine *e = srv_find_engine(s, m->valuestring);
    if (!e) return srv_error(out, 404, "model", "model_not_found", "model \"%s\" not found", m->valuestring), NULL;
    int stream = srv_param_bool(b, "stream", 1, out);
    if (stream < 0) return NULL;
    job->engine = e, job->stream = stream, job->created = (long)time(NULL);
    snprintf(job->model, sizeof job->model, "%s", m->valuestring);
    return e;
}

void srv_ollama_generate(srv_server *s, const cJSON *b, srv_reply *out) {
    srv_job job = {.format = FORMAT_OLLAMA_GENERATE};
    srv_engine *e = model_of(s, b, &job, out);
    if (!e) return;
    srv_request *r = srv_request_new();
    if (!r) return srv_error(out, 500, NULL, NULL, "out of memory");
    job.req = r;
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(b, "prompt");
    if (!options(s, e, b, r, out)) return srv_request_release(e, r);
    if (prompt && !cJSON_IsString(prompt)) {
        srv_error(out, 400, "prompt", "invalid_type", "prompt must be a string");
        return srv_request_release(e, r);
    }
    if (!prompt || !prompt->valuestring[0]) {
        /* ollama: an empty prompt loads the model and answers done */
        srv_request_release(e, r);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", job.model);
        cJSON_AddStringToObject(o, "response", "");
        cJSON_AddBoolToObject(o, "done", 1);
        cJSON_AddStringToObject(o, "done_reason", "load");
        return srv_json(out, 200, o);
    }
    /* raw (or no template): the text as loam run takes it; else as one user message */
    int raw = srv_param_bool(b, "raw", 0, out);
    if (raw < 0) return srv_request_release(e, r);
    int ok;
    if (raw || !loam_tokenizer_chat_template(srv_engine_tokenizer(e))) {
        ok = srv_text_prompt(e, prompt, "prompt", r, out);
    } else {
        cJSON *msgs = cJSON_CreateArray(), *m;
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(b, "system");
        if (cJSON_IsString(sys) && sys->valuestring[0]) {
            cJSON_AddItemToArray(msgs, m = cJSON_CreateObject());
            cJSON_AddStringToObject(m, "role", "system"), cJSON_AddStringToObject(m, "content", sys->valuestring);
        }
        cJSON_AddItemToArray(msgs, m = cJSON_CreateObject());
        cJSON_AddStringToObject(m, "role", "user"), cJSON_AddStringToObject(m, "content", prompt->valuestring);
        ok = srv_chat_prompt(e, msgs, NULL, r, out);
        cJSON_Delete(msgs);
    }
    if (!ok) return srv_request_release(e, r);
    srv_submit_job(s, &job, !raw, out);
}

void srv_ollama_chat(srv_server *s, const cJSON *b, srv_reply *out) {
    srv_job job = {.format = FORMAT_OLLAMA_CHAT};
    srv_engine *e = model_of(s, b, &job, out);
    if (!e) return;
    srv_request *r = srv_request_new();
    if (!r) return srv_error(out, 500, NULL, NULL, "out of memory");
    job.req = r;
    if (!options(s, e, b, r, out) || !srv_chat_prompt(e, cJSON_GetObjectItemCaseSensitive(b, "messages"), cJSON_GetObjectItemCaseSensitive(b, "tools"), r, out))
        return srv_request_release(e, r);
    job.tools = cJSON_GetObjectItemCaseSensitive(b, "tools");
    srv_submit_job(s, &job, 1, out);
}

static cJSON *details(srv_engine *e) {
    loam_model_info in;
    loam_model_get_info(srv_engine_model(e), &in);
    cJSON *d = cJSON_CreateObject(), *fam = cJSON_CreateArray();
    char size[32];
    snprintf(size, sizeof size, "%.1fB", (double)in.n_params / 1e9);
    cJSON_AddStringToObject(d, "format", strstr(in.architecture, "gguf") ? "gguf" : "safetensors");
    cJSON_AddStringToObject(d, "family", in.model_type);
    cJSON_AddItemToArray(fam, cJSON_CreateString(in.model_type));
    cJSON_AddItemToObject(d, "families", fam);
    cJSON_AddStringToObject(d, "parameter_size", size);
    cJSON_AddStringToObject(d, "quantization_level", in.dtype);
    return d;
}

void srv_ollama_tags(srv_server *s, srv_reply *out) {
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "models");
    char when[64];
    time_t t = (time_t)time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < s->n_engines; i++) {
        srv_engine *e = s->engines[i];
        loam_model_info in;
        loam_model_get_info(srv_engine_model(e), &in);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", srv_engine_name(e));
        cJSON_AddStringToObject(m, "model", srv_engine_name(e));
        cJSON_AddStringToObject(m, "modified_at", when);
        cJSON_AddNumberToObject(m, "size", (double)in.weight_bytes);
        cJSON_AddStringToObject(m, "digest", "");
        cJSON_AddItemToObject(m, "details", details(e));
        cJSON_AddItemToArray(list, m);
    }
    srv_json(out, 200, o);
}

void srv_ollama_show(srv_server *s, const cJSON *b, srv_reply *out) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(b, "name");
    if (!cJSON_IsString(m)) return srv_error(out, 400, "model", "missing_required_parameter", "model is required");
    srv_engine *e = srv_find_engine(s, m->valuestring);
    if (!e) return srv_error(out, 404, "model", "model_not_found", "model \"%s\" not found", m->valuestring);
    loam_model_info in;
    loam_model_get_info(srv_engine_model(e), &in);
    const char *tpl = loam_tokenizer_chat_template(srv_engine_tokenizer(e));
    cJSON *o = cJSON_CreateObject(), *info = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "modelfile", "");
    cJSON_AddStringToObject(o, "parameters", "");
    cJSON_AddStringToObject(o, "template", tpl ? tpl : "");
    cJSON_AddItemToObject(o, "details", details(e));
    cJSON_AddStringToObject(info, "general.architecture", in.model_type);
    cJSON_AddNumberToObject(info, "general.parameter_count", (double)in.n_params);
    cJSON_AddNumberToObject(info, "context_length", in.n_ctx_train);
    cJSON_AddNumberToObject(info, "embedding_length", in.n_embd);
    cJSON_AddNumberToObject(info, "block_count", in.n_layers);
    cJSON_AddItemToObject(o, "model_info", info);
    srv_json(out, 200, o);
}
