/* Every way a model folder can be broken: each is refused with a message
 * naming the file and the problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"


/* A copy of a fixture model folder in a temporary place, for breaking. */
static const char *model_copy(const char *name) {
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/model", temp_dir());
    if (!copy_dir(fixture(name), dir)) return NULL;
    return dir;
}

/* The library refuses the folder with `needle` in its message, and so does
 * the program: non-zero exit, the same message on stderr, no crash. */
static int open_fails_with(const char *dir, const char *needle, char *msg, size_t len) {
    loam_model *m = NULL;
    loam_error err = {0};
    loam_status st = loam_model_open(dir, NULL, &m, &err);
    snprintf(msg, len, "%s", st == LOAM_OK ? "accepted" : err.message);
    loam_model_free(m);
    if (st == LOAM_OK || !strstr(err.message, needle)) return 0;
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s info '%s' 2>&1", LOAM_BIN, dir);
    int rc = run_capture(cmd, &out);
    int ok = rc == 1 && out && strstr(out, needle) && strncmp(out, "loam: ", 6) == 0;
    if (!ok) snprintf(msg, len, "loam info exited %d with: %s", rc, out ? out : "");
    free(out);
    return ok;
}

static void edit_config(const char *dir, const char *key, cJSON *value) {
    char path[700];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    loam_read_file(path, 1 << 20, &text, NULL, NULL);
    cJSON *c = cJSON_Parse(text);
    free(text);
    if (value) cJSON_ReplaceItemInObject(c, key, value);
    else cJSON_DeleteItemFromObject(c, key);
    char *out = cJSON_Print(c);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    cJSON_Delete(c);
}

static void test_truncated_shard(void) {
    char msg[1100], path[700];
    const char *dir = model_copy("llm/llama31");
    CHECK(dir, "copy failed");
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    CHECK(truncate(path, 200000) == 0, "truncate failed");
    CHECK(open_fails_with(dir, "model-00002-of-00002.safetensors", msg, sizeof msg) && strstr(msg, "past the end"),
          "got: %s", msg);
}

static void test_missing_shard(void) {
    char msg[1100], path[700];
    const char *dir = model_copy("llm/llama31");
    CHECK(dir, "copy failed");
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    unlink(path);
    CHECK(open_fails_with(dir, "shard \"model-00002-of-00002.safetensors\"", msg, sizeof msg) && strstr(msg, "missing"),
          "got: %s", msg);
}

static void test_config_errors(void) {
    char msg[1100];
    const char *dir = model_copy("llm/llama31");
    CHECK(dir, "copy failed");
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddStringToObject(rs, "rope_type", "llama3");
    cJSON_AddNumberToObject(rs, "low_freq_factor", 1);
    cJSON_AddNumberToObject(rs, "high_freq_factor", 4);
    cJSON_AddNumberToObject(rs, "original_max_position_embeddings", 64);
    edit_config(dir, "rope_scaling", rs); /* no "factor" */
    CHECK(open_fails_with(dir, "required key \"factor\" is missing", msg, sizeof msg) && strstr(msg, "config.json"), "got: %s", msg);

    dir = model_copy("llm/llama31");
    edit_config(dir, "hidden_size", cJSON_CreateString("big"));
    CHECK(open_fails_with(dir, "\"hidden_size\" must be an integer", msg, sizeof msg), "got: %s", msg);

    dir = model_copy("llm/llama31");
    edit_config(dir, "architectures", cJSON_CreateStringArray((const char *[]){"GPTNeoXForCausalLM"}, 1));
    CHECK(open_fails_with(dir, "not supported; supported: LlamaForCausalLM", msg, sizeof msg), "got: %s", msg);

    dir = model_copy("llm/llama31");
    edit_config(dir, "architectures", NULL);
    edit_config(dir, "model_type", NULL);
    CHECK(open_fails_with(dir, "neither \"architectures\" nor \"model_type\"", msg, sizeof msg), "got: %s", msg);

    dir = model_copy("llm/llama31");
    cJSON *other = cJSON_CreateObject();
    cJSON_AddStringToObject(other, "rope_type", "yarn");
    cJSON_AddNumberToObject(other, "factor", 4);
    edit_config(dir, "rope_scaling", other);
    CHECK(open_fails_with(dir, "\"yarn\" is not supported", msg, sizeof msg), "got: %s", msg);

    dir = model_copy("llm/llama31");
    edit_config(dir, "num_key_value_heads", cJSON_CreateNumber(3));
    CHECK(open_fails_with(dir, "not a multiple of 3", msg, sizeof msg), "got: %s", msg);
}

