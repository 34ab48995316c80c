/* tiktoken rank files ("<base64 bytes> <rank>" per line): Whisper's
 * *.tiktoken and Llama 3's original tokenizer.model. Tokens are kept in
 * GPT-2's byte-level form so the usual pre-tokenizer and decoder apply;
 * encoding merges the adjacent pair whose merged token has the lowest
 * rank. Special tokens are not in the file: Whisper's come from
 * special_tokens.json beside it (or just <|endoftext|>), Llama 3's are
 * Meta's list for 3.1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define LLAMA3_REGEX \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

int tk_is_tiktoken(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char line[256];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok) return 0;
    char *sp = strchr(line, ' ');
    if (!sp || sp == line) return 0;
    for (char *p = line; p < sp; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '='))
            return 0;
    for (char *p = sp + 1; *p && *p != '\n' && *p != '\r'; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

static loam_status add_special(loam_tokenizer *t, int32_t id, const char *content, loam_error *err) {
    if (id < 0 || id >= t->n_vocab) return loam_fail(err, LOAM_E_FORMAT, "special token id %d out of range", id);
    if (!t->tokens[id]) {
        if (!(t->tokens[id] = strdup(content))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        t->token_lens[id] = (uint32_t)strlen(content);
    }
    tk_added *a = &t->added[t->n_added];
    if (!(a->content = strdup(content))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    a->id = id, a->len = (uint32_t)strlen(content), a->special = 1;
    t->n_added++;
    return LOAM_OK;
}

/* Meta's Llama 3.1 special tokens after the 128000 ranks. */
static loam_status llama3_specials(loam_tokenizer *t, int32_t base, loam_error *err) {
    static const char *named[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                                  "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>",
                                  "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
    loam_status st = LOAM_OK;
    for (int i = 0; i < 256 && !st; i++) {
        char name[48];
        if (i < 11) snprintf(name, sizeof name, "%s", named[i]);
        else snprintf(name, sizeof name, "<|reserved_special_token_%d|>", i - 9);
        st = add_special(t, base + i, name, err);
    }
    if (!st) st = (t->bos_token = strdup("<|begin_of_text|>")) && (t->eos_token = strdup("<|eot_id|>")) ? LOAM_OK : LOAM_E_NOMEM;
    if (!st && (t->tpl = malloc(2 * sizeof *t->tpl))) {
        t->tpl[0] = (tk_template_item){1, base}, t->tpl[1] = (tk_template_item){0, 0};
        t->n_tpl = 2, t->has_template = 1;
    }
    return st;
}

/* Whisper: special_tokens.json beside the ranks lists them, with the
 * decoder prefix for English transcription; without it, <|endoftext|>. */
static loam_status whisper_specials(loam_tokenizer *t, const char *dir, int32_t base, loam_error *err) {
    char *path = loam_path_join(dir, "special_tokens.json");
    if (!path) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!loam_file_exists(path)) {
        free(path);
        return add_special(t, base, "<|endoftext|>", err);
    }
    cJSON *j = NULL;
    loam_status st = loam_json_load(path, &j, err);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "special_tokens"), *v;
    cJSON_ArrayForEach(v, list) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id"), *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (st) break;
        if (!loam_json_is_int_in(id, 0, t->n_vocab - 1) || !cJSON_IsString(c)) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: a special token without a valid id/content", path);
            break;
        }
        st = add_special(t, (int32_t)id->valuedouble, c->valuestring, err);
    }
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(j, "sot_sequence_including_notimestamps_en_transcribe");
    int n = cJSON_GetArraySize(prefix);
    if (!st && n > 0 && n < 16 && (t->tpl = malloc((size_t)(n + 1) * sizeof *t->tpl))) {
        for (int i = 0; i < n; i++) t->tpl[i] = (tk_template_item){1, (int32_t)cJSON_GetArrayItem(prefix, i)->valuedouble};
        t->tpl[n] = (tk_template_item){0, 0};
        t->n_tpl = n + 1, t->has_template = 1;
    }
    cJSON_Delete(j);
    free(path);
    return st;
}

