#!/bin/sh
# Run a command inside a private D-Bus session with an unlocked gnome-keyring (a real Secret Service),
# so the keyring integration test can run headless. The keyring lives in a throwaway folder with a throwaway
# password: nothing of the user's own keyring is touched. Without dbus/gnome-keyring it just runs the command.
if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  PORTAL_TUI_KEYRING_HOME=$(mktemp -d)
  export PORTAL_TUI_KEYRING_HOME
  exec dbus-run-session -- sh -c '
    echo "portal-tui-ci" | XDG_DATA_HOME="$PORTAL_TUI_KEYRING_HOME" \
      gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
    "$@"; status=$?
    rm -rf "$PORTAL_TUI_KEYRING_HOME"
    exit $status' sh "$@"
fi
echo "with-secret-service: dbus-run-session or gnome-keyring-daemon missing; the Secret Service test will skip" >&2
exec "$@"
