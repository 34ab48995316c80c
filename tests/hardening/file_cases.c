/* Crafted files of the other formats loam reads, from their specs:
 * safetensors (header length, truncations, every field of a tensor entry
 * of the wrong type or out of range, overlaps), config.json and
 * generation_config.json (each key loam reads dropped, of the wrong type,
 * out of range), tokenizer.json (model, vocab, merges, added tokens and
 * pipeline stages), SentencePiece tokenizer.model (protobuf lengths, wire
 * types, piece fields) and tiktoken rank files. Real fixture files are the
 * starting point of every mutation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjson/cJSON.h"
#include "hardening/crafted.h"

static const char *const model_cmds[] = {"info %s", "run %s --prompt-ids 1 -n 1"};
static const char *const tok_cmds[] = {"tokenize %s Once<s>h\xc3\xa9llo"}; /* one argument: the splitter cuts at spaces */

/* A copy of the stories260k folder; returns its path. */
static const char *model_copy(void) {
    const char *dir = temp_dir();
    copy_dir(fixture("llm/stories260k"), dir);
    return dir;
}

static char *json_text(const char *path) {
    bytes b;
    if (!bytes_read_file(path, &b)) return NULL;
    char *s = malloc(b.n + 1);
    memcpy(s, b.p, b.n);
    s[b.n] = 0;
    free(b.p);
    return s;
}

static void write_json(const char *path, const cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    write_text(path, s);
    free(s);
}

/* Sets (or with value NULL deletes) a key of a JSON object; keys with a
 * '.' descend into objects. */
static void json_set(cJSON *root, const char *dotted, cJSON *value) {
    char key[128];
    snprintf(key, sizeof key, "%s", dotted);
    cJSON *obj = root;
    char *part = key, *dot;
    while ((dot = strchr(part, '.'))) {
        *dot = 0;
        cJSON *next = cJSON_IsArray(obj) ? cJSON_GetArrayItem(obj, atoi(part)) : cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!next) return;
        obj = next;
        part = dot + 1;
    }
    if (cJSON_IsArray(obj)) {
        int i = atoi(part);
        if (value) cJSON_ReplaceItemInArray(obj, i, value);
        else cJSON_DeleteItemFromArray(obj, i);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, part);
    if (value) cJSON_AddItemToObject(obj, part, value);
}

/* Whether the edit can apply: the path exists up to its last part. */
static int json_has_parent(const cJSON *root, const char *dotted) {
    char key[128];
    snprintf(key, sizeof key, "%s", dotted);
    const cJSON *obj = root;
    char *part = key, *dot;
    while ((dot = strchr(part, '.'))) {
        *dot = 0;
        obj = cJSON_IsArray(obj) ? cJSON_GetArrayItem(obj, atoi(part)) : cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!obj) return 0;
        part = dot + 1;
    }
    return 1;
}

/* The wrong values a JSON field is tried with. */
static cJSON *bad_value(int k) {
    switch (k) {
    case 0: return cJSON_CreateString("12");
    case 1: return cJSON_CreateNumber(1.5);
    case 2: return cJSON_CreateNumber(-1);
    case 3: return cJSON_CreateNumber(0);
    case 4: return cJSON_CreateNumber(2147483648.0);
    case 5: return cJSON_CreateNumber(9.3e18);
    case 6: return cJSON_CreateNumber(1e300);
    case 7: return cJSON_CreateTrue();
    case 8: return cJSON_CreateNull();
    default: return cJSON_CreateArray();
    }
}
static const char *const bad_names[] = {"\"12\"", "1.5", "-1", "0", "2^31", "9.3e18", "1e300", "true", "null", "[]"};
#define N_BAD 10

/* ------------------------------------------------------------ config.json */

/* Whether bad value v (-1 = key missing) is in fact a legitimate value of
 * a key: `ok` lists the indices into bad_value() that are, 'm' for the key
 * being missing. JSON null counts as missing (as transformers' None). */
static int legitimate(const char *ok, int v) {
    if (v < 0 || v == 8) return strchr(ok, 'm') != NULL;
    return strchr(ok, '0' + v) != NULL;
}

/* For each key and each bad value (from first_v; -1 = the key removed)
 * that is not legitimate for it: the model folder with `file` so edited,
 * through the model commands. */
