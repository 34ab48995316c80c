/* POST /v1/embeddings: the mean of the last hidden state (after the final
 * norm) over the input's tokens, scaled to length 1, for every family (they
 * are all decoder-only; this is llama.cpp's "mean" pooling). Each input is
 * computed in a context of its own, beside the decode loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "params.h"

/* One text's embedding into vec[n_embd]; 0 after writing the error. */
static int embed_one(srv_engine *e, const cJSON *input, int index, float *vec, int *n_tokens, srv_reply *out) {
    srv_request *r = srv_request_new();
    if (!r) return srv_error(out, 500, NULL, NULL, "out of memory"), 0;
    int ok = srv_text_prompt(e, input, "input", r, out);
    if (ok && r->n_prompt > srv_engine_n_ctx(e)) {
        srv_error(out, 400, "input", "context_length_exceeded", "input[%d] is %d tokens; the context holds %d", index, r->n_prompt,
                  srv_engine_n_ctx(e));
        ok = 0;
    }
    loam_model *m = (loam_model *)srv_engine_model(e);
    loam_model_info in;
    loam_model_get_info(m, &in);
    loam_context *ctx = NULL;
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = r->n_prompt + 1, cp.capture_hidden = 1;
    int32_t *pos = ok ? malloc((size_t)r->n_prompt * sizeof *pos) : NULL, *seq = ok ? calloc((size_t)r->n_prompt, sizeof *seq) : NULL;
    int8_t *want = ok ? calloc((size_t)r->n_prompt, 1) : NULL;
    loam_error err;
    if (ok && (!pos || !seq || !want)) ok = 0, srv_error(out, 500, NULL, NULL, "out of memory");
    if (ok && loam_context_open(m, &cp, &ctx, &err) != LOAM_OK) ok = 0, srv_error(out, 500, NULL, NULL, "%s", err.message);
    if (ok) {
        for (int i = 0; i < r->n_prompt; i++) pos[i] = i;
        want[r->n_prompt - 1] = 1;
        loam_batch b = {.n_tokens = r->n_prompt, .token = r->prompt, .pos = pos, .seq_id = seq, .want_logits = want};
        if (loam_decode(ctx, &b, &err) != LOAM_OK) ok = 0, srv_error(out, 500, NULL, NULL, "%s", err.message);
    }
    if (ok) {
        double norm = 0;
        for (int k = 0; k < in.n_embd; k++) {
            double sum = 0;
            for (int t = 0; t < r->n_prompt; t++) sum += loam_get_hidden(ctx, in.n_layers, t)[k];
            vec[k] = (float)(sum / r->n_prompt);
            norm += (double)vec[k] * vec[k];
        }
        norm = sqrt(norm);
        for (int k = 0; k < in.n_embd && norm > 0; k++) vec[k] = (float)(vec[k] / norm);
        *n_tokens = r->n_prompt;
    }
    loam_context_free(ctx);
    free(pos), free(seq), free(want);
    srv_request_release(e, r);
    return ok;
}

/* encoding_format "base64": the float32 values, little-endian, in base64
 * (what the openai packages ask for by default). */
static char *base64_floats(const float *v, int n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *b = (const unsigned char *)v;
    size_t len = (size_t)n * 4, w = 0;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned x = (unsigned)b[i] << 16 | (i + 1 < len ? (unsigned)b[i + 1] << 8 : 0) | (i + 2 < len ? b[i + 2] : 0);
        out[w++] = tbl[x >> 18 & 63], out[w++] = tbl[x >> 12 & 63];
        out[w++] = i + 1 < len ? tbl[x >> 6 & 63] : '=';
        out[w++] = i + 2 < len ? tbl[x & 63] : '=';
    }
    out[w] = 0;
    return out;
}

void srv_openai_embeddings(srv_server *s, const cJSON *b, srv_reply *out) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model"), *input = cJSON_GetObjectItemCaseSensitive(b, "input");
    if (model && !cJSON_IsString(model)) return srv_error(out, 400, "model", "invalid_type", "model must be a string");
    srv_engine *e = srv_find_engine(s, model ? model->valuestring : NULL);
    if (!e) return srv_error(out, 404, "model", "model_not_found", "The model `%s` does not exist", model ? model->valuestring : "");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(b, "encoding_format");
    int b64 = cJSON_IsString(enc) && !strcmp(enc->valuestring, "base64");
    if (enc && !cJSON_IsNull(enc) && !b64 && !(cJSON_IsString(enc) && !strcmp(enc->valuestring, "float")))
        return srv_error(out, 400, "encoding_format", "invalid_value", "encoding_format must be \"float\" or \"base64\"");
    /* one string, a list of strings, one list of token ids */
    int many = cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0 && cJSON_IsString(cJSON_GetArrayItem(input, 0));
    int n = many ? cJSON_GetArraySize(input) : 1;
    if (!input || (!cJSON_IsString(input) && !cJSON_IsArray(input)) || n > 256)
        return srv_error(out, 400, "input", input ? "invalid_type" : "missing_required_parameter",
                         "input must be a string, a list of up to 256 strings, or a list of token ids");
    loam_model_info in;
    loam_model_get_info(srv_engine_model(e), &in);
    float *vec = malloc((size_t)in.n_embd * sizeof *vec);
    if (!vec) return srv_error(out, 500, NULL, NULL, "out of memory");
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data");
    cJSON_AddStringToObject(o, "object", "list");
    int total = 0, ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const cJSON *one = many ? cJSON_GetArrayItem(input, i) : input;
        if (many && !cJSON_IsString(one)) {
            srv_error(out, 400, "input", "invalid_type", "input[%d] must be a string", i);
            ok = 0;
            break;
        }
        int tokens = 0;
        if (!(ok = embed_one(e, one, i, vec, &tokens, out))) break;
        total += tokens;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "object", "embedding");
        cJSON_AddNumberToObject(d, "index", i);
        if (b64) {
            char *s64 = base64_floats(vec, in.n_embd);
            cJSON_AddStringToObject(d, "embedding", s64 ? s64 : "");
            free(s64);
        } else {
            cJSON *arr = cJSON_AddArrayToObject(d, "embedding");
            for (int k = 0; k < in.n_embd; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(vec[k]));
        }
        cJSON_AddItemToArray(data, d);
    }
    free(vec);
    if (!ok) return cJSON_Delete(o);
    cJSON_AddStringToObject(o, "model", srv_engine_name(e));
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", total);
    cJSON_AddNumberToObject(u, "total_tokens", total);
    srv_json(out, 200, o);
}
