#!/usr/bin/env bash
# Rebuilds graphiql/assets from the npm registry, reproducibly: each package in
# pins.txt is fetched at its pinned version with `npm pack`, its tarball's
# sha512 must equal the pinned integrity (computed here with openssl, not taken
# from npm's word), and only the pinned files are extracted. Run through
# `make graphiql-assets`; neither `make test` nor CI runs it, since the assets
# are committed and `go run .` must work offline.
set -euo pipefail
cd "$(dirname "$0")"

for tool in npm openssl tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "update-assets: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/assets"

while read -r pkg version integrity files; do
  case "$pkg" in '' | '#'*) continue ;; esac
  if [[ "$integrity" != sha512-* || -z "$files" ]]; then
    echo "update-assets: pins.txt: $pkg: want 'package version sha512-… file…'" >&2
    exit 1
  fi
  mkdir "$work/$pkg@$version"
  # --ignore-scripts: packing a registry spec runs nothing of the package's.
  tarball=$(cd "$work/$pkg@$version" && npm pack --silent --ignore-scripts "$pkg@$version" | tail -n 1)
  tarball="$work/$pkg@$version/$tarball"
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | openssl base64 -A)"
  if [[ "$got" != "$integrity" ]]; then
    echo "update-assets: $pkg@$version: tarball integrity $got, pinned $integrity: refusing it" >&2
    exit 1
  fi
  # npm tarballs put everything under one top directory, "package/" for
  # nearly all packages.
  # (awk reads the whole listing: head would end tar with SIGPIPE.)
  root=$(tar -tzf "$tarball" | awk -F/ 'NR == 1 { r = $1 } END { print r }')
  dest="$work/assets/$pkg@$version"
  mkdir -p "$dest"
  members=()
  for f in $files; do members+=("$root/$f"); done
  tar -xzf "$tarball" -C "$dest" --strip-components=1 --no-same-owner --no-same-permissions "${members[@]}"
  for f in $files; do
    chmod 0644 "$dest/$f"
    printf '%-10s %-8s %9d  %s\n' "$pkg" "$version" "$(wc -c <"$dest/$f")" "$f"
  done
  echo "$pkg@$version verified: $integrity"
done <pins.txt

rm -rf assets
mv "$work/assets" assets
find assets -type d -exec chmod 0755 {} +
echo "graphiql/assets updated; check graphiql.go's versions match pins.txt, then go test ./graphiql/"
