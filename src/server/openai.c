/* OpenAI's routes: /v1/chat/completions, /v1/completions, /v1/models.
 * Fields are validated as OpenAI does (type and range, 400 naming the
 * field); unknown fields are ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "params.h"

void srv_openai_models(srv_server *s, srv_reply *out) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data");
    cJSON_AddStringToObject(o, "object", "list");
    const char *names[3 * SRV_MAX_MODELS];
    int n = 0;
    for (int i = 0; i < s->n_engines; i++) names[n++] = srv_engine_name(s->engines[i]);
    for (int i = 0; i < s->n_speech; i++) names[n++] = s->speech[i].name;
    for (int i = 0; i < s->n_image; i++) names[n++] = s->image[i].name;
    for (int i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", names[i]);
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", (double)(long)s->started);
        cJSON_AddStringToObject(m, "owned_by", "loam");
        cJSON_AddItemToArray(data, m);
    }
    srv_json(out, 200, o);
}

/* OpenAI's sampling fields and ranges, with llama.cpp's extensions (top_k,
 * min_p, repeat_penalty) that many OpenAI clients send. */
static const srv_sampling_field openai_sampling[] = {
    {"temperature", 0, 2, 0, SP_TEMPERATURE},           {"top_p", 0, 1, 0, SP_TOP_P},
    {"presence_penalty", -2, 2, 0, SP_PRESENCE},        {"frequency_penalty", -2, 2, 0, SP_FREQUENCY},
    {"seed", -9007199254740991.0, 9007199254740991.0, 1, SP_SEED},
    {"top_k", 0, 1e9, 1, SP_TOP_K},                     {"min_p", 0, 1, 0, SP_MIN_P},
    {"repeat_penalty", 0, 100, 0, SP_REPEAT},
};

/* The OpenAI sampling fields into the request. 0 after writing the error. */
static int openai_fields(srv_server *s, srv_engine *e, const cJSON *b, srv_job *job, srv_reply *out) {
    srv_request *r = job->req;
    double v;
    r->sampling = loam_model_sampling_params(srv_engine_model(e));
    r->sampling.seed = (uint64_t)time(NULL);
    if (!srv_param_sampling(b, openai_sampling, (int)(sizeof openai_sampling / sizeof *openai_sampling), &r->sampling, out)) return 0;
    int got_n = srv_param_number(b, "n", 1, SRV_MAX_CHOICES, 1, &v, out);
    if (got_n < 0) return 0;
    job->n_choices = got_n ? (int)v : 1;
    int cap = s->cfg->max_tokens, got;
    r->max_tokens = cap;
    if ((got = srv_param_number(b, "max_tokens", 1, cap, 1, &v, out)) < 0) return 0;
    if (got) r->max_tokens = (int)v;
    if ((got = srv_param_number(b, "max_completion_tokens", 1, cap, 1, &v, out)) < 0) return 0;
    if (got) r->max_tokens = (int)v;
    if (srv_param_stop(b, "stop", 4, r, out) < 0) return 0;
    int ignore = srv_param_bool(b, "ignore_eos", 0, out); /* llama.cpp's extension */
    if (ignore < 0) return 0;
    r->ignore_eos = ignore;
    return srv_param_logit_bias(b, loam_tokenizer_n_vocab(srv_engine_tokenizer(e)), r, out) >= 0;
}

/* chat: logprobs (boolean) and top_logprobs (0..20); completions: logprobs (0..5). */
static int logprob_fields(const cJSON *b, int chat, srv_request *r, srv_reply *out) {
    double v;
    if (!chat) {
        int got = srv_param_number(b, "logprobs", 0, 5, 1, &v, out);
        if (got < 0) return 0;
        if (got) r->top_logprobs = (int)v;
        return 1;
    }
    int on = srv_param_bool(b, "logprobs", 0, out);
    if (on < 0) return 0;
    int got = srv_param_number(b, "top_logprobs", 0, SRV_MAX_TOP_LOGPROBS, 1, &v, out);
    if (got < 0) return 0;
    if (got && !on) return srv_error(out, 400, "top_logprobs", "invalid_value", "top_logprobs needs logprobs: true"), 0;
    if (on) r->top_logprobs = got ? (int)v : 0;
    return 1;
}

