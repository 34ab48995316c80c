/* The loam command-line program: one file per subcommand, this header for
 * what they share. Uses only the public loam.h. */
#ifndef LOAM_CLI_H
#define LOAM_CLI_H
#include <stdint.h>

#include "loam.h"

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
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

#endif
