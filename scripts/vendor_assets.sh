#!/usr/bin/env bash
# Copy the browser libraries the pages and browser tests use out of the npm registry into
# the repository, so nothing is fetched at run time; records name, version and integrity.
#
#   bash scripts/vendor_assets.sh        # needs npm; re-run after changing a version below
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="$ROOT/service_portal/static/vendor"
TEST_VENDOR="$ROOT/tests/browser/vendor"
# name@version: pinned, so a re-run reproduces the same files.
PACKAGES=(leaflet@1.9.4 leaflet.markercluster@1.5.3 axe-core@4.14.1)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$VENDOR" "$TEST_VENDOR"
{
  echo "# Vendored from the npm registry by scripts/vendor_assets.sh; do not edit by hand."
  echo "# package version integrity"
} > "$WORK/VERSIONS.txt"

for spec in "${PACKAGES[@]}"; do
  (cd "$WORK" && npm pack --silent --json "$spec" > "pack-${spec%@*}.json")
  tarball="$(cd "$WORK" && node -e 'const p=require(process.argv[1])[0];console.log(p.filename)' "$WORK/pack-${spec%@*}.json")"
  version="$(node -e 'console.log(require(process.argv[1])[0].version)' "$WORK/pack-${spec%@*}.json")"
  integrity="$(node -e 'console.log(require(process.argv[1])[0].integrity)' "$WORK/pack-${spec%@*}.json")"
  mkdir -p "$WORK/${spec%@*}"
  tar -xzf "$WORK/$tarball" -C "$WORK/${spec%@*}"
  echo "${spec%@*} $version $integrity" >> "$WORK/VERSIONS.txt"
done

# Leaflet: script, stylesheet, and the marker images the stylesheet points at.
rm -rf "$VENDOR/leaflet" "$VENDOR/leaflet.markercluster"
mkdir -p "$VENDOR/leaflet/images" "$VENDOR/leaflet.markercluster"
cp "$WORK/leaflet/package/dist/leaflet.js" "$WORK/leaflet/package/dist/leaflet.css" \
   "$WORK/leaflet/package/LICENSE" "$VENDOR/leaflet/"
cp "$WORK/leaflet/package/dist/images/"*.png "$VENDOR/leaflet/images/"
cp "$WORK/leaflet.markercluster/package/dist/leaflet.markercluster.js" \
   "$WORK/leaflet.markercluster/package/dist/MarkerCluster.css" \
   "$WORK/leaflet.markercluster/package/dist/MarkerCluster.Default.css" \
   "$WORK/leaflet.markercluster/package/MIT-LICENCE.txt" \
   "$VENDOR/leaflet.markercluster/"
# axe-core runs only inside the browser tests.
cp "$WORK/axe-core/package/axe.min.js" "$TEST_VENDOR/axe.min.js"
cp "$WORK/axe-core/package/LICENSE" "$TEST_VENDOR/axe-core.LICENSE"

find "$VENDOR" "$TEST_VENDOR" -type f -exec chmod 644 {} +
cp "$WORK/VERSIONS.txt" "$VENDOR/VERSIONS.txt"
grep '^axe-core' "$WORK/VERSIONS.txt" | sed '1i # Vendored by scripts/vendor_assets.sh\n# package version integrity' \
  > "$TEST_VENDOR/VERSIONS.txt"
cat "$VENDOR/VERSIONS.txt"
