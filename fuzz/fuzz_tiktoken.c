/* libFuzzer target: a tiktoken rank file (base64 token, rank per line)
 * beside Whisper's real special_tokens.json, then an encode and decode. */
#include "fuzz_files.h"
#include "fuzz_tokenize_round.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    const char *dir = fuzz_dir("tiktoken");
    if (!ready) fuzz_copy_fixture("tokenizers/whisper/special_tokens.json", dir, "special_tokens.json"), ready = 1;
    fuzz_tokenize_round(fuzz_write(dir, "multilingual.tiktoken", data, size));
    return 0;
}
