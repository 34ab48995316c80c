/* loam info: what a model is and what it needs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void human_bytes(uint64_t b, char *buf, size_t len) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

/* A GGUF of an architecture loam has no text-model code for (Whisper, FLUX):
 * what its header says, and the memory its weights take. */
static int info_summary(const char *path, int json, const loam_error *why) {
    loam_error err;
    loam_file_summary s;
    /* a summary only stands in for an architecture loam does not run: for
     * the others, info refuses what run refuses */
    if (loam_file_summarize(path, &s, &err) != LOAM_OK || s.runnable) return cli_error_status(why);
    if (json) {
        printf("{\"architecture\": \"%s\", \"name\": \"%s\", \"n_params\": %lld, \"dtype\": \"%s\", \"n_tensors\": %lld, "
               "\"weight_bytes\": %llu, \"runnable\": false}\n",
               s.architecture, s.name, (long long)s.n_params, s.dtype, (long long)s.n_tensors, (unsigned long long)s.data_bytes);
    } else {
        char wb[32];
        human_bytes(s.data_bytes, wb, sizeof wb);
        printf("architecture:   %s%s%s%s\n", s.architecture, s.name[0] ? " (" : "", s.name, s.name[0] ? ")" : "");
        printf("parameters:     %lld (%.2f B) in %lld tensors\n", (long long)s.n_params, (double)s.n_params / 1e9, (long long)s.n_tensors);
        printf("dtype:          %s\n", s.dtype);
        printf("weights:        %s\n", wb);
        if (!strcmp(s.architecture, "flux"))
            printf("note:           a FLUX.1 transformer: loam imagine MODEL_DIR --transformer %s, or loam bench %s\n", path, path);
        else printf("note:           loam cannot run this architecture yet (%s)\n", why->message);
    }
    return 0;
}

