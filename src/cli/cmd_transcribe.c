/* loam transcribe: speech to text with Whisper, as openai/whisper's CLI
 * does it (long-form windows, temperature fallback, beam search), the
 * text on stdout, txt/srt/vtt/json/tsv files on request, progress on
 * stderr for long files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "transcribe.h"

static const char usage[] =
    "usage: loam transcribe MODEL AUDIO|- [options]\n"
    "\n"
    "MODEL is a Whisper hub folder (config.json, model.safetensors, tokenizer.json), a GGUF\n"
    "(loam synth --like whisper-large-v3) or a whisper.cpp ggml-*.bin file; AUDIO is any file\n"
    "libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3), any rate and channel count, or - for stdin.\n"
    "\n"
    "  --language L            spoken language code (en, de, ja, ...) or auto (default: detected)\n"
    "  --task T                transcribe (default) or translate (to English)\n"
    "  --no-timestamps         decode without timestamp tokens (one segment per window)\n"
    "  --beam-size N           beam search with N beams at temperature 0 (default 5; 1 = greedy)\n"
    "  --best-of N             candidates sampled at temperature > 0 (default 5)\n"
    "  --patience P            beam search patience (default 1.0)\n"
    "  --length-penalty A      ranking by ((5 + length) / 6)^A instead of the length (default: length)\n"
    "  --temperature T         the first temperature (default 0)\n"
    "  --temperature-inc T     step of the fallback on a failed window (default 0.2; 0 = no fallback)\n"
    "  --compression-ratio-threshold X   fallback above it (default 2.4)\n"
    "  --logprob-threshold X   fallback below this average log-prob (default -1.0)\n"
    "  --no-speech-threshold X a window is silence above this no-speech probability (default 0.6)\n"
    "  --prompt TEXT           initial prompt: text that conditions the first window\n"
    "  --no-context            do not condition a window on the text before it\n"
    "  --seed S                random seed of the sampled fallback (default 0)\n"
    "  --output F[,F...]       also write txt, srt, vtt, json, tsv (or all) files named after AUDIO\n"
    "  --output-dir DIR        where those go (default .)\n"
    "  --dump FILE             write mel, encoder_out, decoder_logits, lang_logits and ids of the first\n"
    "                          window to a .safetensors file\n"
    "  --max-duration S        refuse audio longer than S seconds (default 86400)\n"
    "  -t, --threads N         threads (default: physical cores)\n"
    "  -q, --quiet             no progress on stderr\n"
    "  --word-timestamps       words with their times (DTW over the alignment heads' cross-attention), in json\n";

typedef struct opts {
    const char *model, *audio, *dump, *out_dir, *lang;
    unsigned outputs;
    long threads;
    int quiet;
    double max_duration;
    loam_whisper_full_params p;
} opts;

static int parse_outputs(const char *v, unsigned *out) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        unsigned bit = tr_output_bit(tok);
        if (!bit) return cli_error("--output: unknown format \"%s\" (txt, srt, vtt, json, tsv, all)", tok);
        *out |= bit;
    }
    return 0;
}

static int float_opt(const char *name, const char *v, double lo, double hi, float *out) {
    double d;
    if (!v || !cli_float(name, v, &d)) return 1;
    if (!(d >= lo && d <= hi)) return cli_error("%s must be within %g..%g", name, lo, hi);
    *out = (float)d;
    return 0;
}

/* The decoding options that take a number in a range. */
typedef struct float_flag {
    const char *name;
    double lo, hi;
    float *dst;
} float_flag;

