/* The hub look-alike (tests/store/hub_lookalike.py) for the store tests:
 * started on 127.0.0.1 on a free port, its request log read back. */
#ifndef LOAM_TESTS_STORE_LOOKALIKE_H
#define LOAM_TESTS_STORE_LOOKALIKE_H

typedef struct {
    int port;
    int pid;
    char dir[512];      /* its folder: port file, log */
    char log[600];
    char env[1400];     /* "HF_ENDPOINT=... HF_HUB_CACHE=... HF_TOKEN=" for a command line */
    char cache[600];
} test_hub;

/* extra: more arguments ("--cut model.safetensors:300000"). 0 if it did not start. */
int hub_start(test_hub *h, const char *extra);
void hub_stop(test_hub *h);
/* Lines of the request log that contain every one of the strings (up to 3, NULL-ended). */
int hub_log_count(const test_hub *h, const char *a, const char *b, const char *c);

#endif
