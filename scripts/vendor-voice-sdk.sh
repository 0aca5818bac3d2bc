#!/usr/bin/env bash
# Refresh the vendored Twilio Voice JavaScript SDK served from our static files (no CDN).
# Usage: scripts/vendor-voice-sdk.sh [version]   (default: the pinned version below)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${1:-2.18.5}"
DEST=contact_center/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@twilio/voice-sdk@${VERSION}" >/dev/null)
tar -xzf "$work"/twilio-voice-sdk-*.tgz -C "$work"
mkdir -p "$DEST"
cp "$work/package/dist/twilio.min.js" "$DEST/twilio.min.js"
cp "$work/package/LICENSE.md" "$DEST/twilio-voice-sdk.LICENSE.md" 2>/dev/null || true
echo "@twilio/voice-sdk ${VERSION}" > "$DEST/twilio-voice-sdk.VERSION"
sha256sum "$DEST/twilio.min.js"