/* model, stream, stream_options: shared by both generation routes. */
static srv_engine *common(srv_server *s, const cJSON *b, srv_job *job, srv_reply *out) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (model && !cJSON_IsString(model)) return srv_error(out, 400, "model", "invalid_type", "model must be a string"), NULL;
    srv_engine *e = srv_find_engine(s, model ? model->valuestring : NULL);
    if (!e) {
        if (model) srv_error(out, 404, "model", "model_not_found", "The model `%s` does not exist", model->valuestring);
        else srv_error(out, 400, "model", "missing_required_parameter", "model is required (this server holds several)");
        return NULL;
    }
    int stream = srv_param_bool(b, "stream", 0, out);
    if (stream < 0) return NULL;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(b, "stream_options");
    if (so && !cJSON_IsNull(so) && !cJSON_IsObject(so))
        return srv_error(out, 400, "stream_options", "invalid_type", "stream_options must be an object"), NULL;
    int usage = so && cJSON_IsObject(so) ? srv_param_bool(so, "include_usage", 0, out) : 0;
    if (usage < 0) return NULL;
    job->engine = e;
    job->stream = stream, job->include_usage = usage;
    job->created = (long)time(NULL);
    snprintf(job->model, sizeof job->model, "%s", srv_engine_name(e));
    return e;
}

static void release_choices(srv_engine *e, srv_job *job, int cancel) {
    for (int i = 0; i < job->n_choices; i++) {
        if (cancel) srv_engine_cancel(e, job->choice[i]);
        srv_request_release(e, job->choice[i]);
    }
}

/* Submits the asked request as n choices: choice i samples with seed + i
 * (OpenAI's n gives different answers; under greedy decoding they agree). */
static void submit(srv_server *s, srv_job *job, int for_chat, srv_reply *out) {
    loam_error err;
    srv_engine *e = job->engine;
    int n = job->n_choices > 0 ? job->n_choices : 1;
    if (job->req->n_prompt + 1 > srv_engine_n_ctx(e)) {
        srv_error(out, 400, "messages", "context_length_exceeded", "the prompt is %d tokens; the context holds %d", job->req->n_prompt,
                  srv_engine_n_ctx(e));
        srv_request_release(e, job->req);
        return;
    }
    job->choice[0] = job->req, job->n_choices = 1;
    for (int i = 1; i < n; i++) {
        if (!(job->choice[i] = srv_request_clone(job->req))) {
            release_choices(e, job, 0);
            return srv_error(out, 500, NULL, NULL, "out of memory");
        }
        job->choice[i]->sampling.seed += (uint64_t)i;
        job->n_choices++;
    }
    for (int i = 0; i < n; i++) {
        if (srv_engine_submit(e, job->choice[i], for_chat, &err) != LOAM_OK) {
            srv_error(out, 429, NULL, "queue_full", "%s", err.message);
            release_choices(e, job, 1); /* the ones queued end at the engine's next step */
            return;
        }
    }
    srv_job_finish(s, job, out);
}

void srv_openai_chat(srv_server *s, const cJSON *b, srv_reply *out) {
    srv_job job = {.format = FORMAT_OPENAI_CHAT};
    srv_engine *e = common(s, b, &job, out);
    if (!e) return;
    srv_request *r = srv_request_new();
    if (!r) return srv_error(out, 500, NULL, NULL, "out of memory");
    job.req = r;
    if (!openai_fields(s, e, b, &job, out) || !logprob_fields(b, 1, r, out) ||
        !srv_chat_prompt(e, cJSON_GetObjectItemCaseSensitive(b, "messages"), cJSON_GetObjectItemCaseSensitive(b, "tools"), r, out))
        return srv_request_release(e, r);
    srv_new_id(s, "chatcmpl-", job.id, sizeof job.id);
    job.tools = cJSON_GetObjectItemCaseSensitive(b, "tools");
    submit(s, &job, 1, out);
}

void srv_openai_completions(srv_server *s, const cJSON *b, srv_reply *out) {
    srv_job job = {.format = FORMAT_OPENAI_COMPLETION};
    srv_engine *e = common(s, b, &job, out);
    if (!e) return;
    srv_request *r = srv_request_new();
    if (!r) return srv_error(out, 500, NULL, NULL, "out of memory");
    job.req = r;
    if (!openai_fields(s, e, b, &job, out) || !logprob_fields(b, 0, r, out) ||
        !srv_text_prompt(e, cJSON_GetObjectItemCaseSensitive(b, "prompt"), "prompt", r, out))
        return srv_request_release(e, r);
    srv_new_id(s, "cmpl-", job.id, sizeof job.id);
    submit(s, &job, 0, out);
}

void srv_submit_job(srv_server *s, srv_job *job, int for_chat, srv_reply *out) { submit(s, job, for_chat, out); }
