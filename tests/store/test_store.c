/* loam pull, list, rm and model names against the hub look-alike on
 * 127.0.0.1: what is fetched, resuming, digests, gated repos, a full disk,
 * an existing Hugging Face cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lookalike.h"
#include "test.h"

#define STORIES_COMMIT_DIR(h) ((h)->cache)

/* Runs `loam ARGS` with the hub's environment; output (stdout+stderr) in *out. */
static int loam_cmd(const test_hub *h, const char *extra_env, const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "env %s %s %s %s 2>&1 </dev/null", h->env, extra_env ? extra_env : "", LOAM_BIN, args);
    return run_capture(cmd, out);
}

/* The generated text of a `loam run` output (before its "prompt:" statistics). */
static int same_text(const char *a, const char *b) {
    const char *sa = a ? strstr(a, "Once upon") : NULL, *sb = b ? strstr(b, "Once upon") : NULL;
    if (!sa || !sb) return 0;
    const char *ea = strstr(sa, "prompt:"), *eb = strstr(sb, "prompt:");
    return ea && eb && ea - sa == eb - sb && ea - sa > 16 && !strncmp(sa, sb, (size_t)(ea - sa));
}

static int same_file(const char *a, const char *b) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

/* The snapshot folder of a repo in the hub's cache (the only one). */
static int snapshot_of(const test_hub *h, const char *repo_dir, char *out, size_t n) {
    char cmd[4096], *s = NULL;
    snprintf(cmd, sizeof cmd, "ls -d %s/%s/snapshots/* 2>/dev/null | head -1", h->cache, repo_dir);
    int ok = run_capture(cmd, &s) == 0 && s && s[0];
    if (ok) {
        s[strcspn(s, "\n")] = 0;
        snprintf(out, n, "%s", s);
    }
    free(s);
    return ok;
}

static int count_files(const char *dir) {
    char cmd[4096], *s = NULL;
    snprintf(cmd, sizeof cmd, "find %s \\( -type f -o -type l \\) | wc -l", dir);
    int n = run_capture(cmd, &s) == 0 && s ? atoi(s) : -1;
    free(s);
    return n;
}

