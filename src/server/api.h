/* What the routes share: a request's JSON body, the reply being built, and
 * the OpenAI-shaped errors. */
#ifndef LOAM_SERVER_API_H
#define LOAM_SERVER_API_H
#include <cjson/cJSON.h>
#include <pthread.h>

#include "engine.h"
#include "loam_image.h"
#include "loam_speech.h"
#include "server.h"

/* A speech model: one transcription at a time (its mutex), `waiting` queued. */
typedef struct srv_speech {
    char name[128];
    loam_whisper *w;
    pthread_mutex_t mu;
    int waiting;
} srv_speech;

/* An image model: one generation at a time (its mutex), `waiting` queued. */
typedef struct srv_image {
    char name[128];
    loam_flux *f;
    pthread_mutex_t mu;
    int waiting;
} srv_image;

/* HTTP answers of one route with one status, and their durations. */
#define SRV_MAX_ROUTE_COUNTS 96
typedef struct {
    const char *route; /* a known route's path, or "other" */
    int status;
    uint64_t count;
    double seconds;    /* until the answer was queued (a stream's first byte) */
} srv_route_count;

typedef struct srv_server {
    const srv_config *cfg;
    srv_engine *engines[SRV_MAX_MODELS];
    int n_engines;
    srv_speech speech[SRV_MAX_MODELS];
    int n_speech;
    srv_image image[SRV_MAX_MODELS];
    int n_image;
    int ready;
    pthread_mutex_t mu;
    uint64_t next_id, http_requests, http_errors;
    srv_route_count routes[SRV_MAX_ROUTE_COUNTS];
    int n_routes;
    double started;
} srv_server;

/* A reply: status, content type, and either a whole body or a stream. */
typedef struct srv_stream srv_stream;
typedef struct {
    int status;
    const char *content_type;
    char *body;              /* malloc'ed */
    size_t len;
    srv_stream *stream;      /* non-NULL: the body comes from the engine as it is generated */
} srv_reply;

/* {"error": {"message", "type", "param", "code"}} with its status. */
void srv_error(srv_reply *out, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void srv_json(srv_reply *out, int status, cJSON *body); /* takes body */

srv_engine *srv_find_engine(srv_server *s, const char *name);
/* "chatcmpl-<n>" etc. */
void srv_new_id(srv_server *s, const char *prefix, char *out, size_t n);

/* OpenAI routes (openai.c) */
void srv_openai_chat(srv_server *s, const cJSON *body, srv_reply *out);
void srv_openai_completions(srv_server *s, const cJSON *body, srv_reply *out);
void srv_openai_models(srv_server *s, srv_reply *out);
void srv_openai_embeddings(srv_server *s, const cJSON *body, srv_reply *out);
/* ollama routes (ollama.c) */
void srv_ollama_generate(srv_server *s, const cJSON *body, srv_reply *out);
void srv_ollama_chat(srv_server *s, const cJSON *body, srv_reply *out);
void srv_ollama_tags(srv_server *s, srv_reply *out);
void srv_ollama_show(srv_server *s, const cJSON *body, srv_reply *out);
void srv_metrics(srv_server *s, srv_reply *out);
/* speech routes (audio.c): the multipart body of a whole request */
struct MHD_Connection;
void srv_audio_route(srv_server *s, struct MHD_Connection *c, const char *body, size_t len, int translate,
                     srv_reply *out);
srv_speech *srv_find_speech(srv_server *s, const char *name);
/* the image route (image.c): POST /v1/images/generations */
void srv_image_route(srv_server *s, const cJSON *body, srv_reply *out);
srv_image *srv_find_image(srv_server *s, const char *name);

/* ------------------------------------------------ generation, shared */

typedef enum { FORMAT_OPENAI_CHAT, FORMAT_OPENAI_COMPLETION, FORMAT_OLLAMA_GENERATE, FORMAT_OLLAMA_CHAT } srv_format;

#define SRV_MAX_CHOICES 16 /* OpenAI's n */

typedef struct {
    srv_engine *engine;
    srv_request *req;                         /* what is asked (choice 0 once submitted) */
    srv_request *choice[SRV_MAX_CHOICES];     /* the submitted requests, one per choice */
    int n_choices;                            /* asked: n (0 means 1); submitted: how many */
    srv_format format;
    int stream, include_usage;
    char id[48], model[128];
    long created;
    const cJSON *tools;                       /* the request's tools (chat routes; borrowed from its body) */
} srv_job;

/* Streams a submitted job (takes it); the HTTP layer pulls the bytes. */
srv_stream *srv_stream_new(srv_server *s, const srv_job *job);
/* Next bytes of the stream (blocks until there are some); 0 at the end. */
size_t srv_stream_read(srv_stream *st, char *buf, size_t max);
/* The client went away. */
void srv_stream_cancel(srv_stream *st);
void srv_stream_free(srv_stream *st);
/* Waits for a submitted job to end and writes its whole reply (takes it). */
void srv_job_finish(srv_server *s, srv_job *job, srv_reply *out);

#endif
