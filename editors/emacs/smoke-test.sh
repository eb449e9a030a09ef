#!/usr/bin/env bash
# Smoke test of the Emacs configs in editors/README.md (eglot and lsp-mode):
# each starts mcls on a .tex and a .md file and must show the dimension
# diagnostic and a hover. Needs emacs and mcls on PATH; on Debian:
#   apt-get install emacs-nox elpa-eglot elpa-lsp-mode elpa-markdown-mode
# Usage: editors/emacs/smoke-test.sh [eglot] [lsp-mode]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
readme="$here/../README.md"
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(eglot lsp-mode)
command -v emacs >/dev/null || { echo "SKIP: emacs not found"; exit 0; }
command -v mcls >/dev/null || { echo "FAIL: mcls not on PATH"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project/.git"
cat > "$work/project/paper.tex" <<'TEX'
\documentclass{article}
\begin{document}
Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.
\[
  M = A X X^\top A^\top
\]
\end{document}
TEX
cat > "$work/project/notes.md" <<'MD'
# Shapes

Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.

$$
M = A X X^\top A^\top
$$
MD

status=0
for client in "${clients[@]}"; do
  files=("$work/project/paper.tex")
  # markdown-mode is a separate package
  if emacs --batch --eval "(kill-emacs (if (require 'markdown-mode nil t) 0 1))" 2>/dev/null; then
    files+=("$work/project/notes.md")
  else
    echo "SMOKE note: markdown-mode not installed, .md skipped"
  fi
  echo "== $client"
  rc=0
  (cd "$work/project" && HOME="$work" TMPDIR="$work" timeout 180 emacs --batch -l "$here/smoke.el" "$client" "$readme" "${files[@]}") \
    >"$work/$client.out" 2>"$work/$client.err" || rc=$?
  grep '^SMOKE' "$work/$client.out" || true
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $client (exit $rc); stderr:"; tail -20 "$work/$client.err"; status=1
  else
    echo "OK: $client"
  fi
done
exit $status
