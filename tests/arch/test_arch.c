/* ARCHITECTURE.md's rules hold for the tree, and the checker really
 * checks: each planted violation, in a copy of src/, makes it fail naming
 * the file. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

static void test_tree_follows_rules(void) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/scripts/check-includes.sh %s 2>&1", LOAM_SOURCE_DIR, LOAM_SOURCE_DIR);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0, "scripts/check-includes.sh found violations:\n%s", out ? out : "");
    free(out);
}

/* One planted violation: a shell snippet run inside a fresh copy of the
 * checkout (src/ and ARCHITECTURE.md), and what the checker must name. */
static const struct {
    const char *what, *plant, *named;
} plants[] = {
    {"a kernel includes the text runtime", "echo '#include \"text/model.h\"' >> src/kernels/dispatch.c", "src/kernels/dispatch.c"},
    {"core includes a kernel header", "echo '#include \"kernels/kernels.h\"' >> src/core/tensor.c", "src/core/tensor.c"},
    {"a kernel includes a format header", "echo '#include \"formats/gguf.h\"' >> src/kernels/quants.c", "src/kernels/quants.c"},
    {"a kernel includes the tokenizer", "echo '#include \"tokenizer/tokenizer.h\"' >> src/kernels/quants.c", "src/kernels/quants.c"},
    {"one modality includes another",
     "sed -i 's/^| `speech` | core/| `speech` | text, core/' ARCHITECTURE.md; mkdir -p src/speech && echo '#include \"text/model.h\"' > src/speech/whisper.c",
     "text"},
    {"the text runtime includes speech", "mkdir -p src/speech && touch src/speech/w.h && echo '#include \"speech/w.h\"' >> src/text/decoder.c",
     "src/text/decoder.c"},
    {"the library includes the CLI", "echo '#include \"cli/cli.h\"' >> src/text/model.c", "src/text/model.c"},
    {"the CLI includes an internal header", "echo '#include \"core/error.h\"' >> src/cli/cmd_run.c", "src/cli/cmd_run.c"},
    {"a folder ARCHITECTURE.md does not list", "mkdir -p src/misc && echo 'int x;' > src/misc/x.c", "src/misc"},
    {"a file over 1,500 lines", "seq 1600 | sed 's/.*/int v&;/' >> src/nn/rope.c", "src/nn/rope.c"},
    {"a function over 150 lines",
     "{ echo 'int long_fn(void) {'; seq 160 | sed 's/.*/    (void)0;/'; echo '}'; } >> src/nn/norm.c", "src/nn/norm.c"},
    {"exit() in the library", "echo 'void quit(void) { exit(1); }' >> src/formats/json.c", "src/formats/json.c"},
};

static void test_planted_violations(void) {
    for (size_t i = 0; i < sizeof plants / sizeof *plants; i++) {
        const char *dir = temp_dir();
        char cmd[4096], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "cp -r %s/src %s/ARCHITECTURE.md %s/ && cd %s && { %s; } && %s/scripts/check-includes.sh %s 2>&1", LOAM_SOURCE_DIR,
                 LOAM_SOURCE_DIR, dir, dir, plants[i].plant, LOAM_SOURCE_DIR, dir);
        int rc = run_capture(cmd, &out);
        int ok = rc == 1 && out && strstr(out, plants[i].named);
        CHECK(ok, "planted \"%s\": the checker exited %d and said:\n%s", plants[i].what, rc, out ? out : "");
        free(out);
    }
}

void register_arch_tests(void) {
    test_add("arch: src/ follows ARCHITECTURE.md (includes, folders, sizes, no exit)", test_tree_follows_rules);
    test_add("arch: the include checker fails on each of 12 planted violations", test_planted_violations);
}