static void test_pull_needed_files_only(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *out = NULL, snap[1024], path[1200];
    int rc = loam_cmd(&h, NULL, "pull loam-test/stories260k", &out);
    int ok = rc == 0 && snapshot_of(&h, "models--loam-test--stories260k", snap, sizeof snap);
    if (!ok) {
        hub_stop(&h);
        CHECK(0, "pull failed (%d): %s", rc, out ? out : "");
    }
    /* exactly the files loam reads, each equal to the fixture's */
    static const char *want[] = {"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                                 "tokenizer.json", "tokenizer.model", "tokenizer_config.json"};
    int n_want = (int)(sizeof want / sizeof want[0]), n = count_files(snap);
    char bad[512] = "";
    for (int i = 0; i < n_want; i++) {
        snprintf(path, sizeof path, "%s/%s", snap, want[i]);
        if (!same_file(path, fixture("llm/stories260k/model.safetensors")) && !strcmp(want[i], "model.safetensors")) strcat(bad, want[i]);
        char src[1200];
        snprintf(src, sizeof src, "%s", fixture("llm/stories260k"));
        strcat(src, "/"), strcat(src, want[i]);
        if (!same_file(path, src)) strcat(strcat(bad, " "), want[i]);
    }
    int skipped = hub_log_count(&h, "original/", NULL, NULL) + hub_log_count(&h, "pytorch_model", NULL, NULL) +
                  hub_log_count(&h, "flax", NULL, NULL) + hub_log_count(&h, "onnx", NULL, NULL) +
                  hub_log_count(&h, "README", NULL, NULL);
    /* the printed path is the snapshot, and refs/main names its commit */
    char ref[1200], *commit = NULL;
    snprintf(ref, sizeof ref, "cat %s/models--loam-test--stories260k/refs/main", h.cache);
    run_capture(ref, &commit);
    int ref_ok = commit && strstr(snap, commit) && strstr(out, snap);
    free(commit);
    /* the store's copy runs as the fixture folder does */
    char *a = NULL, *b = NULL, args[1400];
    loam_cmd(&h, NULL, "run loam-test/stories260k \"Once upon a time\" -n 16 --temp 0", &a);
    snprintf(args, sizeof args, "run %s \"Once upon a time\" -n 16 --temp 0", fixture("llm/stories260k"));
    loam_cmd(&h, NULL, args, &b);
    int run_ok = same_text(a, b);
    hub_stop(&h);
    CHECK(n == n_want && !bad[0], "snapshot has %d files (want %d); differing: %s", n, n_want, bad);
    CHECK(skipped == 0, "%d requests for files loam does not need", skipped);
    CHECK(ref_ok, "refs/main does not name the printed snapshot %s (output %s)", snap, out);
    CHECK(run_ok, "loam run from the store printed\n%s\nfrom the fixture\n%s", a ? a : "", b ? b : "");
    free(out), free(a), free(b);
}

/* A connection cut mid-file is resumed with a Range request, not restarted. */
static void test_resume_after_cut(void) {
    test_hub h;
    CHECK(hub_start(&h, "--cut model.safetensors:300000"), "no hub look-alike");
    char *out = NULL, snap[1024], path[1200];
    int rc = loam_cmd(&h, NULL, "pull -q loam-test/stories260k", &out);
    int ok = rc == 0 && snapshot_of(&h, "models--loam-test--stories260k", snap, sizeof snap);
    snprintf(path, sizeof path, "%s/model.safetensors", snap);
    ok = ok && same_file(path, fixture("llm/stories260k/model.safetensors"));
    int ranges = hub_log_count(&h, "/cdn/", "bytes=300000-", "206");
    hub_stop(&h);
    CHECK(ok, "pull after a cut failed (%d): %s", rc, out ? out : "");
    CHECK(ranges == 1, "expected one resumed request from byte 300000, saw %d", ranges);
    free(out);
}

/* Without retries the cut pull fails, leaves only an .incomplete part that
 * nothing takes as the model, and the next pull resumes it. */
static void test_interrupted_then_resumed(void) {
    test_hub h;
    CHECK(hub_start(&h, "--cut model.safetensors:300000"), "no hub look-alike");
    char *out = NULL, *out2 = NULL, *run = NULL, cmd[4096], *parts = NULL;
    int rc = loam_cmd(&h, NULL, "pull -q --retries 0 loam-test/stories260k", &out);
    snprintf(cmd, sizeof cmd, "find %s -name '*.incomplete' -size 300000c | wc -l; ls %s/models--loam-test--stories260k/refs 2>&1",
             h.cache, h.cache);
    run_capture(cmd, &parts);
    loam_cmd(&h, NULL, "info loam-test/stories260k", &run);
    int rc2 = loam_cmd(&h, NULL, "pull -q loam-test/stories260k", &out2);
    int ranges = hub_log_count(&h, "/cdn/", "bytes=300000-", "206");
    hub_stop(&h);
    CHECK(rc != 0 && out && strstr(out, "model.safetensors") && strstr(out, "resumes"), "the cut pull: exit %d, %s", rc, out ? out : "");
    CHECK(parts && parts[0] == '1' && strstr(parts, "No such file"), "after the cut: one 300000-byte part and no ref expected: %s",
          parts ? parts : "");
    CHECK(run && strstr(run, "not in the model store"), "an unfinished pull was taken as a model: %s", run ? run : "");
    CHECK(rc2 == 0 && ranges == 1, "the second pull (exit %d, %d resumed requests): %s", rc2, ranges, out2 ? out2 : "");
    free(out), free(out2), free(run), free(parts);
}

static void test_sha_mismatch_refused(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *out = NULL, cmd[4096], *left = NULL;
    int rc = loam_cmd(&h, NULL, "pull -q loam-test/corrupt", &out);
    /* the hub lists sha256("not the file"): no blob or part of that name may stay */
    snprintf(cmd, sizeof cmd, "ls %s/models--loam-test--corrupt/refs 2>&1 | head -1; "
             "ls %s/models--loam-test--corrupt/blobs | grep -c $(printf 'not the file' | sha256sum | cut -c1-64)", h.cache, h.cache);
    run_capture(cmd, &left);
    hub_stop(&h);
    CHECK(rc != 0 && out && strstr(out, "sha256") && strstr(out, "model.safetensors"), "exit %d: %s", rc, out ? out : "");
    /* the other files may be complete; the bad one is gone, no ref, no part */
    CHECK(left && strstr(left, "No such file") && left[strlen(left) - 2] == '0', "left behind: %s", left ? left : "");
    free(out), free(left);
}

static void test_gated_repo(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *none = NULL, *wrong = NULL, *right = NULL, *file = NULL, cmd[4096];
    int rc1 = loam_cmd(&h, NULL, "pull -q loam-test/gated", &none);
    int rc2 = loam_cmd(&h, "HF_TOKEN=hf_wrong", "pull -q loam-test/gated", &wrong);
    int rc3 = loam_cmd(&h, "HF_TOKEN=hf_loam_test", "pull -q loam-test/gated", &right);
    /* the token file ($HF_HOME/token) when HF_TOKEN is empty; a fresh cache */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/hf-home && printf 'hf_loam_test\\n' > %s/hf-home/token && rm -rf %s", h.dir, h.dir, h.cache);
    int rc4 = system(cmd);
    if (rc4 == 0) rc4 = loam_cmd(&h, NULL, "pull -q loam-test/gated", &file);
    int sent = hub_log_count(&h, "Bearer hf_loam_test", "/cdn/", NULL); /* never sent to the CDN */
    hub_stop(&h);
    CHECK(rc1 != 0 && none && strstr(none, "401") && strstr(none, "/loam-test/gated") && strstr(none, "HF_TOKEN"),
          "no token: exit %d, %s", rc1, none ? none : "");
    CHECK(rc2 != 0 && wrong && strstr(wrong, "403"), "wrong token: exit %d, %s", rc2, wrong ? wrong : "");
    CHECK(rc3 == 0, "HF_TOKEN: exit %d, %s", rc3, right ? right : "");
    CHECK(rc4 == 0, "token file: exit %d, %s", rc4, file ? file : "");
    CHECK(sent == 0, "the token went to the CDN %d times", sent);
    free(none), free(wrong), free(right), free(file);
}

/* Free space is checked before anything is fetched; a write that fails
 * mid-file (a full disk: here a file-size limit) keeps only the part. */
static void test_disk_full(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *huge = NULL, *full = NULL, *after = NULL, cmd[4096], *left = NULL;
    int rc1 = loam_cmd(&h, NULL, "pull -q loam-test/huge", &huge);
    int fetched = hub_log_count(&h, "/resolve/", NULL, NULL);
    /* 700 KiB files at most: model.safetensors (1,044,992 bytes) cannot be written */
    snprintf(cmd, sizeof cmd, "sh -c \"trap '' XFSZ; ulimit -f 1400; env %s %s pull -q loam-test/stories260k\" 2>&1 </dev/null", h.env,
             LOAM_BIN);
    int rc2 = run_capture(cmd, &full);
    snprintf(cmd, sizeof cmd, "ls %s/models--loam-test--stories260k/refs 2>&1 | head -1; ls %s/models--loam-test--stories260k/snapshots/*/ | "
             "grep -c model.safetensors", h.cache, h.cache);
    run_capture(cmd, &left);
    int rc3 = loam_cmd(&h, NULL, "pull -q loam-test/stories260k", &after);
    hub_stop(&h);
    CHECK(rc1 != 0 && huge && strstr(huge, "not enough free disk") && fetched == 0, "1 PiB repo: exit %d, %d file requests: %s", rc1,
          fetched, huge ? huge : "");
    CHECK(rc2 != 0 && full && strstr(full, "disk is full") && strstr(full, "model.safetensors"), "full disk: exit %d: %s", rc2,
          full ? full : "");
    CHECK(left && strstr(left, "No such file") && strstr(left, "\n0"), "a failed write left a usable model: %s", left ? left : "");
    CHECK(rc3 == 0, "pull after the disk has room: exit %d, %s", rc3, after ? after : "");
    free(huge), free(full), free(after), free(left);
}

/* A cache that huggingface_hub made is used as it is. */
static void test_existing_cache_reused(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char cmd[4096], *made = NULL, *out = NULL;
    snprintf(cmd, sizeof cmd, "python3 %s/tests/store/hub_lookalike.py --fixtures %s --make-cache %s loam-test/stories260k 2>&1",
             LOAM_SOURCE_DIR, fixtures_dir(), h.cache);
    int rc0 = run_capture(cmd, &made);
    int before = count_files(h.cache);
    int rc = loam_cmd(&h, NULL, "pull loam-test/stories260k", &out);
    int downloads = hub_log_count(&h, "/resolve/", NULL, NULL) + hub_log_count(&h, "/cdn/", NULL, NULL);
    int after = count_files(h.cache);
    hub_stop(&h);
    CHECK(rc0 == 0, "making the cache: %s", made ? made : "");
    CHECK(rc == 0 && out && strstr(out, "all in the store already"), "exit %d: %s", rc, out ? out : "");
    CHECK(downloads == 0 && after == before, "%d downloads, %d files before, %d after", downloads, before, after);
    free(made), free(out);
}

static void test_gguf_quant_and_short_name(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *q8 = NULL, *none = NULL, *partial = NULL, *run = NULL, *want = NULL, args[1400];
    int rc1 = loam_cmd(&h, NULL, "pull -q bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0", &q8);
    int other = hub_log_count(&h, "Q4_K_M", NULL, NULL);
    int rc2 = loam_cmd(&h, NULL, "pull -q bartowski/Llama-3.2-1B-Instruct-GGUF", &none);
    int rc3 = loam_cmd(&h, NULL, "pull -q bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K", &partial);
    /* the catalogue's short name: llama3.2:1b is that repo's Q4_K_M file, pulled by run */
    loam_cmd(&h, NULL, "run llama3.2:1b \"Once upon a time\" -n 12 --temp 0", &run);
    snprintf(args, sizeof args, "run %s \"Once upon a time\" -n 12 --temp 0", fixture("gguf/stories260k/model-f32.gguf"));
    loam_cmd(&h, NULL, args, &want);
    hub_stop(&h);
    CHECK(rc1 == 0 && q8 && strstr(q8, "Llama-3.2-1B-Instruct-Q8_0.gguf") && other == 0, "Q8_0: exit %d, %d other requests: %s", rc1,
          other, q8 ? q8 : "");
    CHECK(rc2 != 0 && none && strstr(none, "Q4_K_M") && strstr(none, "Q8_0"), "no quantization: exit %d: %s", rc2, none ? none : "");
    CHECK(rc3 != 0 && partial && strstr(partial, "no GGUF file of quantization Q4_K"), "Q4_K: exit %d: %s", rc3, partial ? partial : "");
    CHECK(run && strstr(run, "pulling llama3.2:1b") && same_text(run, want),
          "loam run llama3.2:1b printed\n%s\nthe file itself\n%s", run ? run : "", want ? want : "");
    free(q8), free(none), free(partial), free(run), free(want);
}

static void test_list_rm_and_ask(void) {
    test_hub h;
    CHECK(hub_start(&h, NULL), "no hub look-alike");
    char *pull = NULL, *list = NULL, *rm = NULL, *list2 = NULL, *ask = NULL;
    loam_cmd(&h, NULL, "pull -q loam-test/llama31", &pull);
    loam_cmd(&h, NULL, "list", &list);
    int rc_rm = loam_cmd(&h, NULL, "rm loam-test/llama31", &rm);
    loam_cmd(&h, NULL, "list", &list2);
    /* over LOAM_ASK_ABOVE and not on a terminal: refused, nothing fetched */
    int before = hub_log_count(&h, "/resolve/", NULL, NULL);
    int rc_ask = loam_cmd(&h, "LOAM_ASK_ABOVE=1K", "run loam-test/stories260k hello -n 2", &ask);
    int fetched = hub_log_count(&h, "/resolve/", NULL, NULL) - before;
    hub_stop(&h);
    CHECK(list && strstr(list, "loam-test/llama31") && strstr(list, "KiB"), "list: %s", list ? list : "");
    CHECK(rc_rm == 0 && rm && strstr(rm, "removed") && list2 && !strstr(list2, "loam-test/llama31"), "rm: %s / list: %s", rm ? rm : "",
          list2 ? list2 : "");
    CHECK(rc_ask != 0 && ask && strstr(ask, "LOAM_ASK_ABOVE") && fetched == 0, "ask: exit %d, %d fetched: %s", rc_ask, fetched,
          ask ? ask : "");
    free(pull), free(list), free(rm), free(list2), free(ask);
}

/* A hub that lists bare file names: sizes and digests from the tree listing. */
static void test_tree_listing(void) {
    test_hub h;
    CHECK(hub_start(&h, "--no-blobs"), "no hub look-alike");
    char *out = NULL, snap[1024], path[1200];
    int rc = loam_cmd(&h, NULL, "pull -q loam-test/llama31", &out);
    int ok = rc == 0 && snapshot_of(&h, "models--loam-test--llama31", snap, sizeof snap);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", snap);
    ok = ok && same_file(path, fixture("llm/llama31/model-00002-of-00002.safetensors"));
    int tree = hub_log_count(&h, "/tree/", "recursive=true", "200");
    hub_stop(&h);
    CHECK(ok && tree >= 1, "exit %d, %d tree requests: %s", rc, tree, out ? out : "");
    free(out);
}

void register_store_tests(void) {
    test_add("store: a hub answering bare file names: the tree listing gives sizes and digests", test_tree_listing);
    test_add("store: pull fetches only the files loam needs, equal to the hub's, and loam run uses them", test_pull_needed_files_only);
    test_add("store: a cut connection is resumed with a Range request", test_resume_after_cut);
    test_add("store: an interrupted pull leaves only a part, taken by no one, and the next pull resumes it",
             test_interrupted_then_resumed);
    test_add("store: a file whose sha256 differs from the hub's is refused and deleted", test_sha_mismatch_refused);
    test_add("store: gated repo: 401 without a token, 403 with a wrong one, HF_TOKEN or the token file work", test_gated_repo);
    test_add("store: free space is checked first; a full disk mid-file leaves no usable model", test_disk_full);
    test_add("store: a Hugging Face cache another tool made is reused without a download", test_existing_cache_reused);
    test_add("store: GGUF repos by quantization (whole token), short names pulled by loam run", test_gguf_quant_and_short_name);
    test_add("store: list, rm, and run refuses a download over LOAM_ASK_ABOVE when it cannot ask", test_list_rm_and_ask);
}
