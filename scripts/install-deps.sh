#!/usr/bin/env bash
# Installs the Debian packages loam needs to build and test, if any is
# missing (the list and the reason for each is in README.md).
set -euo pipefail
PACKAGES=(
  gcc make cmake              # the build
  pkg-config                  # loam.pc: the installed-library test builds examples/ through it
  clang libclang-rt-14-dev    # AddressSanitizer/UBSan test build and libFuzzer targets
  libcjson-dev                # JSON: config.json, safetensors headers, index files
  libpcre2-dev                # Unicode regexes of the tokenizers' pre-tokenizers
  libutf8proc-dev             # Unicode normalization (NFC/NFKC...), categories, graphemes
  libcurl4-openssl-dev        # downloads from the hub: HTTP(S), redirects, ranges, parallel transfers
  libmicrohttpd-dev           # loam serve: HTTP/1.1, chunked streaming, limits on headers and connections
  libssl-dev                  # sha256 and sha1 (OpenSSL libcrypto) to check downloaded files
  libsndfile1-dev             # loam transcribe: WAV, FLAC, OGG/Vorbis, Opus, MP3 decoding
  libsoxr-dev                 # loam transcribe: band-limited resampling to 16 kHz
  libpng-dev                  # loam imagine: the PNG it writes (with the prompt, seed and steps in text chunks)
  zlib1g-dev                  # loam transcribe: the compression ratio of the temperature fallback (as openai/whisper's zlib)
  python3                     # tests only: the local hub look-alike (standard library, no packages)
  curl                        # tests only: requests to loam serve
  chromium                    # tests only: the chat page in a real browser (driven by playwright-core from npm)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# tests only: the official openai package runs on Node.js (npm installs it into build/npm)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
