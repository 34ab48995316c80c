/* The crafted-file suites, one test per format: each prints its counts,
 * its slowest case and its peak memory. */
#include "hardening/crafted.h"

void crafted_gguf(crafted_stats *container, crafted_stats *meta);
void crafted_scale(crafted_stats *st);
void crafted_files(crafted_stats *safetensors, crafted_stats *config, crafted_stats *tokenizer_json, crafted_stats *spm,
                   crafted_stats *tiktoken);

static void test_gguf(void) {
    crafted_keep_fixture_seeds();
    /* the walker's ~900 files all fail in the GGUF reader: each is still run
     * by all three commands under ASan, but leak-checked in one of them */
    crafted_stats container = {.format = "gguf container", .leak_check_one = 1}, meta = {.format = "gguf metadata and vocabulary"};
    crafted_gguf(&container, &meta);
    crafted_report(&container);
    crafted_report(&meta);
}

static void test_scale(void) {
    crafted_stats st = {.format = "gguf at scale"};
    crafted_scale(&st);
    crafted_report(&st);
}

static void test_files(void) {
    crafted_stats st = {.format = "safetensors"}, cfg = {.format = "config.json, generation_config.json", .leak_check_one = 1},
                  tj = {.format = "tokenizer.json"}, spm = {.format = "tokenizer.model"}, tik = {.format = "tiktoken"};
    crafted_files(&st, &cfg, &tj, &spm, &tik);
    crafted_report(&st);
    crafted_report(&cfg);
    crafted_report(&tj);
    crafted_report(&spm);
    crafted_report(&tik);
}

void register_crafted_tests(void) {
    test_add("crafted: safetensors, config.json, tokenizer.json, tokenizer.model, tiktoken files refused cleanly", test_files);
    test_add("crafted: 100k control tokens, 50k tensors, a zero dimension hiding an overflow: clean and fast", test_scale);
    test_add("crafted: GGUF container, metadata and vocabulary files refused cleanly by info, run, tokenize", test_gguf);
}
