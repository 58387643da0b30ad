#!/usr/bin/env bash
# Print the path of a Python 3.13 interpreter (the Lambda runtime's version), or fail with a clear message.
# Order: $PYTHON if set, python3.13 on PATH, pyenv's 3.13.x, then python3 if it is 3.13.
set -euo pipefail
want="3.13"
is_wanted() { [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
command -v "python$want" >/dev/null 2>&1 && candidates+=("$(command -v "python$want")")
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/"$want".*; do
    [ -d "$dir" ] && candidates+=("$dir/bin/python$want")
  done
fi
command -v python3 >/dev/null 2>&1 && candidates+=("$(command -v python3)")
for candidate in "${candidates[@]}"; do
  if is_wanted "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "error: Python $want not found (the Lambda runtime is python$want)." >&2
echo "Install it (e.g. 'pyenv install $want' or your package manager) or set PYTHON=/path/to/python$want." >&2
exit 1