loam_status tk_load_tiktoken(loam_tokenizer *t, const char *path, loam_error *err) {
    char *text = NULL;
    uint64_t len = 0;
    loam_status st = loam_read_file(path, 1u << 28, &text, &len, err);
    if (st) return st;
    int llama3 = strstr(path, ".tiktoken") == NULL; /* tokenizer.model in this format is Llama 3's */
    /* first pass: the largest rank */
    int64_t max_rank = -1, lines = 0;
    for (char *p = text; *p;) {
        char *sp = strchr(p, ' '), *nl = strchr(p, '\n');
        if (!nl) nl = p + strlen(p);
        if (!sp || sp > nl) {
            if (nl > p) {
                free(text);
                return loam_fail(err, LOAM_E_FORMAT, "%s: line %lld is not \"<base64> <rank>\"", path, (long long)lines + 1);
            }
        } else {
            char *end;
            long long r = sp[1] >= '0' && sp[1] <= '9' ? strtoll(sp + 1, &end, 10) : -1;
            if (r >= 0 && end < nl && !(*end == '\r' && end + 1 == nl)) r = -1; /* digits, then the end of the line */
            if (r < 0 || r >= (1 << 22)) {
                free(text);
                return loam_fail(err, LOAM_E_FORMAT, "%s: line %lld has a bad rank (an integer 0..%d)", path, (long long)lines + 1,
                                 (1 << 22) - 1);
            }
            if (r > max_rank) max_rank = r;
        }
        lines++;
        p = *nl ? nl + 1 : nl;
    }
    if (max_rank < 0) {
        free(text);
        return loam_fail(err, LOAM_E_FORMAT, "%s: no ranks in the file", path);
    }
    int32_t n_ranks = (int32_t)(max_rank + 1), n_special = llama3 ? 256 : 1700;
    t->n_vocab = n_ranks + n_special;
    t->tokens = calloc((size_t)t->n_vocab + 1, sizeof *t->tokens);
    t->token_lens = calloc((size_t)t->n_vocab + 1, sizeof *t->token_lens);
    t->scores = calloc((size_t)t->n_vocab + 1, sizeof *t->scores);
    t->added = calloc((size_t)n_special, sizeof *t->added);
    if (!t->tokens || !t->token_lens || !t->scores || !t->added) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (char *p = text; !st && *p;) {
        char *sp = strchr(p, ' '), *nl = strchr(p, '\n');
        if (!nl) nl = p + strlen(p);
        if (sp && sp < nl) {
            *sp = 0;
            int32_t r = (int32_t)strtol(sp + 1, NULL, 10);
            size_t nb = 0;
            uint8_t *bytes = tk_base64(p, &nb);
            tk_buf b = {0};
            for (size_t k = 0; bytes && k < nb; k++) {
                char enc[4];
                tk_buf_put(&b, enc, tk_utf8_encode(tk_byte_to_cp(bytes[k]), enc));
            }
            if (bytes && !b.p) tk_buf_put(&b, "", 0); /* an empty token (Whisper has one) */
            if (!bytes || !b.p || t->tokens[r]) {
                free(bytes);
                tk_buf_free(&b);
                st = loam_fail(err, LOAM_E_FORMAT, "%s: rank %d has bad base64 or appears twice", path, r);
                break;
            }
            t->tokens[r] = b.p;
            t->token_lens[r] = (uint32_t)b.n;
            t->scores[r] = -(float)r;
            free(bytes);
        }
        p = *nl ? nl + 1 : nl;
    }
    free(text);
    if (st) return st;
    t->model = TK_MODEL_BPE;
    t->rank_bpe = 1;
    t->unk_id = -1;
    if (!tk_strmap_init(&t->vocab, (uint32_t)t->n_vocab, (const char *const *)t->tokens, t->token_lens))
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < n_ranks; i++) {
        if (!t->tokens[i]) continue;
        int32_t other = tk_strmap_get(&t->vocab, t->tokens[i], t->token_lens[i]);
        if (other >= 0) /* one byte string, two ranks: which merges apply would be a guess */
            return loam_fail(err, LOAM_E_FORMAT, "%s: ranks %d and %d hold the same token", path, (int)other, (int)i);
        tk_strmap_add(&t->vocab, i);
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    st = llama3 ? llama3_specials(t, n_ranks, err) : whisper_specials(t, dir, n_ranks, err);
    free(dir);
    if (st) return st;
    t->n_vocab = n_ranks; /* shrink to the ids actually defined */
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id + 1 > t->n_vocab) t->n_vocab = t->added[i].id + 1;
    tk_pretokenizer p = {.type = llama3 ? TK_PRE_SPLIT : TK_PRE_BYTELEVEL, .behavior = TK_SPLIT_ISOLATED};
    if (!(p.regex = tk_compile_regex(llama3 ? LLAMA3_REGEX : GPT2_REGEX, path, err))) return LOAM_E_FORMAT;
    t->pres = malloc(2 * sizeof *t->pres);
    t->decs = malloc(sizeof *t->decs);
    if (!t->pres || !t->decs) {
        pcre2_code_free(p.regex);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    t->pres[t->n_pres++] = p;
    if (llama3) t->pres[t->n_pres++] = (tk_pretokenizer){.type = TK_PRE_BYTELEVEL};
    t->decs[0] = (tk_decoder){.type = TK_DEC_BYTELEVEL};
    t->n_decs = 1;
    return LOAM_OK;
}
