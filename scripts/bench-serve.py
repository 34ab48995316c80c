#!/usr/bin/env python3
"""Load generator for an OpenAI-compatible server (a benchmark, not a test).

  bench-serve.py --url http://127.0.0.1:8080 --model NAME --requests 32 --concurrency 16
                 [--max-tokens 64] [--prompt-words 48] [--ban-ids FIRST:END]

Sends streamed /v1/completions requests from `concurrency` threads (standard
library only), each prompt different, greedy with ignore_eos so every request
generates exactly max-tokens tokens. Prints one JSON line: generated tokens
per second over the whole run, and the p50 / p99 time to first token.
--ban-ids gives token ids FIRST..END-1 a logit_bias of -100 in every request
(the same for every server): a `loam synth` file's byte tokens (<0x00>..<0xFF>,
ids 3:259) let a random model emit invalid UTF-8, which llama-server's output
parser answers with a 500 after a few tokens.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def one(url, model, prompt, max_tokens, bias):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    req = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
           "ignore_eos": True, "stream_options": {"include_usage": True}}
    if bias:
        req["logit_bias"] = bias
    body = json.dumps(req)
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:200]))
    first, tokens, buf, finish, usage = None, 0, b"", None, None
    while True:
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            line = event.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            data = json.loads(line[6:])
            choices = data.get("choices") or []
            if data.get("usage"):
                usage = data["usage"].get("completion_tokens")
            if choices and choices[0].get("finish_reason"):
                finish = choices[0]["finish_reason"]
            if choices and choices[0].get("text"):
                tokens += 1
                if first is None:
                    first = time.monotonic() - t0
    conn.close()
    # a chunk may hold several tokens, or none (a server holds back a partial
    # UTF-8 character): the server's own count, else max_tokens when it
    # stopped for length
    if usage:
        tokens = usage
    elif finish == "length":
        tokens = max_tokens
    return first if first is not None else time.monotonic() - t0, tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=48)
    ap.add_argument("--ban-ids", default="")
    a = ap.parse_args()
    bias = {}
    if a.ban_ids:
        first, end = (int(v) for v in a.ban_ids.split(":"))
        bias = {str(i): -100 for i in range(first, end)}
    words = "the quick brown fox jumps over a lazy dog while seven small birds sing in tall green trees".split()
    prompts = [" ".join(words[(i + k) % len(words)] for k in range(a.prompt_words)) + " %d" % i for i in range(a.requests)]
    results, lock, next_i = [], threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                if next_i[0] >= len(prompts):
                    return
                i = next_i[0]
                next_i[0] += 1
            r = one(a.url, a.model, prompts[i], a.max_tokens, bias)
            with lock:
                results.append(r)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    ttft = sorted(r[0] for r in results)
    tokens = sum(r[1] for r in results)

    def pct(p):
        return ttft[min(len(ttft) - 1, int(round(p / 100.0 * (len(ttft) - 1))))]

    print(json.dumps({"concurrency": a.concurrency, "requests": len(results), "tokens": tokens, "seconds": round(wall, 3),
                      "tokens_per_s": round(tokens / wall, 2), "ttft_p50_s": round(pct(50), 3), "ttft_p99_s": round(pct(99), 3)}))


if __name__ == "__main__":
    main()
