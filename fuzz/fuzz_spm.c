/* libFuzzer target: a SentencePiece tokenizer.model (protobuf) from
 * arbitrary bytes, then an encode and decode with whatever loaded. */
#include "fuzz_files.h"
#include "fuzz_tokenize_round.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenize_round(fuzz_write(fuzz_dir("spm"), "tokenizer.model", data, size));
    return 0;
}
