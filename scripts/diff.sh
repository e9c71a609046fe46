#!/usr/bin/env bash
# make diff BASE=<git ref> [ENV=kobe-stg] [ALLOW="STACK/ID ..."]
# Synthesizes BASE in a separate git worktree, then compares it with the working tree's synth, offline:
# the change guard (fails on a replaced or removed stateful resource) and `cdk diff --template` per stack.
set -euo pipefail
base=${1:?usage: scripts/diff.sh BASE_REF ENV NEW_CDK_OUT}
env=${2:-kobe-stg}
new_out=${3:-cdk.out}
root=$(git rev-parse --show-toplevel)
cdk="$root/node_modules/.bin/cdk"
python="$root/.venv/bin/python"
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$root" worktree add --detach "$work/base" "$base" >/dev/null
echo "== synth of $base ($env)"
(cd "$work/base" && "$cdk" synth --quiet --app "$python app.py" -c "env=$env" -o "$work/base-out")

echo "== change guard: $base -> working tree"
allow_args=()
for id in ${ALLOW:-}; do allow_args+=(--allow "$id"); done
set +e
"$python" -m govcloud.review changes "$work/base-out" "$new_out" "${allow_args[@]}"
guard=$?
set -e

echo "== cdk diff --template (offline)"
"$python" - "$work/base-out" "$new_out" <<'PY' | while IFS=$'\t' read -r display template; do
import sys
from govcloud.review.assembly import load
new = {s.name for s in load(sys.argv[2]).stacks}
for s in load(sys.argv[1]).stacks:
    if s.name in new:
        print(f"{s.stage}/{s.template_path.name.split('.')[0]}\t{s.template_path}")
PY
  stack_id=$("$python" -c "import json,sys; m=json.load(open(sys.argv[1])); print(next(a['displayName'] for a in m['artifacts'].values() if a.get('properties',{}).get('templateFile')==sys.argv[2]))" "$(dirname "$template")/manifest.json" "$(basename "$template")")
  "$cdk" diff --exclusively --app "$new_out" --template "$template" "$stack_id" || true
done
exit $guard
