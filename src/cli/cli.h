/* The loam command-line program: one file per subcommand, this header for
 * what they share. Uses only the public headers, loam.h, loam_tools.h and loam_store.h. */
#ifndef LOAM_CLI_H
#define LOAM_CLI_H
#include <stdint.h>

#include "loam.h"
#include "loam_tools.h"
#include "loam_store.h"
#include "loam_speech.h"
#include "loam_image.h"

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_pick(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_imagine(int argc, char **argv);
/* loam bench on a Whisper model (bench_speech.c) */
int bench_speech(int argc, char **argv);
/* loam bench on a FLUX.1 transformer GGUF (bench_image.c) */
int bench_image(int argc, char **argv);
/* The machine of every benchmark row (cmd_bench.c). */
void cli_print_cpu_json(const loam_cpu_info *c);
void cli_print_cpu_line(const loam_cpu_info *c);
/* The peak of a bench --gemm type's instructions on `threads`, GOP/s (0: cannot run); label may be NULL (cmd_bench.c). */
double cli_peak_of(const char *type, int threads, char *label, size_t label_size);
/* The machine's read bandwidth (bytes/s) on `threads`, measured in a child process. */
double cli_bound_in_child(int threads);
/* A model argument (folder, GGUF file, hub id or short name) to the path to
 * open: the store's copy of a hub id; with allow_pull, what is missing is
 * pulled first. Returns 0, or 1 after printing why not. */
int cli_resolve_model(const char *arg, int allow_pull, char *out, size_t n);
/* A whole file (or stdin for "-"), NUL-terminated, malloc'ed; NULL on error. */
char *cli_read_file(const char *path);

/* Prints "loam: <message>" to stderr and returns 1 (the exit status). */
int cli_error(const char *fmt, ...);
int cli_error_status(const loam_error *err);
/* Parses an integer/float option value, or reports which option was bad. */
int cli_int(const char *opt, const char *value, long lo, long hi, long *out);
int cli_float(const char *opt, const char *value, double *out);
/* Comma-separated integers ("1,2,3"); returns the count or -1. */
int cli_int_list(const char *text, int32_t **out);
double cli_now(void);
/* For a .gguf path: validates the whole file as loam run would (container
 * and model metadata); prints the error and returns 1 if it is refused, 0
 * otherwise (also for an architecture loam does not run, whose container
 * is still checked). 0 for other paths. */
int cli_check_gguf(const char *path);
/* An unsigned 64-bit integer option (digits only: "1.5", "-1" are refused). */
int cli_u64(const char *opt, const char *value, uint64_t *out);

/* ------------------------------------------------ shared generation flags */

/* Which sampling flags were given (the rest come from the model). */
enum {
    CLI_SET_TEMP = 1 << 0,
    CLI_SET_TOP_K = 1 << 1,
    CLI_SET_TOP_P = 1 << 2,
    CLI_SET_MIN_P = 1 << 3,
    CLI_SET_REP = 1 << 4,
    CLI_SET_PRES = 1 << 5,
    CLI_SET_FREQ = 1 << 6,
    CLI_SET_SEED = 1 << 7,
};

/* The model, context and sampling flags of run, chat and serve. */
typedef struct cli_gen_flags {
    long n_predict; /* -1: until EOS or the context is full */
    long n_threads, n_ctx;
    loam_kv_type kv_type;
    int bf16_dot, keep_layout, ignore_eos;
    loam_sampling_params sampling;
    unsigned set; /* CLI_SET_* */
} cli_gen_flags;

extern const char cli_gen_flags_help[];
void cli_gen_flags_init(cli_gen_flags *f);
/* If argv[*i] is a shared flag, takes it (and its value, advancing *i) and
 * returns 1; 0 if it is not one; -1 after printing why its value is bad. */
int cli_gen_flag(int argc, char **argv, int *i, cli_gen_flags *f);
loam_model_params cli_model_params(const cli_gen_flags *f);
loam_context_params cli_context_params(const cli_gen_flags *f);
/* The model's generation defaults, overridden flag by flag; the seed from
 * the clock unless given. */
loam_sampling_params cli_sampling(const cli_gen_flags *f, const loam_model *model);

/* What a command's argument parser returns: go on, stop with success
 * (--help was printed), or stop with an error (already printed). */
enum { CLI_PARSE_OK = 0, CLI_PARSE_ERROR = 1, CLI_PARSE_HELP = 2 };

#endif
