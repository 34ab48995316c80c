/* The HTTP side: libmicrohttpd with one thread per connection (a thread
 * may wait for its request's tokens; the decode loop never waits for a
 * socket), bodies up to a limit, authentication, routing, streams. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "page.h"

typedef struct {
    char *body;
    size_t len, cap;
    int too_big;
    srv_stream *stream; /* while a stream response is live */
} conn_state;

static void health(srv_server *s, srv_reply *out) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", s->ready ? "ok" : "loading model");
    srv_json(out, s->ready ? 200 : 503, o);
}

static void version(srv_reply *out) {
    cJSON *o = cJSON_CreateObject();
    /* ollama's clients check the API version they talk to; loam speaks that of ollama 0.5 */
    cJSON_AddStringToObject(o, "version", "0.5.0");
    cJSON_AddStringToObject(o, "loam", LOAM_VERSION);
    srv_json(out, 200, o);
}

static const char *const json_routes[] = {"/v1/chat/completions", "/v1/completions", "/api/generate", "/api/chat", "/api/show",
                                           "/v1/embeddings", "/v1/images/generations", NULL};
static const char *const other_routes[] = {"/", "/index.html", "/health", "/v1/models", "/api/tags", "/api/version", "/metrics",
                                           "/v1/audio/transcriptions", "/v1/audio/translations", NULL};

static const char *known_route(const char *url, const char *const *routes) {
    for (int i = 0; routes[i]; i++)
        if (!strcmp(url, routes[i])) return routes[i];
    return NULL;
}

static int is_json_route(const char *url) { return known_route(url, json_routes) != NULL; }

/* Counts an answer under its route (a static string: unknown paths are
 * "other", so clients cannot grow the table) and status. */
