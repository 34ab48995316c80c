/* loam: run open-weight models on your own machine. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "loam " LOAM_VERSION " - run open-weight models on your own machine\n"
    "\n"
    "usage: loam <command> [options]\n"
    "\n"
    "commands:\n"
    "  run MODEL_DIR [PROMPT] [options]  generate from a prompt (see loam run --help)\n"
    "  chat MODEL_DIR [options]  interactive chat with the model's template (see loam chat --help)\n"
    "  info MODEL_DIR [--json]   architecture, parameters, dtype, context, memory needed (at the default\n"
    "                            context and the training context)\n"
    "                            (of any GGUF, e.g. a Whisper or FLUX.1 transformer one: what it holds)\n"
    "  bench MODEL_DIR [options] prefill and decode speed; bench --gemm M,N,K the matrix product alone\n"
    "  tokenize PATH [--no-special] [--json] TEXT   text (or - for stdin) to ids\n"
    "  detokenize PATH [--skip-special] ID...      ids to text, exactly\n"
    "  template PATH --messages FILE.json [--tools FILE.json] [--var KEY=JSON ...]\n"
    "                [--add-generation-prompt]      render the chat template, exactly\n"
    "  quantize IN OUT --type T  GGUF (f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q6_k q4_k_m q5_k_s q5_k_m) from a GGUF or an HF Llama folder\n"
    "  synth --like NAME --type T -o OUT.gguf   random weights, real shapes of a published model\n"
    "  transcribe MODEL AUDIO|- [--language L] [--task translate] [--output srt,vtt,json,...]\n"
    "                            speech to text with Whisper (see loam transcribe --help)\n"
    "  imagine MODEL \"PROMPT\" [-o OUT.png] [--steps N] [--seed S] [--width W --height H]\n"
    "                            text to image with FLUX.1 schnell or dev (see loam imagine --help)\n"
    "  serve [MODEL] [--model NAME=PATH] [--port P] [--parallel N]   OpenAI- and ollama-compatible server\n"
    "                            with a chat page (see loam serve --help)\n"
    "  pick [--task T] [--lang L] [--context N] [--ram SIZE] [--commercial] [--json] [--all]\n"
    "                            which model fits this machine, how fast it runs; --explain M, --measure M\n"
    "  pull NAME...              fetch models from the Hugging Face hub into its cache (hub id, GGUF repo\n"
    "                            with :QUANT, or a short name such as llama3.1:8b)\n"
    "  list                      the models in the store, their size and last use\n"
    "  rm NAME...                remove models from the store\n"
    "  help                      this text\n"
    "  version                   the version\n"
    "\n"
    "MODEL_DIR is a model folder as downloaded from the Hugging Face hub (config.json,\n"
    "model.safetensors or shards with model.safetensors.index.json), a .gguf file, a hub id\n"
    "(org/name, org/name-GGUF:Q4_K_M) or a short name found in the store; run and chat pull\n"
    "what is missing (LOAM_ASK_ABOVE=4G asks before a larger download).\n"
    "Environment: LOAM_SIMD=scalar|avx2|avx512 lowers the kernel level; LOAM_PREFETCH=0|1 turns the\n"
    "decode kernels' software prefetch off or on (default: by the CPU); HF_HUB_CACHE / HF_HOME, HF_TOKEN,\n"
    "HF_ENDPOINT as huggingface_hub reads them.\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("loam %s\n", LOAM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "detokenize") == 0) return cmd_detokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "template") == 0) return cmd_template(argc - 1, argv + 1);
    if (strcmp(cmd, "chat") == 0) return cmd_chat(argc - 1, argv + 1);
    if (strcmp(cmd, "quantize") == 0) return cmd_quantize(argc - 1, argv + 1);
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "pick") == 0) return cmd_pick(argc - 1, argv + 1);
    if (strcmp(cmd, "transcribe") == 0) return cmd_transcribe(argc - 1, argv + 1);
    if (strcmp(cmd, "imagine") == 0) return cmd_imagine(argc - 1, argv + 1);
    if (strcmp(cmd, "pull") == 0) return cmd_pull(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "rm") == 0) return cmd_rm(argc - 1, argv + 1);
    fprintf(stderr, "loam: unknown command \"%s\"\n\n%s", cmd, usage);
    return 2;
}
