#include "store/lookalike.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

int hub_start(test_hub *h, const char *extra) {
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "%s", temp_dir());
    snprintf(h->log, sizeof h->log, "%s/requests.log", h->dir);
    snprintf(h->cache, sizeof h->cache, "%s/cache", h->dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "python3 %s/tests/store/hub_lookalike.py --fixtures %s --port-file %s/port --log %s %s >%s/server.out 2>&1 & echo $!",
             LOAM_SOURCE_DIR, fixtures_dir(), h->dir, h->log, extra ? extra : "", h->dir);
    char *out = NULL;
    if (run_capture(cmd, &out) != 0 || !out) return free(out), 0;
    h->pid = atoi(out);
    free(out);
    char port_file[600];
    snprintf(port_file, sizeof port_file, "%s/port", h->dir);
    for (int i = 0; i < 300 && !h->port; i++) { /* up to 15 s for python to start */
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", &h->port) != 1) h->port = 0;
            fclose(f);
        }
        if (!h->port) usleep(50000);
    }
    if (!h->port) {
        printf("    the hub look-alike did not start; its output is in %s/server.out\n", h->dir);
        hub_stop(h);
        return 0;
    }
    /* HF_HOME too, so no token file of the machine is read */
    snprintf(h->env, sizeof h->env, "HF_ENDPOINT=http://127.0.0.1:%d HF_HUB_CACHE=%s HF_HOME=%s/hf-home HF_TOKEN= LOAM_ASK_ABOVE=",
             h->port, h->cache, h->dir);
    return 1;
}

void hub_stop(test_hub *h) {
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, WNOHANG);
    }
    h->pid = 0;
}

int hub_log_count(const test_hub *h, const char *a, const char *b, const char *c) {
    FILE *f = fopen(h->log, "r");
    if (!f) return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if ((!a || strstr(line, a)) && (!b || strstr(line, b)) && (!c || strstr(line, c))) n++;
    fclose(f);
    return n;
}
