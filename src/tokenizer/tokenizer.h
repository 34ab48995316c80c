/* The tokenizer, as Hugging Face tokenizers runs it: added tokens split
 * out first, then normalizers, pre-tokenizers, the model (BPE or Unigram),
 * the post-processor (BOS/EOS templates); decoding through the decoders.
 * Each stage is data: a list of steps read from tokenizer.json (or built
 * from tokenizer.model, tiktoken ranks, vocab.json + merges.txt, GGUF). */
#ifndef LOAM_TOKENIZER_H
#define LOAM_TOKENIZER_H
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"
#include "formats/gguf.h"
#include "loam.h"

/* ---- growable byte string */
typedef struct {
    char *p;
    size_t n, cap;
} tk_buf;
int tk_buf_put(tk_buf *b, const char *s, size_t n); /* 0 on out of memory */
int tk_buf_putc(tk_buf *b, char c);
void tk_buf_free(tk_buf *b);

/* ---- string -> id hash table */
typedef struct {
    uint32_t cap; /* power of two */
    int32_t *slots; /* id or -1 */
    const char *const *strs; /* id -> string (borrowed from the vocab) */
    const uint32_t *lens;
} tk_strmap;
int tk_strmap_init(tk_strmap *m, uint32_t n, const char *const *strs, const uint32_t *lens);
int tk_strmap_add(tk_strmap *m, int32_t id); /* keeps the first id of a duplicate string */
int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n);
void tk_strmap_free(tk_strmap *m);
uint64_t tk_hash(const char *s, size_t n);

