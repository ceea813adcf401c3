#!/usr/bin/env bash
# recipe-hash.sh RECIPE_DIR: the recipeSha256 of a recipe, as src/images/recipe-hash.ts computes it.
# For every regular file of the folder, sorted by relative path in byte order, the line
# "<sha256>  <path>" (sha256sum's format); then, for each folder named in RECIPE_DIR/uses (one
# relative path per line, # comments), the same lines for its files with "<folder>/" before each path;
# the sha256 of all those lines. A recipe without a uses file hashes its own folder only.
set -euo pipefail
export LC_ALL=C
dir=$1
lines() { (cd "$1" && find . -type f -printf '%P\0' | sort -z | xargs -0 -r sha256sum --); }
{
  lines "$dir"
  if [[ -f $dir/uses ]]; then
    while IFS= read -r used || [[ -n $used ]]; do
      [[ -z $used || $used == \#* ]] && continue
      [[ -d $dir/$used ]] || { echo "recipe-hash.sh: $dir/uses names $used, which is not a folder" >&2; exit 1; }
      lines "$dir/$used" | sed "s|  |  $used/|"
    done <"$dir/uses"
  fi
} | sha256sum | cut -d' ' -f1
