/* The crafted-file suites, one test per format: each prints its counts,
 * its slowest case and its peak memory. */
#include "hardening/crafted.h"

void crafted_gguf(crafted_stats *container, crafted_stats *meta);
void crafted_scale(crafted_stats *st);

static void test_gguf(void) {
    crafted_stats container = {.format = "gguf container"}, meta = {.format = "gguf metadata and vocabulary"};
    crafted_gguf(&container, &meta);
    crafted_report(&container);
    crafted_report(&meta);
}

static void test_scale(void) {
    crafted_stats st = {.format = "gguf at scale"};
    crafted_scale(&st);
    crafted_report(&st);
}

void register_crafted_tests(void) {
    test_add("crafted: 100k control tokens, 50k tensors, a zero dimension hiding an overflow: clean and fast", test_scale);
    test_add("crafted: GGUF container, metadata and vocabulary files refused cleanly by info, run, tokenize", test_gguf);
}