/* ---- (left, right) -> (rank, merged id) hash table for BPE merges */
typedef struct {
    uint64_t key; /* left << 32 | right, or UINT64_MAX for empty */
    int32_t rank, merged;
} tk_merge;
typedef struct {
    uint32_t cap;
    tk_merge *slots;
} tk_mergemap;
int tk_mergemap_init(tk_mergemap *m, uint32_t n);
int tk_mergemap_add(tk_mergemap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
const tk_merge *tk_mergemap_get(const tk_mergemap *m, int32_t a, int32_t b);
void tk_mergemap_free(tk_mergemap *m);

/* ---- pipeline steps */
typedef enum {
    TK_NORM_NFC, TK_NORM_NFD, TK_NORM_NFKC, TK_NORM_NFKD, TK_NORM_LOWERCASE, TK_NORM_STRIP,
    TK_NORM_REPLACE, TK_NORM_PREPEND, TK_NORM_PRECOMPILED, TK_NORM_CLIP_CLEAN
} tk_norm_type;

typedef enum { /* how a Split keeps the matches */
    TK_SPLIT_ISOLATED, TK_SPLIT_REMOVED, TK_SPLIT_MERGED_PREV, TK_SPLIT_MERGED_NEXT, TK_SPLIT_CONTIGUOUS
} tk_split_behavior;

typedef struct {
    tk_norm_type type;
    char *pattern, *content; /* Replace (string pattern), Prepend */
    pcre2_code *regex;       /* Replace with a regex pattern */
    int strip_left, strip_right;
    uint8_t *charsmap;       /* Precompiled */
    size_t charsmap_len;
    const uint32_t *trie;    /* inside charsmap */
    size_t trie_units;
    const char *normalized;
    size_t normalized_len;
} tk_normalizer;

typedef enum {
    TK_PRE_SPLIT, TK_PRE_BYTELEVEL, TK_PRE_METASPACE, TK_PRE_PUNCTUATION, TK_PRE_DIGITS,
    TK_PRE_WHITESPACE, TK_PRE_WHITESPACE_SPLIT
} tk_pre_type;

typedef struct {
    tk_pre_type type;
    pcre2_code *regex; /* Split, ByteLevel with use_regex, Whitespace */
    char *literal;     /* Split on a plain string */
    tk_split_behavior behavior;
    int invert;
    int add_prefix_space;  /* ByteLevel */
    int individual_digits; /* Digits */
    char *replacement;     /* Metaspace */
    int prepend_scheme;    /* Metaspace: 0 never, 1 first, 2 always */
    int split;             /* Metaspace */
} tk_pretokenizer;

typedef enum {
    TK_DEC_BYTELEVEL, TK_DEC_REPLACE, TK_DEC_BYTEFALLBACK, TK_DEC_FUSE, TK_DEC_STRIP, TK_DEC_METASPACE,
    TK_DEC_BPE_SUFFIX, TK_DEC_TRIM /* whitespace off both ends of the joined text (CLIP) */
} tk_dec_type;

typedef struct {
    tk_dec_type type;
    char *pattern, *content; /* Replace; Strip content; Metaspace replacement; BPE suffix */
    int start, stop;         /* Strip */
    int prepend_scheme;      /* Metaspace */
} tk_decoder;

typedef struct {
    int32_t id;
    char *content;
    uint32_t len;
    int special, lstrip, rstrip, single_word, normalized;
} tk_added;

typedef enum { TK_MODEL_BPE, TK_MODEL_UNIGRAM } tk_model_type;

typedef struct {
    int is_special; /* else the sequence */
    int32_t id;
} tk_template_item;

struct loam_tokenizer {
    char *source; /* file it came from, for messages */
    tk_model_type model;
    int32_t n_vocab;  /* ids 0..n_vocab-1 (model vocab and added tokens) */
    char **tokens;    /* id -> token string (NULL for holes) */
    uint32_t *token_lens;
    tk_strmap vocab;  /* model vocab: string -> id */
    /* BPE */
    tk_mergemap merges;
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;
    char *subword_prefix, *word_suffix;
    int32_t byte_tokens[256]; /* "<0xXX>" ids for byte fallback, -1 if absent */
    /* Unigram */
    float *scores;
    float min_score;
    uint32_t max_piece_len;
    /* pipeline */
    tk_normalizer *norms;
    int n_norms;
    tk_pretokenizer *pres;
    int n_pres;
    tk_decoder *decs;
    int n_decs;
    tk_added *added;
    int n_added;
    int32_t *added_by_id; /* id -> index into added, or -1 */
    int *added_order;     /* added indices grouped by first byte, longest first */
    int added_start[257]; /* group of byte b: added_order[added_start[b] .. added_start[b + 1]) */
    tk_template_item *tpl;
    int n_tpl;
    int has_template;
    /* SentencePiece conventions when loaded from tokenizer.model */
    int spm_mode, spm_add_dummy_prefix, spm_remove_extra_ws;
    int rank_bpe; /* tiktoken: merge by rank of the merged token (scores = -rank) */
    /* from tokenizer_config.json */
    char *chat_template;
    char *bos_token, *eos_token;
};

/* ---- stages */
loam_status tk_normalize(const loam_tokenizer *t, const char *s, size_t n, tk_buf *out, loam_error *err);
/* Splits text into words; calls emit(word) for each, in order. `first`
 * says whether this piece starts the input (Metaspace's prepend "first"). */
typedef int (*tk_word_fn)(void *ctx, const char *w, size_t n);
loam_status tk_pretokenize(const loam_tokenizer *t, const char *s, size_t n, int first, tk_word_fn emit, void *ctx,
                           loam_error *err);
/* Appends the ids of one word. */
typedef struct {
    int32_t *ids;
    int n, cap;
} tk_ids;
int tk_ids_push(tk_ids *v, int32_t id);
int tk_bpe_word(const loam_tokenizer *t, const char *w, size_t n, tk_ids *out);
int tk_unigram_word(const loam_tokenizer *t, const char *w, size_t n, tk_ids *out);
int tk_score_bpe(const loam_tokenizer *t, const char *s, size_t n, tk_ids *out);
/* Decoders over a list of token strings into text. */
loam_status tk_decode_tokens(const loam_tokenizer *t, const char **toks, const uint32_t *lens, int n, tk_buf *out);

/* A NUL-terminated copy of n bytes that may themselves hold NULs (token
 * texts come from files: never strdup them). NULL when out of memory. */
char *tk_memdup(const char *s, size_t n);

/* GPT-2's byte <-> unicode map (-1: not a byte-level character). */
uint32_t tk_byte_to_cp(unsigned char b);
int tk_cp_to_byte(uint32_t cp);
int tk_utf8_len(unsigned char c);
size_t tk_utf8_encode(uint32_t cp, char *out);
/* decodes one code point at s[*i], advancing; U+FFFD on a bad sequence */
uint32_t tk_utf8_next(const char *s, size_t n, size_t *i);

/* ---- loaders (fill a zeroed tokenizer) */
pcre2_code *tk_compile_regex(const char *pattern, const char *path, loam_error *err);
loam_status tk_read_merges(loam_tokenizer *t, const cJSON *merges, const char *path, loam_error *err);
uint8_t *tk_base64(const char *s, size_t *out_len);
loam_status tk_charsmap_parse(tk_normalizer *nm, const char *path, loam_error *err);
loam_status tk_load_json(loam_tokenizer *t, const char *path, loam_error *err);
loam_status tk_load_spm(loam_tokenizer *t, const char *path, loam_error *err);
loam_status tk_load_vocab_merges(loam_tokenizer *t, const char *dir, loam_error *err);
loam_status tk_load_tiktoken(loam_tokenizer *t, const char *path, loam_error *err);
void tk_find_tiktoken(const char *dir, char **path);
int tk_is_tiktoken(const char *path); /* base64 + rank lines (vs a protobuf) */
loam_status tk_load_gguf(loam_tokenizer *t, const char *path, loam_error *err);
/* Builds the vocabulary of an open GGUF and throws it away: a model file is
 * refused for a broken vocabulary even when its user never tokenizes. */
loam_status tk_check_gguf_vocab(const gguf_file *g, const char *path, loam_error *err);
/* tokenizer_config.json next to the tokenizer: chat template, bos/eos */
loam_status tk_load_config(loam_tokenizer *t, const char *dir, loam_error *err);
/* SentencePiece's set-up from its pieces (tokens/scores already filled) */
typedef struct {
    int unigram, byte_fallback, add_dummy_prefix, remove_extra_ws, add_bos, add_eos;
    int64_t unk_id, bos_id, eos_id;
    const uint8_t *charsmap;
    size_t charsmap_len;
} tk_spm_options;
loam_status tk_spm_build(loam_tokenizer *t, const int8_t *types, const tk_spm_options *o, const char *path, loam_error *err);
/* SentencePiece's own encode/decode (tokenizer.model without tokenizer.json) */
loam_status tk_spm_encode(const loam_tokenizer *t, const char *s, size_t n, tk_ids *ids, loam_error *err);
loam_status tk_spm_decode(const loam_tokenizer *t, const char **toks, const uint32_t *lens, int n, tk_buf *out);
loam_status tk_finish(loam_tokenizer *t, loam_error *err); /* byte tokens, added index */
void tk_free_contents(loam_tokenizer *t);

#endif