static void json_field_cases(crafted_stats *st, const char *file, const char *const keys[][2], size_t n_keys, int first_v) {
    char name[200];
    for (size_t k = 0; k < n_keys; k++)
        for (int v = first_v; v < N_BAD; v++) {
            if (legitimate(keys[k][1], v)) continue;
            const char *dir = model_copy();
            char path[700];
            snprintf(path, sizeof path, "%s/%s", dir, file);
            char *text = json_text(path);
            cJSON *j = cJSON_Parse(text);
            free(text);
            json_set(j, keys[k][0], v < 0 ? NULL : bad_value(v));
            write_json(path, j);
            cJSON_Delete(j);
            snprintf(name, sizeof name, "%s %s %s", file, keys[k][0], v < 0 ? "missing" : bad_names[v]);
            crafted_refused(st, name, dir, model_cmds, 2);
        }
}

static void config_cases(crafted_stats *st) {
    /* what transformers' configs take as they are, where loam does too:
     * a huge finite epsilon or theta is a number (only beyond float range
     * is it refused); architectures [] leaves model_type to decide; a
     * model_type string is outvoted by architectures. */
    static const char *const keys[][2] = {
        {"hidden_size", ""},           {"num_hidden_layers", ""},          {"num_attention_heads", ""},
        {"num_key_value_heads", "m"},  {"intermediate_size", ""},          {"vocab_size", ""},
        {"max_position_embeddings", "m"}, {"rms_norm_eps", "m1345"},       {"rope_theta", "m145"},
        {"head_dim", "m"},             {"bos_token_id", "m3"},             {"eos_token_id", "m39"},
        {"tie_word_embeddings", "7"},  {"hidden_act", "m"},                {"architectures", "m9"},
        {"model_type", "m0"},          {"rope_scaling", "m"},
    };
    json_field_cases(st, "config.json", keys, sizeof keys / sizeof *keys, -1);
    /* the file as a whole */
    static const char *const whole[][2] = {
        {"an empty config.json", ""},
        {"config.json not an object", "[1, 2]"},
        {"config.json truncated", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 6"},
        {"config.json with invalid UTF-8", "{\"architectures\": [\"Llama\xff\xfe\"]}"},
        {"config.json nested 100,000 deep", NULL},
    };
    for (int w = 0; w < 5; w++) {
        const char *dir = model_copy();
        char path[700];
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (whole[w][1]) {
            write_text(path, whole[w][1]);
        } else {
            char *deep = malloc(200002);
            memset(deep, '[', 100000), memset(deep + 100000, ']', 100000), deep[200000] = 0;
            write_text(path, deep);
            free(deep);
        }
        crafted_refused(st, whole[w][0], dir, model_cmds, 2);
    }
}

static void generation_config_cases(crafted_stats *st) {
    /* in range for transformers' logits processors: temperature >= 0,
     * top_p in [0, 1], top_k >= 0, repetition_penalty > 0 */
    static const char *const keys[][2] = {
        {"do_sample", "m7"}, {"temperature", "m1345"}, {"top_p", "m3"}, {"top_k", "m3"}, {"repetition_penalty", "m145"}, {"eos_token_id", "m39"},
    };
    json_field_cases(st, "generation_config.json", keys, sizeof keys / sizeof *keys, 0);
}

/* ------------------------------------------------------------ safetensors */

/* model.safetensors rebuilt with a new header text (data kept). */
static void write_st(const char *path, const char *header, const uint8_t *data, size_t data_n) {
    bytes b = {0};
    uint64_t n = strlen(header);
    bytes_u64(&b, n), bytes_put(&b, header, n), bytes_put(&b, data, data_n);
    bytes_write_file(path, b.p, b.n);
    free(b.p);
}

static void safetensors_cases(crafted_stats *st) {
    bytes base;
    char path[700], name[200];
    bytes_read_file(fixture("llm/stories260k/model.safetensors"), &base);
    uint64_t hlen;
    memcpy(&hlen, base.p, 8);
    char *header = malloc(hlen + 1);
    memcpy(header, base.p + 8, hlen), header[hlen] = 0;
    const uint8_t *data = base.p + 8 + hlen;
    size_t data_n = base.n - 8 - hlen;
    /* header lengths */
    const uint64_t lens[] = {0, 1, 7, 1ull << 31, 1ull << 32, 1ull << 63, ~0ull, base.n, base.n - 7};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        const char *dir = model_copy();
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        bytes b = bytes_copy(base.p, base.n);
        memcpy(b.p, &lens[i], 8);
        bytes_write_file(path, b.p, b.n);
        free(b.p);
        snprintf(name, sizeof name, "safetensors header length %llu", (unsigned long long)lens[i]);
        crafted_refused(st, name, dir, model_cmds, 2);
    }
    /* truncations */
    const size_t cuts[] = {0, 4, 8, 8 + hlen / 2, 8 + hlen, 8 + hlen + data_n / 2, base.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *dir = model_copy();
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        bytes_write_file(path, base.p, cuts[i]);
        snprintf(name, sizeof name, "safetensors truncated at %zu of %zu bytes", cuts[i], base.n);
        crafted_refused(st, name, dir, model_cmds, 2);
    }
    /* one tensor entry's fields */
    cJSON *h = cJSON_Parse(header);
    const char *victim = NULL;
    for (cJSON *e = h ? h->child : NULL; e && !victim; e = e->next)
        if (strcmp(e->string, "__metadata__")) victim = e->string;
    static const char *const edits[][2] = {
        {"dtype", "\"F99\""},        {"dtype", "7"},           {"dtype", "\"BOOL\""},       {"shape", "[-1]"},
        {"shape", "[9223372036854775807, 9223372036854775807]"}, {"shape", "[1.5, 64]"}, {"shape", "\"x\""}, {"shape", "[]"},
        {"shape", "[1,1,1,1,1,1,1,1,1]"}, {"data_offsets", "[10, 5]"}, {"data_offsets", "[0, 18446744073709551615]"},
        {"data_offsets", "[0, 99999999999]"}, {"data_offsets", "\"x\""}, {"data_offsets", "[0]"}, {"data_offsets", NULL},
        {"dtype", NULL},            {"shape", NULL},          {"data_offsets", "[0, 4]"},
    };
    for (size_t i = 0; h && victim && i < sizeof edits / sizeof *edits; i++) {
        cJSON *c = cJSON_Duplicate(h, 1), *entry = cJSON_GetObjectItemCaseSensitive(c, victim);
        cJSON_DeleteItemFromObjectCaseSensitive(entry, edits[i][0]);
        if (edits[i][1]) cJSON_AddItemToObject(entry, edits[i][0], cJSON_Parse(edits[i][1]));
        char *text = cJSON_PrintUnformatted(c);
        const char *dir = model_copy();
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        write_st(path, text, data, data_n);
        free(text), cJSON_Delete(c);
        snprintf(name, sizeof name, "safetensors %s of \"%s\" = %s", edits[i][0], victim, edits[i][1] ? edits[i][1] : "(missing)");
        crafted_refused(st, name, dir, model_cmds, 2);
    }
    /* headers as a whole */
    char dup[4096];
    snprintf(dup, sizeof dup, "{\"%s\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, %s", victim ? victim : "x", header + 1);
    static const char *const whole[][2] = {{"safetensors header not an object", "[1]"},
                                           {"safetensors header with invalid UTF-8", "{\"a\xff\": 1}"},
                                           {"safetensors __metadata__ a number", "{\"__metadata__\": 5}"},
                                           {"safetensors header of spaces", "        "}};
    for (int w = 0; w < 5; w++) {
        const char *dir = model_copy();
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        write_st(path, w < 4 ? whole[w][1] : dup, data, data_n);
        crafted_refused(st, w < 4 ? whole[w][0] : "safetensors tensor named twice", dir, model_cmds, 2);
    }
    cJSON_Delete(h);
    free(header), free(base.p);
}

