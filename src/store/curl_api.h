/* libcurl, loaded when the store first goes to the network (dlopen of
 * libcurl.so.4, the soname Debian's libcurl4 packages install). Every other
 * command starts without it and the TLS, Kerberos, LDAP and SSH libraries
 * it pulls in, which were about half of loam's start-up time (13 of 28 ms
 * on a Zen 5 guest). The calls are libcurl's own, through this table. */
#ifndef LOAM_STORE_CURL_API_H
#define LOAM_STORE_CURL_API_H
#include <curl/curl.h>

#include "core/error.h"

typedef struct {
    void *lib;
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_perform)(CURLM *m, int *running);
    CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned int n_extra, int timeout_ms, int *n_fds);
    CURLMsg *(*multi_info_read)(CURLM *m, int *left);
    CURLMcode (*multi_cleanup)(CURLM *m);
    const char *(*multi_strerror)(CURLMcode rc);
} store_curl;

/* Loads libcurl and fills the table; LOAM_E_IO naming the library if it is missing. */
loam_status store_curl_open(store_curl *c, loam_error *err);
/* Releases the handle (the library stays mapped: it keeps global state). */
void store_curl_close(store_curl *c);

#endif
