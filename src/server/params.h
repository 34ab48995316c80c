/* Request fields, checked: numbers in range, booleans, stop strings, and
 * the prompt (text, token ids, or chat messages through the template). */
#ifndef LOAM_SERVER_PARAMS_H
#define LOAM_SERVER_PARAMS_H
#include "api.h"

/* 0 absent (or null), 1 present and valid (*v), -1 after a 400 naming key. */
int srv_param_number(const cJSON *o, const char *key, double lo, double hi, int integer, double *v, srv_reply *out);
/* The sampling fields a wire format names, each with its range: one table
 * per format (OpenAI's names and ranges, ollama's options). */
typedef enum { SP_TEMPERATURE, SP_TOP_P, SP_TOP_K, SP_MIN_P, SP_REPEAT, SP_PRESENCE, SP_FREQUENCY, SP_SEED } srv_sampling_key;
typedef struct {
    const char *key;
    double lo, hi;
    int integer;
    srv_sampling_key field;
} srv_sampling_field;
/* Reads the fields present into sp; 0 after a 400 naming the field. */
int srv_param_sampling(const cJSON *o, const srv_sampling_field *fields, int n, loam_sampling_params *sp, srv_reply *out);

/* The boolean, dflt when absent; -1 after a 400. */
int srv_param_bool(const cJSON *o, const char *key, int dflt, srv_reply *out);
/* A string or a list of at most max strings into r->stop; -1 after a 400. */
int srv_param_stop(const cJSON *o, const char *key, int max, srv_request *r, srv_reply *out);
/* A prompt string (or a list of token ids) tokenized as `loam run` does. 0 after an error. */
int srv_text_prompt(srv_engine *e, const cJSON *prompt, const char *key, srv_request *r, srv_reply *out);
/* Chat messages (with their tool calls) and tools through the model's template, tokenized without special
 * tokens added (as transformers' apply_chat_template). 0 after an error. */
int srv_chat_prompt(srv_engine *e, const cJSON *messages, const cJSON *tools, srv_request *r, srv_reply *out);
/* logit_bias {"token id": bias in [-100, 100]} into the request; -1 after a 400. */
int srv_param_logit_bias(const cJSON *o, int n_vocab, srv_request *r, srv_reply *out);
void srv_submit_job(srv_server *s, srv_job *job, int for_chat, srv_reply *out);

#endif