/* ------------------------------------------------------------ tokenizer.json */

static void tokenizer_json_cases(crafted_stats *st) {
    static const char *const edits[][2] = {
        {"model.type", "\"WordPiece9\""}, {"model.type", "5"},        {"model", "[]"},           {"model.vocab", "[]"},
        {"model.vocab", "\"x\""},         {"model.vocab.<unk>", "-1"}, {"model.vocab.<unk>", "2147483648"},
        {"model.vocab.<unk>", "9.3e18"},  {"model.vocab.<unk>", "1.5"}, {"model.vocab.<unk>", "\"0\""}, {"model.vocab.<s>", "0"},
        {"model.merges", "\"x\""},        {"model.merges", "[1, 2]"},   {"model.merges", "[\"zz qq\"]"}, {"model.merges", "[\"abc\"]"},
        {"model.merges", "[[\"zz\", \"qq\"]]"}, {"model.unk_token", "\"<nope>\""}, {"model.byte_fallback", "\"yes\""},
        {"added_tokens.0.id", "2147483648"}, {"added_tokens.0.id", "-5"}, {"added_tokens.0.id", "600"}, {"added_tokens.0.content", "5"},
        {"added_tokens.0.content", "\"\""}, {"added_tokens.0", "7"}, {"added_tokens", "{}"}, {"normalizer.type", "\"Bogus\""},
        {"normalizer", "5"}, {"normalizer.normalizers.1.pattern", "{\"Regex\": \"(\"}"}, {"normalizer.normalizers.0.prepend", "5"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}"},
        {"pre_tokenizer", "{\"type\": \"Nope\"}"}, {"decoder.type", "\"Nope\""}, {"decoder.decoders.3.start", "\"x\""},
        {"post_processor.type", "\"Nope\""}, {"post_processor.single", "5"}, {"post_processor.single.0.SpecialToken.id", "\"<nope>\""},
    };
    bytes base;
    bytes_read_file(fixture("llm/stories260k/tokenizer.json"), &base);
    char *text = malloc(base.n + 1);
    memcpy(text, base.p, base.n), text[base.n] = 0;
    cJSON *root = cJSON_Parse(text);
    char path[700], name[200];
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        cJSON *c = cJSON_Duplicate(root, 1);
        if (!json_has_parent(c, edits[i][0])) { /* a case that edits nothing would test nothing */
            st->n_bad++;
            snprintf(st->first_bad, sizeof st->first_bad, "the edit %s does not apply to the fixture", edits[i][0]);
        }
        json_set(c, edits[i][0], cJSON_Parse(edits[i][1]));
        snprintf(path, sizeof path, "%s/tokenizer.json", temp_dir());
        write_json(path, c);
        cJSON_Delete(c);
        snprintf(name, sizeof name, "tokenizer.json %s = %s", edits[i][0], edits[i][1]);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    const size_t cuts[] = {0, 1, base.n / 3, base.n / 2, base.n - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        snprintf(path, sizeof path, "%s/tokenizer.json", temp_dir());
        bytes_write_file(path, base.p, cuts[i]);
        snprintf(name, sizeof name, "tokenizer.json truncated at %zu of %zu bytes", cuts[i], base.n);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    snprintf(path, sizeof path, "%s/tokenizer.json", temp_dir());
    char *deep = malloc(200002);
    memset(deep, '[', 100000), memset(deep + 100000, ']', 100000), deep[200000] = 0;
    write_text(path, deep);
    free(deep);
    crafted_refused(st, "tokenizer.json nested 100,000 deep", path, tok_cmds, 1);
    cJSON_Delete(root);
    free(text), free(base.p);
}

/* ------------------------------------------------------------ tokenizer.model */

/* protobuf: a varint at p, its length in bytes */
static uint64_t varint(const uint8_t *p, size_t n, int *len) {
    uint64_t v = 0;
    *len = 0;
    for (int s = 0; *len < (int)n && *len < 10; s += 7) {
        uint8_t b = p[(*len)++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) break;
    }
    return v;
}

static void put_varint(bytes *b, uint64_t v) {
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) byte |= 0x80;
        bytes_put(b, &byte, 1);
    } while (v);
}

