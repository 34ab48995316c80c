/* The library as its users get it: `cmake --install` into a temporary
 * prefix, examples/generate.c built through pkg-config against the shared
 * library, run on stories260k; and the shared library exports exactly the
 * public headers' calls. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

static void test_installed_example(void) {
    const char *prefix = temp_dir();
    char cmd[4096], *out = NULL, *want = NULL;
    snprintf(cmd, sizeof cmd, "cmake --install %s --prefix %s >/dev/null 2>&1", LOAM_BUILD_DIR, prefix);
    CHECK(run_capture(cmd, NULL) == 0, "cmake --install failed: %s", cmd);
    /* the .pc file carries libdir and includedir; the header compiles with --cflags alone */
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH=$(dirname $(find %s -name loam.pc)); pkg-config --variable=libdir loam && "
             "pkg-config --variable=includedir loam && echo '#include <loam.h>\n#include <loam_tools.h>\nint main(void){return 0;}' | "
             "%s -x c - -fsyntax-only $(pkg-config --cflags loam) && echo compiled",
             prefix, LOAM_C_COMPILER);
    int rc = run_capture(cmd, &out);
    int ok = rc == 0 && out && strstr(out, prefix) && strstr(out, "compiled");
    CHECK(ok, "pkg-config variables / header (exit %d): %s", rc, out ? out : "");
    free(out), out = NULL;
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH=$(dirname $(find %s -name loam.pc)); %s %s %s/examples/generate.c "
             "$(pkg-config --cflags --libs loam) -Wl,-rpath,$(pkg-config --variable=libdir loam) -o %s/generate 2>&1 && "
             "ldd %s/generate | grep -c 'libloam.so'",
             prefix, LOAM_C_COMPILER, LOAM_TEST_CFLAGS, LOAM_SOURCE_DIR, prefix, prefix);
    rc = run_capture(cmd, &out);
    ok = rc == 0 && out && atoi(out) == 1;
    CHECK(ok, "building the example through pkg-config against libloam.so (exit %d): %s", rc, out ? out : "");
    free(out), out = NULL;
    const char *model = fixture("llm/stories260k");
    snprintf(cmd, sizeof cmd, "%s/generate %s 'Once upon a time' 40 2>&1", prefix, model);
    rc = run_capture(cmd, &out);
    snprintf(cmd, sizeof cmd, "%s run %s 'Once upon a time' -n 40 --temp 0 --ignore-eos 2>/dev/null", LOAM_BIN, model);
    int rc_run = run_capture(cmd, &want);
    ok = rc == 0 && rc_run == 0 && out && want && strlen(want) > 40 && strcmp(out, want) == 0;
    CHECK(ok, "the example (exit %d) printed\n%s\nloam run (exit %d) printed\n%s", rc, out ? out : "", rc_run, want ? want : "");
    free(out), free(want);
}

/* Hidden visibility: the .so exports the LOAM_API calls, nothing else. */
static void test_exports(void) {
    char cmd[2048], *exported = NULL, *declared = NULL;
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/libloam.so | awk '$2==\"T\"{print $3}' | sort", LOAM_BUILD_DIR);
    int rc1 = run_capture(cmd, &exported);
    snprintf(cmd, sizeof cmd,
             "cat %s/include/loam.h %s/include/loam_tools.h %s/include/loam_store.h %s/include/loam_speech.h %s/include/loam_image.h | tr '\\n' ' ' | grep -oE 'LOAM_API [^(;]*[ *]loam_[a-z0-9_]+\\(' | "
             "grep -oE 'loam_[a-z0-9_]+\\($' | tr -d '(' | sort",
             LOAM_SOURCE_DIR, LOAM_SOURCE_DIR, LOAM_SOURCE_DIR, LOAM_SOURCE_DIR, LOAM_SOURCE_DIR);
    int rc2 = run_capture(cmd, &declared);
    int ok = rc1 == 0 && rc2 == 0 && exported && declared && strlen(declared) > 200 && strcmp(exported, declared) == 0;
    CHECK(ok, "exported:\n%s\ndeclared LOAM_API:\n%s", exported ? exported : "", declared ? declared : "");
    free(exported), free(declared);
}

void register_install_tests(void) {
    test_add("install: cmake --install, pkg-config, examples/generate.c against libloam.so = loam run", test_installed_example);
    test_add("install: libloam.so exports exactly the LOAM_API calls of the public headers", test_exports);
}
