/* Tokenizers under load and abuse: linear time, streaming decode,
 * malformed files, invalid text and ids. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Encoding time grows linearly: a 1 MB line takes about 10x a 100 kB one
 * (a quadratic merge loop or regex scan would give ~100x). */
static void test_encode_is_linear(void) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(fixture("tokenizers/llama31"), &tok, &err), &err);
    const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs,", "while", "engines", "infer", "tokens", "1234", "don't"};
    size_t big = 1000000, small = 100000;
    char *text = malloc(big + 32);
    size_t at = 0;
    uint64_t x = 7;
    while (at < big) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const char *w = words[(x >> 33) % 14];
        size_t n = strlen(w);
        memcpy(text + at, w, n);
        text[at + n] = ' ';
        at += n + 1;
    }
    double best_small = 1e9, best_big = 1e9;
    int32_t *ids;
    int n_ids, n_big = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_seconds();
        loam_tokenize(tok, text, small, 0, &ids, &n_ids, &err);
        double t1 = now_seconds();
        free(ids);
        loam_tokenize(tok, text, big, 0, &ids, &n_big, &err);
        double t2 = now_seconds();
        free(ids);
        if (t1 - t0 < best_small) best_small = t1 - t0;
        if (t2 - t1 < best_big) best_big = t2 - t1;
    }
    free(text);
    loam_tokenizer_free(tok);
    printf("    100 kB: %.1f ms, 1 MB: %.1f ms (%.1f MB/s), ratio %.1f\n", best_small * 1e3, best_big * 1e3, 1.0 / best_big,
           best_big / best_small);
    CHECK(n_big > 100000, "1 MB gave only %d ids", n_big);
    /* linear is 10x, quadratic 100x; 30 leaves room for a loaded machine under ASan (16x was seen once) */
    CHECK(best_big / best_small < 30, "1 MB took %.1fx the time of 100 kB (not linear)", best_big / best_small);
}

/* Streamed pieces are always whole UTF-8 characters and add up to the full
 * decode, even when a character is split over byte-fallback tokens. */
static void test_stream_decode(void) {
    const char *dirs[] = {"tokenizers/gemma", "tokenizers/llama31", "llm/stories260k", "tokenizers/t5"};
    const char *text = "Hello 世界! 😀 naïve café — ok";
    for (int d = 0; d < 4; d++) {
        loam_error err;
        loam_tokenizer *tok = NULL;
        CHECK_OK(loam_tokenizer_open(fixture(dirs[d]), &tok, &err), &err);
        int32_t *ids;
        int n;
        CHECK_OK(loam_tokenize(tok, text, strlen(text), 0, &ids, &n, &err), &err);
        char *full = NULL;
        loam_detokenize(tok, ids, n, 1, &full, NULL, &err);
        loam_detok_stream *s;
        loam_detok_stream_open(tok, 1, &s, &err);
        char joined[512] = "";
        int whole = 1;
        for (int i = 0; i < n; i++) {
            const char *piece;
            size_t len;
            loam_detok_stream_push(s, ids[i], &piece, &len, &err);
            if (len && (((unsigned char)piece[0] & 0xc0) == 0x80 || strstr(piece, "\xef\xbf\xbd"))) whole = 0;
            strncat(joined, piece, len);
        }
        int same = strcmp(joined, full) == 0;
        loam_detok_stream_free(s);
        free(ids);
        loam_tokenizer_free(tok);
        CHECK(whole, "%s: a streamed piece splits a character", dirs[d]);
        CHECK(same, "%s: streamed \"%s\" vs decoded \"%s\"", dirs[d], joined, full);
        free(full);
    }
}


static int open_fails(const char *path, const char *needle, char *msg, size_t len) {
    loam_error err = {0};
    loam_tokenizer *tok = NULL;
    loam_status st = loam_tokenizer_open(path, &tok, &err);
    snprintf(msg, len, "%s", st == LOAM_OK ? "accepted" : err.message);
    loam_tokenizer_free(tok);
    return st != LOAM_OK && strstr(err.message, needle) && strstr(err.message, "tokenizer.json");
}

