/* Small HTTP requests of the hub client through libcurl. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/curl_api.h"
#include "store/hub.h"

typedef struct {
    char *data;
    size_t len, cap, max;
    int too_big;
} mem_sink;

static size_t to_memory(char *ptr, size_t size, size_t nmemb, void *user) {
    mem_sink *m = user;
    size_t n = size * nmemb;
    if (m->len + n > m->max) {
        m->too_big = 1;
        return 0;
    }
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n + 1) cap *= 2;
        char *g = realloc(m->data, cap);
        if (!g) return 0;
        m->data = g, m->cap = cap;
    }
    memcpy(m->data + m->len, ptr, n);
    m->len += n;
    m->data[m->len] = 0;
    return n;
}

loam_status store_http_get(const char *url, const char *token, size_t max_bytes, char **body, size_t *len, long *status,
                           loam_error *err) {
    *body = NULL, *len = 0, *status = 0;
    store_curl cu;
    loam_status loaded = store_curl_open(&cu, err);
    if (loaded) return loaded;
    CURL *h = cu.easy_init();
    if (!h) return store_curl_close(&cu), loam_fail(err, LOAM_E_NOMEM, "cannot start an HTTP request");
    mem_sink m = {.max = max_bytes};
    struct curl_slist *headers = NULL;
    char auth[1200];
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = cu.slist_append(headers, auth);
    }
    cu.easy_setopt(h, CURLOPT_URL, url);
    cu.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    cu.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    cu.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    cu.easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    cu.easy_setopt(h, CURLOPT_USERAGENT, "loam/" LOAM_VERSION);
    cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, to_memory);
    cu.easy_setopt(h, CURLOPT_WRITEDATA, &m);
    cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = cu.easy_perform(h);
    cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    cu.slist_free_all(headers);
    cu.easy_cleanup(h);
    const char *why = rc != CURLE_OK ? cu.easy_strerror(rc) : "";
    store_curl_close(&cu); /* the library stays mapped, so why stays valid */
    if (m.too_big) {
        free(m.data);
        return loam_fail(err, LOAM_E_FORMAT, "%s: the answer is over %zu bytes", url, max_bytes);
    }
    if (rc != CURLE_OK) {
        free(m.data);
        return loam_fail(err, LOAM_E_IO, "%s: %s", url, why);
    }
    *body = m.data ? m.data : calloc(1, 1);
    *len = m.len;
    return *body ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
}
