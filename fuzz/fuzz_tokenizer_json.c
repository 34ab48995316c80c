/* libFuzzer target: tokenizer.json loading from arbitrary bytes, then an
 * encode and decode with whatever loaded. */
#include "fuzz_files.h"
#include "fuzz_tokenize_round.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenize_round(fuzz_write(fuzz_dir("tokjson"), "tokenizer.json", data, size));
    return 0;
}
