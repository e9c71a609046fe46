#!/usr/bin/env bash
# make diff BASE=<git ref> [REVIEW_LANG=ja|en] [ALLOW="STACK/ID ..."]
# For every environment in config/: synthesizes BASE in a separate git worktree and the working tree, offline, and
# writes the pull-request review (python -m govcloud.review pr) in English and Japanese to review-pr/. Prints the
# review in REVIEW_LANG. Exits 1 when the change guard fails in any environment (a stateful resource replaced or
# removed without --allow), 2 when a synth or the review fails.
set -euo pipefail
base=${1:?usage: scripts/diff.sh BASE_REF [REVIEW_LANG]}
lang=${2:-${REVIEW_LANG:-ja}}
root=$(git rev-parse --show-toplevel)
cdk="$root/node_modules/.bin/cdk"
python="$root/.venv/bin/python"
out="$root/review-pr"
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$root" worktree add --detach "$work/base" "$base" >/dev/null
rm -rf "$out" && mkdir -p "$out"
allow_args=()
for id in ${ALLOW:-}; do allow_args+=(--allow "$id"); done
failed=0
for config in "$root"/config/*.toml; do
  env=$(basename "$config" .toml)
  echo "== $env: synth of $base and of the working tree" >&2
  if [ -f "$work/base/config/$env.toml" ]; then
    (cd "$work/base" && "$cdk" synth --quiet --app "$python app.py" -c "env=$env" -o "$work/base-$env") >&2
  else
    mkdir -p "$work/base-$env" && echo '{"version": "55.0.0", "artifacts": {}}' > "$work/base-$env/manifest.json"
  fi
  (cd "$root" && "$cdk" synth --quiet -c "env=$env" -o "cdk.out.$env") >&2
  for l in en ja; do
    set +e
    "$python" -m govcloud.review pr "$work/base-$env" "$root/cdk.out.$env" --lang "$l" --out "$out/$env.$l.md" \
      "${allow_args[@]}"
    status=$?
    set -e
    if [ "$status" -eq 2 ]; then exit 2; fi
    if [ "$status" -eq 1 ] && [ "$l" = en ]; then failed=1; fi
  done
done
for l in en ja; do cat "$out"/*."$l".md > "$out/review-pr.$l.md"; done
cat "$out/review-pr.$lang.md"
exit $failed
