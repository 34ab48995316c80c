/* See curl_api.h. */
#include "store/curl_api.h"

#include <dlfcn.h>
#include <string.h>

/* dlsym's void * into a function pointer of the table (POSIX allows it) */
#define BIND(field, name)                                                    \
    do {                                                                     \
        void *sym = dlsym(c->lib, name);                                     \
        if (!sym) missing = name;                                            \
        memcpy(&c->field, &sym, sizeof sym);                                 \
    } while (0)

loam_status store_curl_open(store_curl *c, loam_error *err) {
    memset(c, 0, sizeof *c);
    /* RTLD_NODELETE: libcurl and its TLS library keep global state that an unload would lose */
    c->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!c->lib) return loam_fail(err, LOAM_E_IO, "cannot load libcurl.so.4 for downloads (%s); install libcurl4", dlerror());
    const char *missing = NULL;
    BIND(easy_init, "curl_easy_init");
    BIND(easy_setopt, "curl_easy_setopt");
    BIND(easy_perform, "curl_easy_perform");
    BIND(easy_getinfo, "curl_easy_getinfo");
    BIND(easy_cleanup, "curl_easy_cleanup");
    BIND(easy_strerror, "curl_easy_strerror");
    BIND(slist_append, "curl_slist_append");
    BIND(slist_free_all, "curl_slist_free_all");
    BIND(multi_init, "curl_multi_init");
    BIND(multi_add_handle, "curl_multi_add_handle");
    BIND(multi_remove_handle, "curl_multi_remove_handle");
    BIND(multi_perform, "curl_multi_perform");
    BIND(multi_poll, "curl_multi_poll");
    BIND(multi_info_read, "curl_multi_info_read");
    BIND(multi_cleanup, "curl_multi_cleanup");
    BIND(multi_strerror, "curl_multi_strerror");
    if (missing) {
        store_curl_close(c);
        return loam_fail(err, LOAM_E_IO, "libcurl.so.4 has no %s (libcurl 7.66 or newer is needed)", missing);
    }
    return LOAM_OK;
}

void store_curl_close(store_curl *c) {
    if (c->lib) dlclose(c->lib);
    memset(c, 0, sizeof *c);
}
