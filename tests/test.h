/* A small test harness: tests register by name, CHECK fails the current
 * test with a message, the runner prints "N passed, N failed". */
#ifndef LOAM_TEST_H
#define LOAM_TEST_H
#include <stdint.h>
#include <stdio.h>

#include "cjson/cJSON.h"
#include "formats/safetensors.h"
#include "loam.h"
#include "loam_tools.h"

typedef void (*test_fn)(void);
void test_add(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int test_failed(void);
/* Marks the current test as not run on this CPU (a SIMD level it lacks):
 * reported and counted apart, never as a pass or a failure. */
void test_not_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Returns from the test, marked not run, when this CPU cannot run `level`. */
#define REQUIRE_SIMD(level)                                                                  \
    do {                                                                                     \
        if (!loam_test_cpu_has(level)) {                                                     \
            test_not_run("no %s", loam_test_simd_name(level));                               \
            return;                                                                          \
        }                                                                                    \
    } while (0)
int loam_test_cpu_has(loam_simd level);
const char *loam_test_simd_name(loam_simd level);

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                    \
            return;                                                        \
        }                                                                  \
    } while (0)
#define CHECK_OK(call, errp)                                               \
    do {                                                                   \
        loam_status st_ = (call);                                          \
        CHECK(st_ == LOAM_OK, "%s failed: %s", #call, (errp)->message);    \
    } while (0)

/* The fixtures folder (LOAM_FIXTURES or ../shared/fixtures beside the
 * repo); tests fail, never skip, when it is missing. */
const char *fixtures_dir(void);
/* fixtures_dir()/rel into a static rotating buffer. */
const char *fixture(const char *rel);
/* whisper/tiny-v3 as a hub folder has it (large-v3's tokenizer.json beside
 * the model), copied once per run into a temporary folder; NULL on failure. */
const char *whisper_hub_copy(void);
/* tiny-schnell with the real CLIP-L and T5 tokenizers beside it (its
 * encoders' embeddings grown to their vocabularies), made once per run in a
 * temporary folder, so prompts run the whole pipeline; NULL on failure. */
const char *flux_prompt_copy(void);
/* A fresh temporary folder (removed at exit). */
const char *temp_dir(void);

/* A golden case: golden.safetensors + golden.json of a fixture folder. */
typedef struct {
    loam_st_file st;
    cJSON *json;
    int ok;
} golden;
int golden_open(golden *g, const char *case_dir);
void golden_close(golden *g);
const loam_tensor *golden_tensor(const golden *g, const char *name);
double golden_tol(const golden *g, const char *name);

double max_abs_diff(const float *a, const float *b, size_t n);
/* KL(softmax(p) || softmax(q)) of two logit rows, in double. */
double kl_divergence(const float *p_logits, const float *q_logits, int n);
/* Runs fixtures/llm/<name>'s golden (prefill, hidden, greedy, steps) on a
 * model path (NULL: the case folder). */
void check_llm_case(const char *name, const char *model, loam_simd simd);
/* Runs a shell command, returns its exit status; its stdout into *out
 * (malloc; add 2>&1 to the command for stderr too). */
int run_capture(const char *cmd, char **out);
/* A one-sequence batch's positions 0..n-1 and sequence ids 0, sized by what
 * the fixture holds (never a fixed array): malloc'ed, NULL members on
 * failure; test_rows_free. */
typedef struct {
    int32_t *pos, *seq;
} test_rows;
test_rows test_rows_new(int n);
void test_rows_free(test_rows *r);

/* A child process run with guards: killed past timeout_s seconds or past
 * rss_limit_kb of resident memory (0: no limit), its stdout and stderr
 * kept apart, its time and peak memory measured. */
typedef struct {
    int exit_code; /* -1 when it did not exit */
    int signaled, timed_out, over_memory;
    double seconds;
    long max_rss_kb;
    char *out, *err;
} guarded_run;
int run_guarded(char *const argv[], double timeout_s, long rss_limit_kb, guarded_run *r);
/* the same with the child's environment given */
int run_guarded_env(char *const argv[], char *const envp[], double timeout_s, long rss_limit_kb, guarded_run *r);
void guarded_free(guarded_run *r);

/* Writes text to a file; 0 on failure. */
int write_text(const char *path, const char *text);
/* Copies a file / a whole folder. */
int copy_file(const char *from, const char *to);
int copy_dir(const char *from, const char *to);

#endif