static void test_bad_tokenizer_files(void) {
    char msg[1100], path[700];
    const char *dir = temp_dir();
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]");
    CHECK(open_fails(path, "malformed JSON", msg, sizeof msg), "truncated: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a c\"]}}");
    CHECK(open_fails(path, "merge 0 (\"a\" + \"c\") names a token missing from the vocab", msg, sizeof msg), "missing merge token: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}");
    CHECK(open_fails(path, "model type \"WordLevel\" is not supported", msg, sizeof msg), "model type: %s", msg);
    write_text(path, "{\"normalizer\": {\"type\": \"Bogus\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "normalizer type \"Bogus\"", msg, sizeof msg), "normalizer: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -5}, \"merges\": []}}");
    CHECK(open_fails(path, "no valid id", msg, sizeof msg), "bad id: %s", msg);
    write_text(path, "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\"},"
                     " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "does not compile", msg, sizeof msg), "regex: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 99999999, \"content\": \"x\"}]}");
    CHECK(open_fails(path, "added token", msg, sizeof msg), "huge id: %s", msg);
    /* raw invalid UTF-8 inside a JSON string (cJSON accepts it): refused, not fed to a regex */
    write_text(path, "{\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xff\xfe\"},"
                     " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "not valid UTF-8", msg, sizeof msg), "invalid UTF-8 content: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"\x80\"}]}");
    CHECK(open_fails(path, "not valid UTF-8", msg, sizeof msg), "invalid UTF-8 added token: %s", msg);
}

/* A file is read by its name: only a file called exactly vocab.json is the
 * vocab + merges pair (myvocab.json is a tokenizer.json); names shorter than
 * the suffixes are safe. */
static void test_file_names(void) {
    const char *dir = temp_dir();
    char path[700];
    const char *names[] = {"myvocab.json", "a.json", "x.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(copy_file(fixture("tokenizers/llama31/tokenizer.json"), path), "copy");
        loam_tokenizer *tok = NULL;
        loam_error err;
        loam_status st = loam_tokenizer_open(path, &tok, &err);
        int n = st == LOAM_OK ? loam_tokenizer_n_vocab(tok) : 0;
        loam_tokenizer_free(tok);
        CHECK(st == LOAM_OK && n > 1000, "%s (a tokenizer.json) did not load as one: %s", names[i], st ? err.message : "");
    }
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) && chdir(dir) == 0, "chdir");
    loam_tokenizer *tok = NULL;
    loam_error err;
    loam_status st = loam_tokenizer_open("a.json", &tok, &err); /* a bare name, shorter than "vocab.json" */
    loam_tokenizer_free(tok);
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(st == LOAM_OK, "a.json: %s", err.message);
}

/* Invalid UTF-8 is refused with the byte offset (the reference takes only
 * valid Unicode strings); out-of-range ids are refused when decoding. */
static void test_bad_text_and_ids(void) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(fixture("tokenizers/llama31"), &tok, &err), &err);
    int32_t *ids = NULL;
    int n;
    loam_status st = loam_tokenize(tok, "ok \xff\xfe bad", 9, 1, &ids, &n, &err);
    int bad_utf8 = st == LOAM_E_ARG && strstr(err.message, "not valid UTF-8 (byte 3)");
    st = loam_tokenize(tok, "ok \xe2\x82", 5, 1, &ids, &n, &err); /* truncated sequence at the end */
    int truncated = st == LOAM_E_ARG;
    int32_t big[2] = {5, 999999};
    char *text = NULL;
    st = loam_detokenize(tok, big, 2, 0, &text, NULL, &err);
    loam_tokenizer_free(tok);
    CHECK(bad_utf8, "invalid UTF-8 not refused clearly: %s", err.message);
    CHECK(truncated, "a truncated UTF-8 sequence was accepted");
    CHECK(st == LOAM_E_RANGE && strstr(err.message, "999999"), "bad id: %s", err.message);
}


void register_tokenizer_robust_tests(void) {
    test_add("tokenizer: encoding time is linear in the input (100 kB vs 1 MB)", test_encode_is_linear);
    test_add("tokenizer: streaming decode never splits a character", test_stream_decode);
    test_add("tokenizer: malformed tokenizer.json files give clear errors", test_bad_tokenizer_files);
    test_add("tokenizer: invalid UTF-8 and unknown ids refused", test_bad_text_and_ids);
    test_add("tokenizer: files are told apart by their whole name (myvocab.json, short names)", test_file_names);
}