static void count_answer(srv_server *s, const char *url, int status, double seconds) {
    const char *route = known_route(url, json_routes);
    if (!route) route = known_route(url, other_routes);
    if (!route) route = "other";
    pthread_mutex_lock(&s->mu);
    s->http_requests++;
    if (status >= 400) s->http_errors++;
    int i = 0;
    while (i < s->n_routes && (s->routes[i].route != route || s->routes[i].status != status)) i++;
    if (i == s->n_routes && i < SRV_MAX_ROUTE_COUNTS) s->routes[s->n_routes++] = (srv_route_count){.route = route, .status = status};
    if (i < SRV_MAX_ROUTE_COUNTS) s->routes[i].count++, s->routes[i].seconds += seconds;
    pthread_mutex_unlock(&s->mu);
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int is_audio_route(const char *url) {
    return !strcmp(url, "/v1/audio/transcriptions") || !strcmp(url, "/v1/audio/translations");
}

/* The route's answer for a complete request. */
static void route(srv_server *s, struct MHD_Connection *c, const char *url, const char *method, conn_state *cs, srv_reply *out) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (get && !strcmp(url, "/health")) return health(s, out);
    if (get && (!strcmp(url, "/") || !strcmp(url, "/index.html"))) {
        out->status = 200, out->content_type = "text/html; charset=utf-8";
        out->body = strdup(srv_page_html), out->len = strlen(srv_page_html);
        return;
    }
    if (s->cfg->api_key) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        char want[1100];
        snprintf(want, sizeof want, "Bearer %s", s->cfg->api_key);
        if (!auth || strcmp(auth, want))
            return srv_error(out, 401, NULL, "invalid_api_key", auth ? "Incorrect API key provided" : "Missing bearer authentication in header");
    }
    if (!s->ready) return srv_error(out, 503, NULL, NULL, "the model is loading");
    if (get && !strcmp(url, "/v1/models")) return srv_openai_models(s, out);
    if (get && !strcmp(url, "/api/tags")) return srv_ollama_tags(s, out);
    if (get && !strcmp(url, "/api/version")) return version(out);
    if (get && !strcmp(url, "/metrics")) return srv_metrics(s, out);
    if (is_audio_route(url) && !strcmp(method, "POST")) {
        if (cs->too_big) return srv_error(out, 413, NULL, NULL, "the upload is over %zu bytes", s->cfg->max_upload);
        return srv_audio_route(s, c, cs->body, cs->len, !strcmp(url, "/v1/audio/translations"), out);
    }
    if (!is_json_route(url)) return srv_error(out, 404, NULL, "unknown_url", "no route %s %s", method, url);
    if (!post) return srv_error(out, 405, NULL, NULL, "%s takes POST", url);
    if (cs->too_big) return srv_error(out, 413, NULL, "request_too_large", "the request body is over %zu bytes", s->cfg->max_body);
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ctype && !strncasecmp(ctype, "multipart/", 10))
        return srv_error(out, 415, NULL, NULL, "%s takes a JSON body, not %s", url, ctype);
    /* parsed as JSON whatever the Content-Type says (ollama's clients and curl -d send none or another) */
    cJSON *body = cs->len ? cJSON_ParseWithLength(cs->body, cs->len) : NULL;
    if (!body) return srv_error(out, 400, NULL, NULL, "the request body is not valid JSON");
    if (!cJSON_IsObject(body)) srv_error(out, 400, NULL, NULL, "the request body must be a JSON object");
    else if (!strcmp(url, "/v1/chat/completions")) srv_openai_chat(s, body, out);
    else if (!strcmp(url, "/v1/completions")) srv_openai_completions(s, body, out);
    else if (!strcmp(url, "/api/generate")) srv_ollama_generate(s, body, out);
    else if (!strcmp(url, "/api/chat")) srv_ollama_chat(s, body, out);
    else if (!strcmp(url, "/api/show")) srv_ollama_show(s, body, out);
    else if (!strcmp(url, "/v1/embeddings")) srv_openai_embeddings(s, body, out);
    else if (!strcmp(url, "/v1/images/generations")) srv_image_route(s, body, out);
    else srv_error(out, 404, NULL, "unknown_url", "%s is not served yet", url);
    cJSON_Delete(body);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    conn_state *cs = cls;
    size_t n = srv_stream_read(cs->stream, buf, max);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, conn_state *cs, srv_reply *r) {
    struct MHD_Response *resp;
    if (r->stream) {
        cs->stream = r->stream;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, cs, NULL);
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        r->body = NULL;
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    if (r->stream) MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *ver,
                                  const char *upload, size_t *upload_size, void **con_cls) {
    (void)ver;
    srv_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        /* over the limit the rest is read and dropped, then 413 */
        size_t n = *upload_size, limit = is_audio_route(url) ? s->cfg->max_upload + 65536 : s->cfg->max_body;
        if (!cs->too_big && cs->len + n > limit) cs->too_big = 1, free(cs->body), cs->body = NULL, cs->len = cs->cap = 0;
        if (!cs->too_big) {
            if (cs->len + n + 1 > cs->cap) {
                size_t cap = cs->cap ? cs->cap : 4096;
                while (cap < cs->len + n + 1) cap *= 2;
                char *g = realloc(cs->body, cap);
                if (!g) return MHD_NO;
                cs->body = g, cs->cap = cap;
            }
            memcpy(cs->body + cs->len, upload, n);
            cs->len += n;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* the idle timeout guards the reading of a request (slow or stalled
     * clients); an answer may wait long for its first token (a queue, a long
     * prompt) without a byte to send */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)0);
    srv_reply r = {.status = 500};
    double t0 = seconds_now();
    route(s, c, url, method, cs, &r);
    count_answer(s, url, r.status, seconds_now() - t0);
    enum MHD_Result ok = send_reply(c, cs, &r);
    free(r.body);
    if (!ok && r.stream) srv_stream_free(r.stream), cs->stream = NULL;
    return ok;
}

/* The connection ended: a stream whose client left is cancelled. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c;
    conn_state *cs = *con_cls;
    if (!cs) return;
    if (cs->stream) {
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) srv_stream_cancel(cs->stream);
        srv_stream_free(cs->stream);
    }
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* A Whisper model is served on the speech routes, one at a time. */
static loam_status open_speech(srv_server *s, const srv_model_arg *m, loam_error *err) {
    srv_speech *sp = &s->speech[s->n_speech];
    loam_whisper_params p = loam_whisper_default_params();
    p.n_threads = s->cfg->n_threads;
    p.keep_layout = s->cfg->keep_layout;
    fprintf(stderr, "loading %s (speech) from %s\n", m->name, m->path);
    loam_status st = loam_whisper_open(m->path, &p, &sp->w, err);
    if (st) return st;
    snprintf(sp->name, sizeof sp->name, "%s", m->name);
    pthread_mutex_init(&sp->mu, NULL);
    s->n_speech++;
    return LOAM_OK;
}