/* A Whisper model: its shape, where it came from, its text. */
static int info_whisper(const char *path, int json) {
    loam_error err;
    loam_whisper_params p = loam_whisper_default_params();
    p.n_threads = 1;
    p.keep_layout = 1; /* nothing runs: no repacking */
    loam_whisper *w = NULL;
    if (loam_whisper_open(path, &p, &w, &err) != LOAM_OK) {
        /* a GGUF loam cannot run as a model still gets its summary */
        size_t n = strlen(path);
        return n > 5 && !strcmp(path + n - 5, ".gguf") ? info_summary(path, json, &err) : cli_error_status(&err);
    }
    loam_whisper_info in;
    loam_whisper_get_info(w, &in);
    if (json)
        printf("{\"architecture\": \"whisper\", \"source\": \"%s\", \"dtype\": \"%s\", \"n_mels\": %d, \"d_model\": %d, "
               "\"encoder_layers\": %d, \"decoder_layers\": %d, \"n_heads\": %d, \"vocab_size\": %d, \"languages\": %d, "
               "\"audio_context\": %d, \"text_context\": %d, \"has_text\": %s, \"decode_bytes_per_token\": %llu}\n",
               in.source, in.weight_type, in.n_mels, in.d_model, in.n_encoder_layers, in.n_decoder_layers, in.n_heads,
               in.n_vocab, in.n_languages, in.n_audio_ctx, in.n_text_ctx, in.has_text ? "true" : "false",
               (unsigned long long)loam_whisper_decode_bytes(w));
    else
        printf("architecture: whisper (%s, %s weights)\nmel bins:     %d\nd_model:      %d\nlayers:       %d encoder, "
               "%d decoder, %d heads\nvocabulary:   %d tokens, %d languages%s\ncontext:      %d audio, %d text positions\n"
               "decode reads: %.1f MB per token\n",
               in.source, in.weight_type, in.n_mels, in.d_model, in.n_encoder_layers, in.n_decoder_layers, in.n_heads,
               in.n_vocab, in.n_languages, in.has_text ? "" : " (no tokenizer.json: ids only)", in.n_audio_ctx,
               in.n_text_ctx, loam_whisper_decode_bytes(w) / 1e6);
    loam_whisper_free(w);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts("usage: loam info MODEL [--json]\n"
                 "  architecture, parameters, dtype, context, and the memory needed at the context loam run\n"
                 "  uses by default (and at the training context); MODEL is a folder or a .gguf file");
            return 0;
        } else if (argv[i][0] == '-') return cli_error("info: unknown option \"%s\"", argv[i]);
        else if (!dir) dir = argv[i];
        else return cli_error("info: unexpected argument \"%s\"", argv[i]);
    }
    if (!dir) return cli_error("info: no model folder given");
    char resolved[4096];
    if (cli_resolve_model(dir, 0, resolved, sizeof resolved)) return 1;
    dir = resolved;
    loam_error err;
    if (loam_whisper_probe(dir)) return info_whisper(dir, json);
    loam_model *model = NULL;
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = 1;
    mp.keep_layout = 1; /* nothing runs: no repacking */
    if (loam_model_open(dir, &mp, &model, &err) != LOAM_OK)
        return err.code == LOAM_E_UNSUPPORTED ? info_summary(dir, json, &err) : cli_error_status(&err);
    loam_model_info in;
    loam_model_get_info(model, &in);
    /* the memory at the context `loam run` uses by default, and beside it
     * at the training context */
    int ctx = loam_model_default_n_ctx(model), train = in.n_ctx_train > 0 ? in.n_ctx_train : ctx;
    loam_memory_plan plan, plan_train;
    if (loam_model_memory(model, ctx, LOAM_KV_F32, &plan, &err) != LOAM_OK ||
        loam_model_memory(model, train, LOAM_KV_F32, &plan_train, &err) != LOAM_OK) {
        loam_model_free(model);
        return cli_error_status(&err);
    }
    uint64_t kv = plan.kv_cache, kv_train = plan_train.kv_cache, total = plan.total, total_train = plan_train.total;
    if (json) {
        printf("{\"architecture\": \"%s\", \"model_type\": \"%s\", \"n_params\": %lld, \"dtype\": \"%s\", "
               "\"context_length\": %d, \"default_context\": %d, \"n_layers\": %d, \"hidden_size\": %d, \"n_heads\": %d, "
               "\"n_kv_heads\": %d, \"head_dim\": %d, \"ffn_size\": %d, \"vocab_size\": %d, \"weight_bytes\": %llu, "
               "\"kv_cache_bytes\": %llu, \"memory_bytes\": %llu, \"kv_cache_bytes_train\": %llu, \"memory_bytes_train\": %llu, "
               "\"scratch_bytes\": %llu, \"overhead_bytes\": %llu, \"kv_bytes_per_token\": %llu}\n",
               in.architecture, in.model_type, (long long)in.n_params, in.dtype, in.n_ctx_train, ctx, in.n_layers,
               in.n_embd, in.n_heads, in.n_kv_heads, in.head_dim, in.n_ff, in.n_vocab,
               (unsigned long long)in.weight_bytes, (unsigned long long)kv, (unsigned long long)total,
               (unsigned long long)kv_train, (unsigned long long)total_train, (unsigned long long)plan.scratch,
               (unsigned long long)plan.overhead, (unsigned long long)plan.kv_per_token);
    } else {
        char wb[32], kb[32], tb[32], kbt[32], tbt[32];
        human_bytes(in.weight_bytes, wb, sizeof wb);
        human_bytes(kv, kb, sizeof kb);
        human_bytes(total, tb, sizeof tb);
        human_bytes(kv_train, kbt, sizeof kbt);
        human_bytes(total_train, tbt, sizeof tbt);
        printf("architecture:   %s (%s)\n", in.architecture, in.model_type);
        printf("parameters:     %lld (%.2f B)\n", (long long)in.n_params, (double)in.n_params / 1e9);
        printf("dtype:          %s\n", in.dtype);
        printf("context length: %d (loam run's default: %d)\n", in.n_ctx_train, ctx);
        printf("layers:         %d, hidden %d, heads %d (kv %d, head_dim %d), ffn %d, vocab %d\n", in.n_layers,
               in.n_embd, in.n_heads, in.n_kv_heads, in.head_dim, in.n_ff, in.n_vocab);
        char sb[32], ob[32];
        human_bytes(plan.scratch, sb, sizeof sb);
        human_bytes(plan.overhead, ob, sizeof ob);
        printf("memory needed:  %s = weights %s (held once: mapped, or repacked at load) + f32 KV cache %s for %d positions + scratch %s + runtime %s\n",
               tb, wb, kb, ctx, sb, ob);
        if (train != ctx) printf("                %s at the full %d positions (KV cache %s)\n", tbt, train, kbt);
    }
    loam_model_free(model);
    return 0;
}