static void test_shape_disagrees_with_config(void) {
    char msg[1100];
    const char *dir = model_copy("llm/llama31");
    CHECK(dir, "copy failed");
    edit_config(dir, "intermediate_size", cJSON_CreateNumber(256));
    CHECK(open_fails_with(dir, "model.layers.0.mlp.gate_proj.weight\" has shape [384, 128] but config.json implies [256, 128]", msg, sizeof msg),
          "got: %s", msg);
    dir = model_copy("llm/llama32_tied");
    edit_config(dir, "tie_word_embeddings", cJSON_CreateFalse());
    CHECK(open_fails_with(dir, "tensor \"lm_head.weight\" is missing", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/llama31");
    edit_config(dir, "hidden_size", NULL); /* transformers' default 4096 disagrees with the tensors */
    CHECK(open_fails_with(dir, "but config.json implies", msg, sizeof msg), "got: %s", msg);
}

/* cJSON for {"alibi": v} style nested edits: replaces obj[key] in the
 * config's sub-object `parent`. */
static void edit_nested(const char *dir, const char *parent, const char *key, cJSON *value) {
    char path[700];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    loam_read_file(path, 1 << 20, &text, NULL, NULL);
    cJSON *c = cJSON_Parse(text);
    free(text);
    cJSON *sub = cJSON_GetObjectItem(c, parent);
    if (!sub) sub = cJSON_AddObjectToObject(c, parent);
    cJSON_DeleteItemFromObject(sub, key);
    cJSON_AddItemToObject(sub, key, value);
    char *out = cJSON_Print(c);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    cJSON_Delete(c);
}

static void test_incompatible_family_options(void) {
    char msg[1100];
    const char *dir = model_copy("llm/falcon7b");
    CHECK(dir, "copy failed");
    edit_config(dir, "alibi", cJSON_CreateTrue()); /* ALiBi together with Falcon's rotary */
    CHECK(open_fails_with(dir, "\"alibi\": true is not supported", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/mpt");
    edit_nested(dir, "attn_config", "alibi", cJSON_CreateFalse());
    CHECK(open_fails_with(dir, "MPT without ALiBi", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/falcon40b");
    edit_config(dir, "parallel_attn", cJSON_CreateFalse());
    CHECK(open_fails_with(dir, "without parallel_attn", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/phi2");
    edit_config(dir, "qk_layernorm", cJSON_CreateTrue());
    CHECK(open_fails_with(dir, "qk_layernorm", msg, sizeof msg), "got: %s", msg);
}

static void test_family_shapes_disagree(void) {
    char msg[1100];
    const char *dir = model_copy("llm/falcon7b");
    CHECK(dir, "copy failed");
    edit_config(dir, "multi_query", cJSON_CreateFalse()); /* would need 5 K/V heads */
    CHECK(open_fails_with(dir, "transformer.h.0.self_attention.query_key_value.weight\" has shape [112, 80] but config.json implies [240, 80]", msg, sizeof msg),
          "got: %s", msg);
    dir = model_copy("llm/gemma2b");
    edit_config(dir, "head_dim", cJSON_CreateNumber(16));
    CHECK(open_fails_with(dir, "model.layers.0.self_attn.q_proj.weight\" has shape", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/bloom");
    edit_config(dir, "n_head", cJSON_CreateNumber(7));
    CHECK(open_fails_with(dir, "not a multiple of 7 heads", msg, sizeof msg), "got: %s", msg);
    dir = model_copy("llm/mpt");
    edit_config(dir, "expansion_ratio", cJSON_CreateNumber(2));
    CHECK(open_fails_with(dir, "transformer.blocks.0.ffn.up_proj.weight", msg, sizeof msg), "got: %s", msg);
}

static void test_malformed_config_json(void) {
    char msg[1100], path[700];
    const char *dir = model_copy("llm/stories260k");
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], ", f);
    fclose(f);
    CHECK(open_fails_with(dir, "malformed JSON", msg, sizeof msg) && strstr(msg, "config.json"), "got: %s", msg);
    CHECK(open_fails_with("/nonexistent/model", "cannot open", msg, sizeof msg), "got: %s", msg);
}

void register_model_folder_tests(void) {
    test_add("model folder: truncated shard", test_truncated_shard);
    test_add("model folder: shard named in the index is missing", test_missing_shard);
    test_add("model folder: config.json missing keys, wrong types, unknown architecture", test_config_errors);
    test_add("model folder: tensor shapes disagree with config.json", test_shape_disagrees_with_config);
    test_add("model folder: malformed config.json, missing folder", test_malformed_config_json);
    test_add("model folder: incompatible options (alibi + rope, ...) refused", test_incompatible_family_options);
    test_add("model folder: family tensor shapes disagree with config.json", test_family_shapes_disagree);
}
