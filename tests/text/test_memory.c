/* Weights are mapped, not copied: a model of ~100 MB grows resident memory
 * by about its file size (once every page is touched) plus the KV cache,
 * never by twice that, and opening alone touches almost nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif
#ifdef UNDER_ASAN
#include <sanitizer/allocator_interface.h>
#endif

/* Anonymous memory a pass may not explain by its planned buffers. Under
 * AddressSanitizer freed blocks stay resident in its quarantine (so a run's
 * temporaries pile up as anonymous pages) and every heap byte has an eighth
 * of a byte of shadow: there the heap counts by its live bytes, and only the
 * anonymous memory outside the allocator's mappings counts as pages. */
typedef struct {
    uint64_t anon, heap_mapped, heap_live;
} anon_sample;

static uint64_t rss_kind(const char *key);

static anon_sample sample_anon(void) {
    anon_sample s = {rss_kind("RssAnon:"), 0, 0};
#ifdef UNDER_ASAN
    s.heap_mapped = __sanitizer_get_heap_size();
    s.heap_live = __sanitizer_get_current_allocated_bytes();
#endif
    return s;
}

static int64_t anon_growth(anon_sample a, anon_sample b) {
    int64_t pages = (int64_t)b.anon - (int64_t)a.anon;
#ifdef UNDER_ASAN
    int64_t mapped = (int64_t)b.heap_mapped - (int64_t)a.heap_mapped;
    int64_t outside = pages - mapped - mapped / 8; /* pages outside the heap and its shadow */
    return (outside > 0 ? outside : 0) + ((int64_t)b.heap_live - (int64_t)a.heap_live);
#else
    return pages;
#endif
}

/* Resident bytes of one kind ("RssAnon:" or "RssFile:") from /proc/self/status:
 * copied weights would show as anonymous memory, mapped ones as file pages
 * (shared memory pages where the temporary folder is a tmpfs). */
static uint64_t rss_kind(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n)) kb = strtoull(line + n, NULL, 10);
    if (f) fclose(f);
    return kb << 10;
}

static void write_config(const char *dir) {
    char path[700];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 512,"
          " \"intermediate_size\": 2048, \"num_hidden_layers\": 8, \"num_attention_heads\": 8,"
          " \"num_key_value_heads\": 2, \"vocab_size\": 16384, \"max_position_embeddings\": 256,"
          " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\"}",
          f);
    fclose(f);
}

