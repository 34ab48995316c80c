#!/usr/bin/env bash
# Checks the "who may include whom" rules of ARCHITECTURE.md over the
# #include lines of src/: the table between the "<!-- layers -->" markers
# lists each folder and the folders it may include. Also: every folder of
# src/ is in the table and every folder in the table is in src/ (or marked
# "arrives with"), the modalities (text, speech, image) never include one
# another, and the CLI and the server include only the public headers.
#   scripts/check-includes.sh [ROOT]    (ROOT: the checkout, default: here)
# Prints each violation as FILE:LINE: message; exits 1 if there is any.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
DOC="$ROOT/ARCHITECTURE.md"
[ -f "$DOC" ] || { echo "check-includes: $DOC is missing"; exit 1; }

declare -A allowed planned
while IFS='|' read -r _ folder deps _; do
  folder=$(echo "$folder" | tr -d ' `')
  [ -z "$folder" ] || [ "$folder" = folder ] || [[ "$folder" == -* ]] && continue
  if [[ "$deps" == *"arrives with"* ]]; then planned[$folder]=1; fi
  deps=$(echo "$deps" | sed 's/(.*)//' | tr -d '`,' )
  allowed[$folder]=" $(echo $deps) "
done < <(sed -n '/<!-- layers -->/,/<!-- \/layers -->/p' "$DOC" | grep '^|')

[ ${#allowed[@]} -gt 0 ] || { echo "check-includes: no layer table in $DOC"; exit 1; }
bad=0
fail() { echo "$1"; bad=1; }

# the table and the tree agree
for d in "$ROOT"/src/*/; do
  f=$(basename "$d")
  [ -n "${allowed[$f]+x}" ] || fail "src/$f: a folder ARCHITECTURE.md does not list"
done
for f in "${!allowed[@]}"; do
  [ -d "$ROOT/src/$f" ] || [ -n "${planned[$f]+x}" ] || fail "ARCHITECTURE.md lists src/$f, which does not exist"
done

modalities=" text speech image "
for a in text speech image; do
  for b in text speech image; do
    [ "$a" != "$b" ] && [[ "${allowed[$a]:-}" == *" $b "* ]] && fail "ARCHITECTURE.md lets $a include $b: one modality never includes another"
  done
done
for f in "${!allowed[@]}"; do
  case "${allowed[$f]}" in *" cli "*|*" server "*) fail "ARCHITECTURE.md lets $f include the CLI or the server";; esac
done

sources() { find "$ROOT/src" -type f \( -name '*.c' -o -name '*.h' -o -name '*.inc' \) | sort; }

# Only the #include lines are read by the shell (one grep over the tree):
# a read loop over every line of src/ took minutes.
while IFS= read -r hit; do
  file=${hit%%:*}; rest=${hit#*:}; n=${rest%%:*}; line=${rest#*:}
  rel=${file#"$ROOT"/}
  folder=${rel#src/}; folder=${folder%%/*}
  [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
  inc=${BASH_REMATCH[1]}
  case "$inc" in loam.h|loam_tools.h|loam_store.h|loam_speech.h|loam_image.h) continue;; esac
  if [[ "$inc" != */* ]]; then
    # a bare name: a file of the same folder
    [ -f "${file%/*}/$inc" ] || fail "$rel:$n: \"$inc\" is not a file of ${rel%/*}"
    continue
  fi
  target=${inc%%/*}
  # the program starts the server through its one entry point
  [ "$folder" = cli ] && [ "$inc" = server/server.h ] && continue
  if [ "$folder" = cli ] || [ "$folder" = server ]; then
    fail "$rel:$n: \"$inc\": the $folder includes only the public headers (loam.h, loam_tools.h, loam_store.h, loam_speech.h, loam_image.h) and its own"
    continue
  fi
  [ "$target" = "$folder" ] && continue
  if [[ "$modalities" == *" $folder "* && "$modalities" == *" $target "* ]]; then
    fail "$rel:$n: \"$inc\": one modality ($folder) never includes another ($target)"
  elif [[ "${allowed[$folder]:-}" != *" $target "* ]]; then
    fail "$rel:$n: \"$inc\": $folder may not include $target (ARCHITECTURE.md: $folder may include:${allowed[$folder]:- nothing})"
  fi
done < <(sources | tr '\n' '\0' | xargs -0 grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"')

# size rules, in one awk pass over src/: files, functions (a definition
# opens at column 0 and closes with a "}" at column 0), and no exit() in the
# library (the CLI and the server may exit)
sizes=$(sources | tr '\n' '\0' | xargs -0 awk -v root="$ROOT/" '
  function file_done() { if (rel != "" && lines > 1500) printf "%s: %d lines (at most 1,500)\n", rel, lines }
  FNR == 1 { file_done(); rel = substr(FILENAME, length(root) + 1); lines = 0; start = 0; exited = 0
             library = rel !~ /^src\/(cli|server)\// }
  { lines++ }
  /^[A-Za-z].*\)[[:space:]]*\{[[:space:]]*$/ { start = FNR; name = $0; next }
  /^\}/ && start { if (FNR - start > 150) printf "%s:%d: a function of %d lines (at most 150): %s\n", rel, start, FNR - start, name; start = 0 }
  library && !exited && /(^|[^_a-z])(exit|_Exit|abort)[[:space:]]*\(/ && !/^[[:space:]]*\/?\*/ {
    printf "%s:%d: exit() or abort() in the library\n", rel, FNR; exited = 1 }
  END { file_done() }')
[ -z "$sizes" ] || { echo "$sizes"; bad=1; }

[ $bad -eq 0 ] && echo "includes and sizes follow ARCHITECTURE.md"
exit $bad