/* A FLUX.1 folder is served on the image route, one image at a time. */
static loam_status open_image(srv_server *s, const srv_model_arg *m, loam_error *err) {
    srv_image *im = &s->image[s->n_image];
    loam_flux_open_params p = loam_flux_default_open_params();
    p.n_threads = s->cfg->n_threads;
    fprintf(stderr, "loading %s (image) from %s\n", m->name, m->path);
    loam_status st = loam_flux_open(m->path, &p, &im->f, err);
    if (st) return st;
    snprintf(im->name, sizeof im->name, "%s", m->name);
    pthread_mutex_init(&im->mu, NULL);
    s->n_image++;
    return LOAM_OK;
}

static loam_status open_engines(srv_server *s, loam_error *err) {
    const srv_config *cfg = s->cfg;
    for (int i = 0; i < cfg->n_models; i++) {
        if (loam_flux_probe(cfg->models[i].path)) {
            loam_status st = open_image(s, &cfg->models[i], err);
            if (st) return st;
            continue;
        }
        if (loam_whisper_probe(cfg->models[i].path)) {
            loam_status st = open_speech(s, &cfg->models[i], err);
            if (st) return st;
            continue;
        }
        srv_engine_config ec = {.name = cfg->models[i].name, .path = cfg->models[i].path, .n_slots = cfg->parallel,
                                .n_queue = cfg->queue, .n_ctx = cfg->n_ctx, .n_threads = cfg->n_threads, .kv_type = cfg->kv_type,
                                .bf16_dot = cfg->bf16_dot, .keep_layout = cfg->keep_layout};
        fprintf(stderr, "loading %s from %s\n", ec.name, ec.path);
        loam_status st = srv_engine_open(&ec, &s->engines[s->n_engines], err);
        if (st) return st;
        s->n_engines++;
    }
    return LOAM_OK;
}

int srv_run(const srv_config *cfg) {
    srv_server s = {.cfg = cfg};
    pthread_mutex_init(&s.mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loam: serve: --host %s is not an IPv4 address\n", cfg->host);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* listening before the models load: /health answers 503 until they have */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout > 0 ? cfg->timeout : 30), MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "loam: serve: cannot listen on %s:%d\n", cfg->host, cfg->port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : cfg->port;
    if (cfg->port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", cfg->port_file);
        FILE *f = fopen(tmp, "w");
        if (f) fprintf(f, "%d\n", port), fclose(f), rename(tmp, cfg->port_file);
    }
    fprintf(stderr, "loam serve: listening on http://%s:%d\n", cfg->host, port);
    loam_error err;
    int rc = 0;
    if (open_engines(&s, &err) != LOAM_OK) {
        fprintf(stderr, "loam: %s\n", err.message);
        rc = 1;
    } else {
        s.ready = 1;
        fprintf(stderr, "loam serve: ready (%d text model%s, %d slots each; %d speech model%s; %d image model%s)\n", s.n_engines,
                s.n_engines == 1 ? "" : "s", cfg->parallel, s.n_speech, s.n_speech == 1 ? "" : "s", s.n_image, s.n_image == 1 ? "" : "s");
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!stop_signal) pause();
        fprintf(stderr, "loam serve: stopping\n");
    }
    s.ready = 0;
    for (int i = 0; i < s.n_engines; i++) srv_engine_stop(s.engines[i]); /* streams end, connection threads return */
    MHD_stop_daemon(d);
    for (int i = 0; i < s.n_engines; i++) srv_engine_free(s.engines[i]);
    for (int i = 0; i < s.n_speech; i++) loam_whisper_free(s.speech[i].w), pthread_mutex_destroy(&s.speech[i].mu);
    for (int i = 0; i < s.n_image; i++) loam_flux_free(s.image[i].f), pthread_mutex_destroy(&s.image[i].mu);
    pthread_mutex_destroy(&s.mu);
    return rc;
}