/* A 90 MiB BF16 Llama folder in a temporary folder. */
static int write_model(const char *dir) {
    write_config(dir);
    const int H = 512, F = 2048, L = 8, V = 16384, KV = 128;
    enum { MAXT = 3 + 8 * 9 };
    loam_named_tensor t[MAXT];
    char names[MAXT][96];
    int n = 0;
    size_t biggest = (size_t)V * H;
    uint16_t *data = malloc(biggest * 2);
    uint64_t x = 1;
    for (size_t i = 0; i < biggest; i++) {
        x = x * 6364136223846793005ull + 1;
        data[i] = loam_f32_to_bf16(((int)(x >> 41) - (1 << 22)) / (float)(1 << 22) * 0.05f);
    }
    uint16_t *ones = malloc((size_t)H * 2);
    for (int i = 0; i < H; i++) ones[i] = loam_f32_to_bf16(1.0f);
#define ADD(NAME, R, C)                                                                            \
    do {                                                                                           \
        snprintf(names[n], 96, "%s", NAME);                                                        \
        t[n] = (loam_named_tensor){names[n], LOAM_DTYPE_BF16, (C) ? 2 : 1, {(R), (C)}, (C) ? data : ones}; \
        n++;                                                                                       \
    } while (0)
    ADD("model.embed_tokens.weight", V, H);
    ADD("model.norm.weight", H, 0);
    ADD("lm_head.weight", V, H);
    char nm[96];
    for (int l = 0; l < L; l++) {
        snprintf(nm, 96, "model.layers.%d.input_layernorm.weight", l);
        ADD(nm, H, 0);
        snprintf(nm, 96, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(nm, H, 0);
        snprintf(nm, 96, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(nm, H, H);
        snprintf(nm, 96, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(nm, KV, H);
        snprintf(nm, 96, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(nm, KV, H);
        snprintf(nm, 96, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(nm, H, H);
        snprintf(nm, 96, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(nm, F, H);
        snprintf(nm, 96, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(nm, F, H);
        snprintf(nm, 96, "model.layers.%d.mlp.down_proj.weight", l);
        ADD(nm, H, F);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    loam_error err;
    loam_status ws = loam_write_safetensors(path, t, n, &err);
    free(data), free(ones);
    return ws == LOAM_OK;
}

/* Opens the model (its weights as stored, or repacked / copied at load as
 * by default) and runs a forward pass, measuring what became resident. */
static void check_rss(int keep_layout) {
    const char *dir = temp_dir();
    CHECK(write_model(dir), "could not write the test model");
    loam_error err;
    loam_model_params mp = loam_model_default_params();
    mp.keep_layout = keep_layout;
    uint64_t before = loam_resident_bytes(), file0 = rss_kind("RssFile:") + rss_kind("RssShmem:");
    anon_sample anon0 = sample_anon();
    loam_model *m = NULL;
    CHECK_OK(loam_model_open(dir, &mp, &m, &err), &err);
    uint64_t after_open = loam_resident_bytes();
    loam_model_info info;
    loam_model_get_info(m, &info);
    loam_context *c = NULL;
    loam_context_params cp = loam_context_default_params();
    loam_status st = loam_context_open(m, &cp, &c, &err);
    int32_t tok[16], pos[16], seq[16] = {0};
    for (int i = 0; i < 16; i++) tok[i] = i * 97, pos[i] = i;
    loam_batch b = {16, tok, pos, seq, NULL};
    if (st == LOAM_OK) st = loam_decode(c, &b, &err);
    anon_sample anon1 = sample_anon();
    uint64_t after_run = loam_resident_bytes(), file1 = rss_kind("RssFile:") + rss_kind("RssShmem:");
    uint64_t kv = loam_model_kv_bytes(m, 256, 1);
    loam_memory_plan plan;
    loam_status ps = loam_model_memory(m, 256, LOAM_KV_F32, &plan, &err);
    loam_context_free(c);
    loam_model_free(m);
    CHECK(st == LOAM_OK, "decode: %s", err.message);
    CHECK(ps == LOAM_OK, "memory plan: %s", err.message);
    double mib = 1048576.0;
    int64_t anon = anon_growth(anon0, anon1), file = (int64_t)file1 - (int64_t)file0;
    printf("    weights %.1f MiB, KV %.1f MiB, planned scratch %.1f + runtime %.1f MiB; RSS +%.1f MiB after open, +%.1f MiB after a forward pass"
           " (anonymous %+.1f, file %+.1f)\n",
           info.weight_bytes / mib, kv / mib, plan.scratch / mib, plan.overhead / mib, (after_open - before) / mib, (after_run - before) / mib,
           anon / mib, file / mib);
    CHECK(info.weight_bytes > 64 * 1048576ull, "test model too small (%llu bytes)", (unsigned long long)info.weight_bytes);
    if (!keep_layout) {
        /* the matrices copied at load, their mapped pages given back: the
         * weights are held once, whatever their layout */
        CHECK(info.n_repacked > 0, "nothing was repacked or copied at load");
        CHECK(anon <= (int64_t)(info.weight_bytes + kv + plan.scratch + plan.overhead + 16 * 1048576ull),
              "a forward pass grew anonymous memory by %.1f MiB for %.1f MiB of weights and %.1f MiB of KV cache", anon / mib,
              info.weight_bytes / mib, kv / mib);
        /* of the file only the embedding's looked-up rows stay (2 MiB folios around each at most) */
        uint64_t embedding = (uint64_t)16384 * 512 * 2;
        CHECK(file <= (int64_t)(embedding + 8 * 1048576ull), "%.1f MiB of the file stayed mapped beside the copies: weights held twice",
              file / mib);
        return;
    }
    CHECK(info.n_repacked == 0, "keep_layout, yet %d matrices were repacked", info.n_repacked);
    CHECK(after_open - before < 8 * 1048576ull, "opening made %.1f MiB resident: weights copied?", (after_open - before) / mib);
    /* file pages: at most the mapped file (a kernel with large folios may map
     * whole 2 MiB folios around each touched row); anonymous: the KV cache,
     * the planned scratch and the runtime's small change, never a copy */
    CHECK(file <= (int64_t)(info.weight_bytes + 8 * 1048576ull), "a forward pass mapped %.1f MiB of file for %.1f MiB of weights",
          file / mib, info.weight_bytes / mib);
    CHECK(anon <= (int64_t)(kv + plan.scratch + plan.overhead + 16 * 1048576ull),
          "a forward pass grew anonymous memory by %.1f MiB (KV %.1f + scratch %.1f MiB planned): weights copied?", anon / mib,
          kv / mib, plan.scratch / mib);
}

static void test_rss_is_mapped_weights(void) { check_rss(1); }
static void test_rss_weights_once(void) { check_rss(0); }

void register_memory_tests(void) {
    test_add("memory: with keep_layout weights are mapped; RSS <= weights + KV cache + small", test_rss_is_mapped_weights);
    test_add("memory: weights copied or repacked at load are held once (their mapped pages given back); RSS <= weights + KV "
             "cache + small",
             test_rss_weights_once);
}
