#!/usr/bin/env python3
"""Writes a random-weight Whisper model in whisper.cpp's ggml-*.bin format
(f16 matrices and conv kernels; f32 biases, norms, positions), so loam and
whisper.cpp can be benchmarked on the same file at a real shape:

    scripts/whisper-ggml-synth.py large-v3 OUT.bin

Benchmark only: the weights are a repeated random block (speed does not
depend on them); the format follows whisper.cpp's models/convert-*.py."""
import os
import random
import struct
import sys

SHAPES = {  # d_model, encoder/decoder layers, heads, mel bins, vocab
    "tiny": (384, 4, 4, 6, 80, 51865), "base": (512, 6, 6, 8, 80, 51865),
    "small": (768, 12, 12, 12, 80, 51865), "medium": (1024, 24, 24, 16, 80, 51865),
    "large-v2": (1280, 32, 32, 20, 80, 51865), "large-v3": (1280, 32, 32, 20, 128, 51866),
    "large-v3-turbo": (1280, 32, 4, 20, 128, 51866),
}

def main():
    name, out = sys.argv[1], sys.argv[2]
    D, n_enc, n_dec, heads, n_mels, V = SHAPES[name]
    rnd = random.Random(1)
    block = struct.pack("<%de" % 65536, *[rnd.gauss(0, 0.02) for _ in range(65536)])
    f = open(out, "wb")

    def data(n_bytes, f16=True):
        unit = block if f16 else struct.pack("<%df" % 32768, *[rnd.gauss(0, 0.02) for _ in range(32768)])
        while n_bytes > 0:
            k = min(n_bytes, len(unit))
            f.write(unit[:k])
            n_bytes -= k

    def tensor(tname, ne, f16):
        b = tname.encode()
        f.write(struct.pack("<iii", len(ne), len(b), 1 if f16 else 0) + struct.pack("<%di" % len(ne), *ne) + b)
        count = 1
        for x in ne:
            count *= x
        data(count * (2 if f16 else 4), f16)

    f.write(struct.pack("<I", 0x67676D6C))
    f.write(struct.pack("<11i", V, 1500, D, heads, n_enc, 448, D, heads, n_dec, n_mels, 1))
    f.write(struct.pack("<ii", n_mels, 201) + b"\0" * (n_mels * 201 * 4))
    n_tok = 50257 if V >= 51865 else 50256
    f.write(struct.pack("<i", n_tok))
    for i in range(n_tok):
        s = ("t%d" % i).encode()
        f.write(struct.pack("<I", len(s)) + s)

    def block_tensors(pre, cross):
        for att, ln in [("attn", "attn_ln")] + ([("cross_attn", "cross_attn_ln")] if cross else []):
            tensor(pre + ln + ".weight", [D], False)
            tensor(pre + ln + ".bias", [D], False)
            for p in ["query", "key", "value", "out"]:
                tensor("%s%s.%s.weight" % (pre, att, p), [D, D], True)
                if p != "key":
                    tensor("%s%s.%s.bias" % (pre, att, p), [D], False)
        tensor(pre + "mlp_ln.weight", [D], False)
        tensor(pre + "mlp_ln.bias", [D], False)
        tensor(pre + "mlp.0.weight", [D, 4 * D], True)
        tensor(pre + "mlp.0.bias", [4 * D], False)
        tensor(pre + "mlp.2.weight", [4 * D, D], True)
        tensor(pre + "mlp.2.bias", [D], False)

    tensor("encoder.positional_embedding", [D, 1500], False)
    tensor("encoder.conv1.weight", [3, n_mels, D], True)
    tensor("encoder.conv1.bias", [1, D], False)
    tensor("encoder.conv2.weight", [3, D, D], True)
    tensor("encoder.conv2.bias", [1, D], False)
    for i in range(n_enc):
        block_tensors("encoder.blocks.%d." % i, False)
    tensor("encoder.ln_post.weight", [D], False)
    tensor("encoder.ln_post.bias", [D], False)
    tensor("decoder.positional_embedding", [D, 448], False)
    tensor("decoder.token_embedding.weight", [D, V], True)
    for i in range(n_dec):
        block_tensors("decoder.blocks.%d." % i, True)
    tensor("decoder.ln.weight", [D], False)
    tensor("decoder.ln.bias", [D], False)
    f.close()
    print("%s: %.2f GB" % (out, os.path.getsize(out) / 1e9))

if __name__ == "__main__":
    main()
