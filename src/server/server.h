/* loam serve: an OpenAI- and ollama-compatible HTTP server over the public
 * API (libmicrohttpd, one thread per connection; each model's engine
 * batches all requests in one decode loop). */
#ifndef LOAM_SERVER_SERVER_H
#define LOAM_SERVER_SERVER_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

#define SRV_MAX_MODELS 8

typedef struct {
    const char *name, *path;
} srv_model_arg;

typedef struct {
    srv_model_arg models[SRV_MAX_MODELS];
    int n_models;
    const char *host;
    int port;                   /* 0: any free port (printed) */
    int parallel, queue;        /* slots per model; waiting requests per model */
    const char *api_key;        /* NULL: no authentication */
    int n_threads, n_ctx;
    int bf16_dot, keep_layout;  /* the model params of the shared flags */
    loam_kv_type kv_type;
    size_t max_body;            /* bytes of a request body */
    size_t max_upload;          /* bytes of an audio upload (the speech routes) */
    int max_tokens;             /* cap of max_tokens (and the default) */
    const char *port_file;      /* write the bound port there (tests, scripts) */
    int timeout;                /* seconds a connection may stay idle (a slow or stalled client) */
} srv_config;

/* Loads the models, serves until SIGINT or SIGTERM; returns the exit status. */
int srv_run(const srv_config *cfg);

#endif
