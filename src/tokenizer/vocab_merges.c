/* vocab.json + merges.txt, the format GPT-2-style tokenizers (and FLUX's
 * CLIP) are published in without tokenizer.json. tokenizer_config.json's
 * tokenizer_class says how to read them, as transformers' converters
 * build the fast tokenizer: CLIP = NFC, whitespace runs to one space,
 * lowercase, CLIP's split regex, "</w>" word ends, <|startoftext|> ...
 * <|endoftext|>; anything else = GPT-2 byte-level BPE. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define CLIP_REGEX "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"

static char *tokenizer_class(const char *dir) {
    char *path = loam_path_join(dir, "tokenizer_config.json"), *cls = NULL;
    cJSON *c = NULL;
    if (path && loam_file_exists(path) && loam_json_load(path, &c, NULL) == LOAM_OK) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "tokenizer_class");
        if (cJSON_IsString(v)) cls = strdup(v->valuestring);
        cJSON_Delete(c);
    }
    free(path);
    return cls;
}

static loam_status push_norm(loam_tokenizer *t, tk_normalizer nm, loam_error *err) {
    tk_normalizer *g = realloc(t->norms, (size_t)(t->n_norms + 1) * sizeof *g);
    if (!g) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->norms = g;
    t->norms[t->n_norms++] = nm;
    return LOAM_OK;
}

static loam_status push_pre(loam_tokenizer *t, tk_pretokenizer p, loam_error *err) {
    tk_pretokenizer *g = realloc(t->pres, (size_t)(t->n_pres + 1) * sizeof *g);
    if (!g) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->pres = g;
    t->pres[t->n_pres++] = p;
    return LOAM_OK;
}

static loam_status push_dec(loam_tokenizer *t, tk_decoder d, loam_error *err) {
    tk_decoder *g = realloc(t->decs, (size_t)(t->n_decs + 1) * sizeof *g);
    if (!g) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->decs = g;
    t->decs[t->n_decs++] = d;
    return LOAM_OK;
}

static loam_status add_special(loam_tokenizer *t, const char *content, loam_error *err) {
    int32_t id = tk_strmap_get(&t->vocab, content, strlen(content));
    if (id < 0) return LOAM_OK;
    tk_added *g = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *g);
    if (!g) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->added = g;
    t->added[t->n_added] = (tk_added){id, strdup(content), (uint32_t)strlen(content), 1, 0, 0, 0, 0};
    if (!t->added[t->n_added].content) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->n_added++;
    return LOAM_OK;
}

loam_status tk_load_vocab_merges(loam_tokenizer *t, const char *dir, loam_error *err) {
    char *vpath = loam_path_join(dir, "vocab.json"), *mpath = loam_path_join(dir, "merges.txt");
    char *cls = tokenizer_class(dir), *text = NULL;
    cJSON *vocab = NULL, *merges = NULL;
    int clip = cls && strstr(cls, "CLIP") != NULL;
    loam_status st = vpath && mpath ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) st = loam_json_load(vpath, &vocab, err);
    if (!st && !cJSON_IsObject(vocab)) st = loam_fail(err, LOAM_E_FORMAT, "%s: not a JSON object", vpath);
    if (!st) st = loam_read_file(mpath, 1u << 28, &text, NULL, err);
    /* vocab: token -> id */
    int64_t max_id = -1;
    const cJSON *v;
    if (!st)
        cJSON_ArrayForEach(v, vocab) {
            if (!loam_json_is_int_in(v, 0, (1 << 22) - 1)) {
                st = loam_fail(err, LOAM_E_FORMAT, "%s: entry \"%s\" has no valid id", vpath, v->string);
                break;
            }
            if (v->valuedouble > max_id) max_id = (int64_t)v->valuedouble;
        }
    if (!st) {
        t->n_vocab = (int32_t)(max_id + 1);
        t->tokens = calloc((size_t)t->n_vocab + 1, sizeof *t->tokens);
        t->token_lens = calloc((size_t)t->n_vocab + 1, sizeof *t->token_lens);
        if (!t->tokens || !t->token_lens) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    if (!st)
        cJSON_ArrayForEach(v, vocab) {
            int id = (int)v->valuedouble;
            if (t->tokens[id]) continue;
            if (!(t->tokens[id] = strdup(v->string))) {
                st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
                break;
            }
            t->token_lens[id] = (uint32_t)strlen(v->string);
        }
    if (!st && !tk_strmap_init(&t->vocab, (uint32_t)t->n_vocab, (const char *const *)t->tokens, t->token_lens))
        st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int32_t i = 0; !st && i < t->n_vocab; i++)
        if (t->tokens[i]) tk_strmap_add(&t->vocab, i);
    /* merges.txt: "a b" per line after an optional "#version" line, as a JSON array for the shared reader */
    if (!st && !(merges = cJSON_CreateArray())) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (char *line = text, *next; !st && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (ll == 0 || (line == text && strncmp(line, "#version", 8) == 0)) continue;
        cJSON_AddItemToArray(merges, cJSON_CreateString(line));
    }
    t->model = TK_MODEL_BPE;
    if (clip) t->word_suffix = strdup("</w>");
    if (!st) st = tk_read_merges(t, merges, mpath, err);
    if (!st) {
        const char *unk = clip ? "<|endoftext|>" : NULL;
        t->unk_id = unk ? tk_strmap_get(&t->vocab, unk, strlen(unk)) : -1;
        st = clip ? add_special(t, "<|startoftext|>", err) : LOAM_OK;
        if (!st) st = add_special(t, "<|endoftext|>", err);
    }
    if (!st && clip) {
        tk_normalizer ws = {.type = TK_NORM_REPLACE};
        ws.regex = tk_compile_regex("\\s+", mpath, err);
        ws.content = strdup(" ");
        tk_pretokenizer split = {.type = TK_PRE_WHITESPACE}; /* keep the regex matches only */
        split.regex = tk_compile_regex(CLIP_REGEX, mpath, err);
        if (!ws.regex || !ws.content || !split.regex) st = err && err->code ? err->code : LOAM_E_NOMEM;
        if (!st) st = push_norm(t, (tk_normalizer){.type = TK_NORM_NFC}, err);
        if (!st) st = push_norm(t, ws, err);
        if (!st) st = push_norm(t, (tk_normalizer){.type = TK_NORM_LOWERCASE}, err);
        if (!st) st = push_pre(t, split, err);
        if (!st) st = push_pre(t, (tk_pretokenizer){.type = TK_PRE_BYTELEVEL}, err);
        if (!st) st = push_dec(t, (tk_decoder){.type = TK_DEC_BYTELEVEL}, err);
        if (!st) st = push_dec(t, (tk_decoder){.type = TK_DEC_REPLACE, .pattern = strdup("</w>"), .content = strdup(" ")}, err);
        if (!st) st = push_dec(t, (tk_decoder){.type = TK_DEC_TRIM}, err);
        int32_t bos = tk_strmap_get(&t->vocab, "<|startoftext|>", 15), eos = tk_strmap_get(&t->vocab, "<|endoftext|>", 13);
        if (!st && bos >= 0 && eos >= 0) {
            t->tpl = malloc(3 * sizeof *t->tpl);
            if (!t->tpl) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            else {
                t->tpl[0] = (tk_template_item){1, bos}, t->tpl[1] = (tk_template_item){0, 0}, t->tpl[2] = (tk_template_item){1, eos};
                t->n_tpl = 3, t->has_template = 1;
            }
        }
    } else if (!st) { /* GPT-2 */
        tk_pretokenizer bl = {.type = TK_PRE_BYTELEVEL};
        if (!(bl.regex = tk_compile_regex(GPT2_REGEX, mpath, err))) st = LOAM_E_FORMAT;
        if (!st) st = push_pre(t, bl, err);
        if (!st) st = push_dec(t, (tk_decoder){.type = TK_DEC_BYTELEVEL}, err);
    }
    cJSON_Delete(vocab);
    cJSON_Delete(merges);
    free(text);
    free(vpath);
    free(mpath);
    free(cls);
    return st;
}
