#!/usr/bin/env sh
# Adds what Natter needs to the Android manifest that `tauri android init` generates
# (src-tauri/gen/android/app/src/main/AndroidManifest.xml): the microphone (voice notes, and
# the sound of camera videos), the camera, and the hardware they imply marked optional so that
# Google Play still offers the app to devices without a camera. Idempotent: run it after every
# `tauri android init`; lines already there are left alone. Photos and videos are picked with
# the system picker, which grants access to each chosen file, so no READ_MEDIA_* or storage
# permission is asked for. See docs/mobile.md.
#
#   scripts/android-permissions.sh [--check] [MANIFEST]
#
# --check changes nothing and exits 1 when something is missing.
set -eu

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
manifest=${1:-"$root/src-tauri/gen/android/app/src/main/AndroidManifest.xml"}

if [ ! -f "$manifest" ]; then
  echo "error: no manifest at $manifest: run \`tauri android init\` first (see docs/mobile.md)" >&2
  exit 2
fi
if ! grep -q '<application' "$manifest"; then
  echo "error: $manifest has no <application> element: is it an Android manifest?" >&2
  exit 2
fi

# One element a line: the name it is found by, then the whole element.
wanted='android.permission.INTERNET|<uses-permission android:name="android.permission.INTERNET" />
android.permission.RECORD_AUDIO|<uses-permission android:name="android.permission.RECORD_AUDIO" />
android.permission.MODIFY_AUDIO_SETTINGS|<uses-permission android:name="android.permission.MODIFY_AUDIO_SETTINGS" />
android.permission.CAMERA|<uses-permission android:name="android.permission.CAMERA" />
android.hardware.microphone|<uses-feature android:name="android.hardware.microphone" android:required="false" />
android.hardware.camera|<uses-feature android:name="android.hardware.camera" android:required="false" />
android.hardware.camera.autofocus|<uses-feature android:name="android.hardware.camera.autofocus" android:required="false" />'

missing=$(printf '%s\n' "$wanted" | while IFS='|' read -r name element; do
  grep -q "android:name=\"$name\"" "$manifest" || printf '%s\n' "$element"
done)

if [ -z "$missing" ]; then
  echo "$manifest: nothing to add"
  exit 0
fi
if [ "$check" -eq 1 ]; then
  echo "$manifest lacks:" >&2
  printf '%s\n' "$missing" | sed 's/^/  /' >&2
  exit 1
fi

# Insert before the first <application, with its indentation; awk and a rename work the same
# with the BSD tools of macOS and the GNU ones of Linux.
tmp="$manifest.tmp.$$"
MISSING=$missing awk '
  !done && /<application/ {
    indent = $0; sub(/<.*/, "", indent)
    n = split(ENVIRON["MISSING"], lines, "\n")
    for (i = 1; i <= n; i++) if (lines[i] != "") print indent lines[i]
    done = 1
  }
  { print }
' "$manifest" >"$tmp"
mv "$tmp" "$manifest"
printf '%s\n' "$missing" | sed "s|^|added to $manifest: |"
