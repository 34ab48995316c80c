#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "kernels/kernels.h"
#include "test.h"

extern char **environ;

#define MAX_TESTS 1024
static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int n_tests, n_refused, current_failed, current_not_run;
static char temp_root[256];
static char not_run_reason[256];

/* A test past the registry's capacity is refused loudly and counted as a
 * failure: a suite must never silently test less. */
void test_add(const char *name, test_fn fn) {
    if (n_tests == MAX_TESTS) {
        printf("FAIL test registry full (%d): \"%s\" refused; raise MAX_TESTS\n", MAX_TESTS, name);
        n_refused++;
        return;
    }
    tests[n_tests].name = name, tests[n_tests].fn = fn, n_tests++;
}

void test_not_run(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(not_run_reason, sizeof not_run_reason, fmt, ap);
    va_end(ap);
    current_not_run = 1;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    current_failed = 1;
}

int test_failed(void) { return current_failed; }

int loam_test_cpu_has(loam_simd level) { return loam_kernels_for(level) != NULL; }
const char *loam_test_simd_name(loam_simd level) { return loam_simd_name(level); }

const char *fixtures_dir(void) {
    static char path[1024];
    const char *env = getenv("LOAM_FIXTURES");
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%s/../shared/fixtures", LOAM_SOURCE_DIR);
    return path;
}

const char *fixture(const char *rel) {
    static char bufs[8][1024];
    static int at;
    char *b = bufs[at++ % 8];
    snprintf(b, 1024, "%s/%s", fixtures_dir(), rel);
    return b;
}

const char *temp_dir(void) {
    static char path[512];
    static int counter;
    snprintf(path, sizeof path, "%s/t%d", temp_root, counter++);
    mkdir(path, 0700);
    return path;
}

int golden_open(golden *g, const char *case_dir) {
    memset(g, 0, sizeof *g);
    char path[1024];
    loam_error err;
    snprintf(path, sizeof path, "%s/golden.safetensors", case_dir);
    if (loam_st_open(&g->st, path, &err) != LOAM_OK) {
        printf("    cannot open %s: %s\n", path, err.message);
        return 0;
    }
    snprintf(path, sizeof path, "%s/golden.json", case_dir);
    char *text = NULL;
    if (loam_read_file(path, 1 << 26, &text, NULL, &err) != LOAM_OK || !(g->json = cJSON_Parse(text))) {
        printf("    cannot read %s\n", path);
        free(text);
        loam_st_close(&g->st);
        return 0;
    }
    free(text);
    return g->ok = 1;
}

void golden_close(golden *g) {
    if (!g->ok) return;
    loam_st_close(&g->st);
    cJSON_Delete(g->json);
    g->ok = 0;
}

const loam_tensor *golden_tensor(const golden *g, const char *name) { return loam_st_find(&g->st, name); }

double golden_tol(const golden *g, const char *name) {
    const cJSON *tol = cJSON_GetObjectItem(cJSON_GetObjectItem(g->json, "tolerance"), name);
    const cJSON *v = cJSON_GetObjectItem(tol, "max_abs");
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

double kl_divergence(const float *p_logits, const float *q_logits, int n) {
    double mp = -INFINITY, mq = -INFINITY, sp = 0, sq = 0, kl = 0;
    for (int i = 0; i < n; i++) mp = fmax(mp, p_logits[i]), mq = fmax(mq, q_logits[i]);
    for (int i = 0; i < n; i++) sp += exp(p_logits[i] - mp), sq += exp(q_logits[i] - mq);
    for (int i = 0; i < n; i++) {
        double lp = p_logits[i] - mp - log(sp), lq = q_logits[i] - mq - log(sq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

int run_capture(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    if (buf) buf[len] = 0;
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

test_rows test_rows_new(int n) {
    test_rows r = {malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t)), calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t))};
    if (!r.pos || !r.seq) test_rows_free(&r);
    for (int i = 0; r.pos && i < n; i++) r.pos[i] = i;
    return r;
}

void test_rows_free(test_rows *r) {
    free(r->pos), free(r->seq);
    r->pos = r->seq = NULL;
}

/* Reads what is there from a non-blocking pipe into a growing buffer;
 * returns 0 at end of file. */
static int drain(int fd, char **buf, size_t *len, size_t *cap) {
    char tmp[8192];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n == 0) return 0;
        if (n < 0) return errno == EAGAIN || errno == EINTR;
        if (*len + (size_t)n + 1 > *cap) {
            while (*len + (size_t)n + 1 > *cap) *cap = *cap ? *cap * 2 : 8192;
            *buf = realloc(*buf, *cap);
        }
        memcpy(*buf + *len, tmp, (size_t)n);
        *len += (size_t)n;
        (*buf)[*len] = 0;
    }
}

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int run_guarded(char *const argv[], double timeout_s, long rss_limit_kb, guarded_run *r) {
    return run_guarded_env(argv, environ, timeout_s, rss_limit_kb, r);
}

