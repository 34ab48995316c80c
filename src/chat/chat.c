/* Chat prompts: the model's template rendered with the conversation, the
 * way transformers' apply_chat_template calls it (messages, tools (None when
 * absent), add_generation_prompt, the special-token names). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "chat/jinja.h"

const char *loam_tokenizer_chat_template(const loam_tokenizer *tok) { return tok ? tok->chat_template : NULL; }

static loam_status parse_json_arg(const char *text, const char *what, int want_array, cJSON **out, loam_error *err) {
    *out = NULL;
    if (!text) return LOAM_OK;
    *out = cJSON_Parse(text);
    if (!*out) return loam_fail(err, LOAM_E_ARG, "%s is not valid JSON", what);
    loam_json_mark_floats(*out, text); /* 3.0 stays a float, as Python's json reads it */
    if (want_array ? !cJSON_IsArray(*out) : !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return loam_fail(err, LOAM_E_ARG, "%s must be a JSON %s", what, want_array ? "array" : "object");
    }
    return LOAM_OK;
}

loam_status loam_chat_apply_template(const loam_tokenizer *tok, const char *template_override, const char *messages_json,
                                     const char *tools_json, const char *extra_vars_json, int add_generation_prompt, char **out,
                                     loam_error *err) {
    *out = NULL;
    const char *source = template_override ? template_override : loam_tokenizer_chat_template(tok);
    if (!source)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: the tokenizer has no chat_template (give one with --chat-template)",
                         tok && tok->source ? tok->source : "tokenizer");
    cJSON *messages = NULL, *tools = NULL, *extra = NULL, *vars = cJSON_CreateObject();
    loam_status st = vars ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) st = parse_json_arg(messages_json ? messages_json : "[]", "messages", 1, &messages, err);
    if (!st) st = parse_json_arg(tools_json, "tools", 1, &tools, err);
    if (!st) st = parse_json_arg(extra_vars_json, "template variables", 0, &extra, err);
    if (!st) {
        if (tok && tok->bos_token) cJSON_AddStringToObject(vars, "bos_token", tok->bos_token);
        if (tok && tok->eos_token) cJSON_AddStringToObject(vars, "eos_token", tok->eos_token);
        cJSON_AddItemToObject(vars, "messages", messages);
        messages = NULL;
        cJSON_AddItemToObject(vars, "tools", tools ? tools : cJSON_CreateNull());
        tools = NULL;
        cJSON_AddBoolToObject(vars, "add_generation_prompt", add_generation_prompt);
        /* extra variables override the defaults */
        for (cJSON *v = extra ? extra->child : NULL; v; v = v->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(vars, v->string);
            cJSON_AddItemToObject(vars, v->string, cJSON_Duplicate(v, 1));
        }
        st = loam_jinja_render(source, vars, out, err);
    }
    cJSON_Delete(messages);
    cJSON_Delete(tools);
    cJSON_Delete(extra);
    cJSON_Delete(vars);
    return st;
}

/* Special tokens chat models end a turn with, where the generation config
 * may not list them (older exports, GGUFs): Llama 3, Gemma, ChatML, Phi-3. */
static const char *const turn_ends[] = {"<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|im_end|>", "<|end|>"};

static int add_unique(int32_t *ids, int n, int cap, int32_t id) {
    if (id < 0 || n >= cap) return n;
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return n;
    ids[n] = id;
    return n + 1;
}

int loam_stop_tokens(const loam_model *model, const loam_tokenizer *tok, int for_chat, int32_t *ids, int cap) {
    int n = 0;
    if (model) {
        loam_model_info info;
        loam_model_get_info(model, &info);
        for (int i = 0; i < info.n_eos; i++) n = add_unique(ids, n, cap, info.eos_ids[i]);
    }
    /* transformers stops on the generation config's ids; the tokenizer's
     * eos_token stands in only where the model names none */
    if (n == 0 && tok && tok->eos_token) n = add_unique(ids, n, cap, loam_token_id(tok, tok->eos_token));
    for (size_t i = 0; for_chat && tok && i < sizeof turn_ends / sizeof *turn_ends; i++)
        n = add_unique(ids, n, cap, loam_token_id(tok, turn_ends[i]));
    return n;
}