/* The flag of that name in flags[n], or NULL. */
static const float_flag *float_option(const float_flag *flags, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, flags[i].name)) return &flags[i];
    return NULL;
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->p = loam_whisper_full_default_params();
    o->out_dir = ".", o->max_duration = 86400;
    const float_flag floats[] = {
        {"--patience", 0.1, 8, &o->p.patience},       {"--length-penalty", 0, 10, &o->p.length_penalty},
        {"--temperature", 0, 1, &o->p.temperature},    {"--temperature-inc", 0, 1, &o->p.temperature_inc},
        {"--compression-ratio-threshold", 0, 1000, &o->p.compression_ratio_threshold},
        {"--logprob-threshold", -1000, 0, &o->p.logprob_threshold},
        {"--no-speech-threshold", 0, 1, &o->p.no_speech_threshold},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const float_flag *fo;
        long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(a, "--language") || !strcmp(a, "-l")) {
            if (!v) return cli_error("--language needs a code (en, de, ...) or auto");
            o->lang = v, i++;
        } else if (!strcmp(a, "--task")) {
            if (!v || (strcmp(v, "transcribe") && strcmp(v, "translate"))) return cli_error("--task is transcribe or translate");
            o->p.task = strcmp(v, "translate") ? LOAM_WHISPER_TRANSCRIBE : LOAM_WHISPER_TRANSLATE, i++;
        } else if (!strcmp(a, "--no-timestamps")) {
            o->p.timestamps = 0;
        } else if (!strcmp(a, "--beam-size") || !strcmp(a, "--best-of")) {
            if (!v || !cli_int(a, v, 1, 8, &n)) return 1;
            *(a[2] == 'b' && a[3] == 'e' && a[4] == 'a' ? &o->p.beam_size : &o->p.best_of) = (int)n, i++;
        } else if ((fo = float_option(floats, (int)(sizeof floats / sizeof floats[0]), a))) {
            if (float_opt(a, v, fo->lo, fo->hi, fo->dst)) return 1;
            i++;
        } else if (!strcmp(a, "--prompt")) {
            if (!v) return cli_error("--prompt needs text");
            o->p.initial_prompt = v, i++;
        } else if (!strcmp(a, "--no-context")) {
            o->p.condition_on_previous_text = 0;
        } else if (!strcmp(a, "--seed")) {
            if (!v || !cli_u64(a, v, &o->p.seed)) return 1;
            i++;
        } else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
            if (!v || parse_outputs(v, &o->outputs)) return 1;
            i++;
        } else if (!strcmp(a, "--output-dir")) {
            if (!v) return cli_error("--output-dir needs a folder");
            o->out_dir = v, i++;
        } else if (!strcmp(a, "--dump")) {
            if (!v) return cli_error("--dump needs a file name");
            o->dump = v, i++;
        } else if (!strcmp(a, "--max-duration")) {
            if (!v || !cli_float(a, v, &o->max_duration) || !(o->max_duration > 0)) return cli_error("--max-duration needs seconds > 0");
            i++;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!v || !cli_int(a, v, 1, 1024, &o->threads)) return 1;
            i++;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--word-timestamps")) {
            o->p.word_timestamps = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("transcribe: unknown option \"%s\" (see loam transcribe --help)", a);
        } else if (!o->model) {
            o->model = a;
        } else if (!o->audio) {
            o->audio = a;
        } else {
            return cli_error("transcribe: one model and one audio file (\"%s\" is a third argument)", a);
        }
    }
    if (!o->model || !o->audio) return cli_error("usage: loam transcribe MODEL AUDIO|- [options] (see --help)");
    o->p.language = o->lang;
    if (o->p.temperature > 0 && o->p.beam_size > 1) o->p.beam_size = 1;
    return 0;
}

typedef struct run_state {
    const opts *o;
    double t0, duration;
    int shown;
    tr_dump *dump;
} run_state;

/* stdout: each segment's text as it comes; stderr: progress on long files */
static int on_segment(const loam_whisper_segment *s, double done, void *user) {
    run_state *rs = user;
    const char *t = s->text;
    while (*t == ' ') t++;
    if (*t) printf("%s\n", t);
    fflush(stdout);
    if (!rs->o->quiet && rs->duration > 30) {
        double secs = cli_now() - rs->t0;
        fprintf(stderr, "\rtranscribe: %3.0f%% of %.0f s, %.1fx real time ", done * 100, rs->duration,
                secs > 0 ? done * rs->duration / secs : 0.0);
        rs->shown = 1;
    }
    return 0;
}

static void on_window(int64_t seek, const int32_t *tokens, int n, float temperature, void *user) {
    run_state *rs = user;
    (void)temperature;
    if (rs->dump) tr_dump_window(rs->dump, seek, tokens, n);
}

int cmd_transcribe(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    char model[4096];
    if (cli_resolve_model(o.model, 1, model, sizeof model)) return 1;
    loam_error err = {0};
    float *pcm = NULL;
    size_t n = 0;
    if (loam_audio_load(o.audio, o.max_duration, &pcm, &n, &err)) return cli_error_status(&err);
    loam_whisper_params wp = loam_whisper_default_params();
    wp.n_threads = (int)o.threads;
    loam_whisper *w = NULL;
    if (loam_whisper_open(model, &wp, &w, &err)) {
        loam_audio_free(pcm);
        return cli_error_status(&err);
    }
    loam_whisper_info info;
    loam_whisper_get_info(w, &info);
    if (!info.has_text) fprintf(stderr, "loam: %s has no tokenizer.json: printing token ids, not text\n", model);
    tr_dump dump = {0};
    rc = o.dump ? tr_dump_begin(w, &o.p, pcm, n, &dump) : 0;
    run_state rs = {&o, cli_now(), (double)n / LOAM_WHISPER_SAMPLE_RATE, 0, o.dump ? &dump : NULL};
    o.p.on_segment = on_segment, o.p.on_window = on_window, o.p.user = &rs;
    loam_whisper_result r = {0};
    if (!rc && loam_whisper_full(w, &o.p, pcm, n, &r, &err)) rc = cli_error_status(&err);
    if (rs.shown) fputc('\n', stderr);
    if (!rc && !o.quiet) {
        if (r.language_prob > 0)
            fprintf(stderr, "language: %s (detected, p = %.3f); ", loam_whisper_lang_code(w, r.language), r.language_prob);
        fprintf(stderr, "%.1f s of audio in %.1f s\n", r.duration, cli_now() - rs.t0);
    }
    if (!rc && o.dump) rc = tr_dump_finish(&dump, o.dump);
    if (!rc && o.outputs) rc = tr_write_outputs(w, &r, o.outputs, o.out_dir, o.audio);
    tr_dump_free(&dump);
    loam_whisper_result_free(&r);
    loam_whisper_free(w);
    loam_audio_free(pcm);
    return rc;
}