int run_guarded_env(char *const argv[], char *const envp[], double timeout_s, long rss_limit_kb, guarded_run *r) {
    memset(r, 0, sizeof *r);
    int out[2], err[2];
    /* close-on-exec, so that a child started at the same time by another
     * thread does not hold this child's pipes open */
    if (pipe2(out, O_CLOEXEC)) return 0;
    if (pipe2(err, O_CLOEXEC)) return close(out[0]), close(out[1]), 0;
    double t0 = now_s();
    /* posix_spawn (a vfork underneath) rather than fork: copying the page
     * tables of a large test process (ASan's) cost more than the run. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int spawned = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp) == 0;
    posix_spawn_file_actions_destroy(&fa);
    if (!spawned) {
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        return 0;
    }
    close(out[1]), close(err[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK), fcntl(err[0], F_SETFL, O_NONBLOCK);
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    int open_out = 1, open_err = 1, status = 0, reaped = 0;
    struct rusage ru;
    while (!reaped) {
        struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        poll(fds, 2, 10);
        if (open_out) open_out = drain(out[0], &r->out, &olen, &ocap);
        if (open_err) open_err = drain(err[0], &r->err, &elen, &ecap);
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid) {
            reaped = 1;
            break;
        }
        long kb = rss_kb(pid);
        if (kb > r->max_rss_kb) r->max_rss_kb = kb;
        if (now_s() - t0 > timeout_s) r->timed_out = 1;
        if (rss_limit_kb > 0 && kb > rss_limit_kb) r->over_memory = 1;
        if (r->timed_out || r->over_memory) {
            kill(pid, SIGKILL);
            wait4(pid, &status, 0, &ru);
            reaped = 1;
        }
    }
    while (open_out && (open_out = drain(out[0], &r->out, &olen, &ocap))) usleep(1000);
    while (open_err && (open_err = drain(err[0], &r->err, &elen, &ecap))) usleep(1000);
    close(out[0]), close(err[0]);
    r->seconds = now_s() - t0;
    if (ru.ru_maxrss > r->max_rss_kb) r->max_rss_kb = ru.ru_maxrss;
    r->signaled = WIFSIGNALED(status);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (!r->out) r->out = calloc(1, 1);
    if (!r->err) r->err = calloc(1, 1);
    return 1;
}

void guarded_free(guarded_run *r) {
    free(r->out), free(r->err);
    r->out = r->err = NULL;
}

int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    if (ok) chmod(to, 0600);
    return ok;
}

int copy_dir(const char *from, const char *to) {
    mkdir(to, 0700);
    DIR *d = opendir(from);
    if (!d) return 0;
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        ok = copy_file(a, b);
    }
    closedir(d);
    return ok;
}

const char *whisper_hub_copy(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    char to[1100];
    snprintf(dir, sizeof dir, "%s/whisper-tiny-v3", temp_dir());
    snprintf(to, sizeof to, "%s/tokenizer.json", dir);
    if (!copy_dir(fixture("whisper/tiny-v3"), dir) || !copy_file(fixture("tokenizers/whisper/tokenizer.json"), to))
        return dir[0] = 0, NULL;
    return dir;
}

#define SUITES(X)                                                                                   \
    X(arch) X(core) X(kernels) X(gemm) X(strips) X(nn) X(safetensors) X(gguf) X(tokenizer_cases) X(tokenizer_robust) X(gguf_vocab)     \
    X(sampler) X(chat) X(model_folder) X(text_families) X(gguf_model) X(kv) X(memory) X(quantize) X(cli) X(cli_text) \
    X(install) X(crafted) X(store) X(hub_files) X(pick) X(server) X(toolcall) X(speech_frontend) X(speech) X(speech_cli) X(server_audio) X(image) X(imagine) X(server_image)
#define DECLARE(name) void register_##name##_tests(void);
SUITES(DECLARE)

int main(int argc, char **argv) {
#define REGISTER(name) register_##name##_tests();
    SUITES(REGISTER)
    snprintf(temp_root, sizeof temp_root, "/tmp/loam-tests-%d", (int)getpid());
    mkdir(temp_root, 0700);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = n_refused, not_run = 0;
    struct stat st;
    if (stat(fixtures_dir(), &st) != 0)
        printf("FIXTURES MISSING: %s (set LOAM_FIXTURES); every fixture test will fail\n", fixtures_dir());
    for (int i = 0; i < n_tests; i++) {
        if (filter && filter[0] != '!' && !strstr(tests[i].name, filter)) continue;
        if (filter && filter[0] == '!' && strstr(tests[i].name, filter + 1)) continue;
        current_failed = current_not_run = 0;
        double t0 = now_s();
        tests[i].fn();
        double took = now_s() - t0;
        if (current_not_run && !current_failed) {
            printf("n/a  %s (not run on this CPU: %s)\n", tests[i].name, not_run_reason);
            not_run++;
            continue;
        }
        /* The time of a slow test is printed, so a suite over its budget says where it goes. */
        if (took >= 1.0) printf("%s %s (%.1f s)\n", current_failed ? "FAIL" : "ok  ", tests[i].name, took);
        else printf("%s %s\n", current_failed ? "FAIL" : "ok  ", tests[i].name);
        if (current_failed) failed++;
        else passed++;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", temp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", temp_root);
    if (not_run) printf("%d not run on this CPU (its SIMD level is missing; counted apart)\n", not_run);
    printf("%d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}