static void spm_cases(crafted_stats *st) {
    bytes base;
    bytes_read_file(fixture("llm/stories260k/tokenizer.model"), &base);
    char path[700], name[200];
    /* the top-level fields: tag, length-delimited payloads */
    size_t starts[4096];
    int n_fields = 0;
    for (size_t at = 0; at < base.n && n_fields < 4096;) {
        starts[n_fields++] = at;
        int l1, l2;
        uint64_t tag = varint(base.p + at, base.n - at, &l1);
        if ((tag & 7) != 2) break;
        uint64_t len = varint(base.p + at + l1, base.n - at - l1, &l2);
        at += (size_t)l1 + (size_t)l2 + len;
    }
    /* truncated at field boundaries (a sample) and inside the first piece */
    int picks[] = {0, 1, 2, 3, n_fields / 2, n_fields - 2, n_fields - 1};
    for (int i = 0; i < 7; i++) {
        size_t cut = starts[picks[i]] + (i == 0 ? 3 : 1);
        snprintf(path, sizeof path, "%s/tokenizer.model", temp_dir());
        bytes_write_file(path, base.p, cut);
        snprintf(name, sizeof name, "tokenizer.model truncated at byte %zu", cut);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    /* the first piece's length, and the wire type of its tag */
    int l1, l2;
    varint(base.p, base.n, &l1);
    uint64_t len = varint(base.p + l1, base.n - (size_t)l1, &l2);
    const uint64_t lens[] = {1ull << 31, 1ull << 32, 1ull << 63, ~0ull, len + 1000000};
    for (int i = 0; i < 5; i++) {
        bytes b = {0};
        bytes_put(&b, base.p, (size_t)l1), put_varint(&b, lens[i]), bytes_put(&b, base.p + l1 + l2, base.n - (size_t)l1 - (size_t)l2);
        snprintf(path, sizeof path, "%s/tokenizer.model", temp_dir());
        bytes_write_file(path, b.p, b.n);
        free(b.p);
        snprintf(name, sizeof name, "tokenizer.model first piece length %llu", (unsigned long long)lens[i]);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    const uint8_t tags[] = {0x09, 0x0b, 0x0f, 0x0d};
    for (int i = 0; i < 4; i++) {
        bytes b = bytes_copy(base.p, base.n);
        b.p[0] = tags[i];
        snprintf(path, sizeof path, "%s/tokenizer.model", temp_dir());
        bytes_write_file(path, b.p, b.n);
        free(b.p);
        snprintf(name, sizeof name, "tokenizer.model first tag 0x%02x (another wire type)", tags[i]);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    /* a piece whose type is out of SentencePiece's range: the first piece,
     * rebuilt as piece "a" (field 1), score 0 (field 2), type 99 (field 3) */
    const uint64_t types[] = {0, 7, 99, ~0ull};
    for (int i = 0; i < 4; i++) {
        bytes piece = {0}, b = {0};
        uint8_t t1 = 0x0a, t2 = 0x15, t3 = 0x18;
        float zero = 0;
        bytes_put(&piece, &t1, 1), put_varint(&piece, 1), bytes_put(&piece, "a", 1);
        bytes_put(&piece, &t2, 1), bytes_put(&piece, &zero, 4);
        bytes_put(&piece, &t3, 1), put_varint(&piece, types[i]);
        bytes_put(&b, base.p, (size_t)l1), put_varint(&b, piece.n), bytes_put(&b, piece.p, piece.n);
        bytes_put(&b, base.p + l1 + l2 + len, base.n - (size_t)l1 - (size_t)l2 - len);
        snprintf(path, sizeof path, "%s/tokenizer.model", temp_dir());
        bytes_write_file(path, b.p, b.n);
        free(b.p), free(piece.p);
        snprintf(name, sizeof name, "tokenizer.model a piece of type %llu", (unsigned long long)types[i]);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    snprintf(path, sizeof path, "%s/tokenizer.model", temp_dir());
    bytes_write_file(path, "", 0);
    crafted_refused(st, "an empty tokenizer.model", path, tok_cmds, 1);
    free(base.p);
}

/* ------------------------------------------------------------ tiktoken */

static void tiktoken_cases(crafted_stats *st) {
    bytes base;
    bytes_read_file(fixture("tokenizers/whisper/multilingual.tiktoken"), &base);
    static const char *const lines[][2] = {
        {"a rank line of bad base64", "@@@@ 5\n"},        {"a negative rank", "IQ== -1\n"},
        {"a rank 2^31", "IQ== 2147483648\n"},            {"a rank 2^63", "IQ== 9223372036854775808\n"},
        {"a rank that is not a number", "IQ== abc\n"},    {"a rank given twice", "Ig== 0\n"},
        {"a line without a rank", "IQ==\n"},              {"a NUL in a line", "IQ\0= 3\n"},
        {"a token given twice", "IQ== 60000\n"},          {"an empty token", " 60001\n"},
    };
    char path[700], name[200];
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        const char *dir = temp_dir();
        snprintf(path, sizeof path, "%s/special_tokens.json", dir);
        copy_file(fixture("tokenizers/whisper/special_tokens.json"), path);
        snprintf(path, sizeof path, "%s/multilingual.tiktoken", dir);
        bytes b = bytes_copy(base.p, base.n);
        size_t n = i == 7 ? 8 : strlen(lines[i][1]);
        bytes_put(&b, lines[i][1], n);
        bytes_write_file(path, b.p, b.n);
        free(b.p);
        snprintf(name, sizeof name, "tiktoken with %s", lines[i][0]);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    const size_t cuts[] = {0, 3, base.n / 2 + 3};
    for (size_t i = 0; i < 3; i++) {
        const char *dir = temp_dir();
        snprintf(path, sizeof path, "%s/special_tokens.json", dir);
        copy_file(fixture("tokenizers/whisper/special_tokens.json"), path);
        snprintf(path, sizeof path, "%s/multilingual.tiktoken", dir);
        bytes_write_file(path, base.p, cuts[i]);
        snprintf(name, sizeof name, "tiktoken truncated at %zu of %zu bytes", cuts[i], base.n);
        crafted_refused(st, name, path, tok_cmds, 1);
    }
    free(base.p);
}

void crafted_files(crafted_stats *safetensors, crafted_stats *config, crafted_stats *tokenizer_json, crafted_stats *spm,
                   crafted_stats *tiktoken) {
    safetensors_cases(safetensors);
    config_cases(config);
    generation_config_cases(config);
    tokenizer_json_cases(tokenizer_json);
    spm_cases(spm);
    tiktoken_cases(tiktoken);
}
