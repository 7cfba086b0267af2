#!/usr/bin/env bash
# Puts a corpus into data/ (data files stay out of git).
#   scripts/get-data.sh kjv                  King James Bible from Debian's bible-kjv → data/kjv.txt
#   scripts/get-data.sh shakespeare [FILE]   tiny Shakespeare → data/tinyshakespeare.txt, copied
#                                            from FILE, or downloaded when the machine is online
set -euo pipefail
file="${2:-}"                                  # FILE is relative to the caller's folder
if [ -n "$file" ] && [ "${file#/}" = "$file" ]; then file="$PWD/$file"; fi
cd "$(dirname "$0")/.."
mkdir -p data

case "${1:-}" in
kjv)
    if [ -s data/kjv.txt ]; then echo "data/kjv.txt is there"; exit 0; fi
    if ! command -v bible >/dev/null 2>&1; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq bible-kjv
    fi
    bible "gen1:1-rev22:21" > data/kjv.txt.tmp
    mv data/kjv.txt.tmp data/kjv.txt
    echo "wrote data/kjv.txt ($(wc -c < data/kjv.txt) bytes)"
    ;;
shakespeare)
    if [ -n "$file" ]; then
        [ -f "$file" ] && [ -r "$file" ] || { echo "get-data.sh: cannot read $2" >&2; exit 1; }
        if [ -e data/tinyshakespeare.txt ]; then
            same=0; cmp -s "$file" data/tinyshakespeare.txt 2>/dev/null || same=$?
            [ "$same" -ne 2 ] || { echo "get-data.sh: cannot read data/tinyshakespeare.txt (a folder, or not readable)" >&2; exit 1; }
            [ "$same" -eq 0 ] || {
                echo "get-data.sh: data/tinyshakespeare.txt is there and is not a copy of $2; move it away first" >&2
                exit 1
            }
        else
            tmp=$(mktemp data/.tinyshakespeare.XXXXXX)
            cp "$file" "$tmp" && mv "$tmp" data/tinyshakespeare.txt
        fi
    elif [ ! -s data/tinyshakespeare.txt ]; then
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
        curl -fsSL "$url" -o data/tinyshakespeare.txt.tmp || {
            echo "cannot download tiny Shakespeare (offline?); give a local copy: scripts/get-data.sh shakespeare FILE" >&2
            exit 1
        }
        mv data/tinyshakespeare.txt.tmp data/tinyshakespeare.txt
    fi
    echo "data/tinyshakespeare.txt: $(wc -c < data/tinyshakespeare.txt) bytes"
    ;;
*)
    echo "usage: scripts/get-data.sh kjv | shakespeare [FILE]" >&2
    exit 2
    ;;
esac
