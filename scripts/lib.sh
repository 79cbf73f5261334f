#!/usr/bin/env bash
# Helpers sourced by scripts/test and scripts/tour; running this file does nothing.

# Installs Debian packages with apt-get, through sudo when not root.
apt_install() {
    local sudo=()
    if [ "$EUID" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: installing $* needs root or sudo; install it yourself." >&2
            return 1
        fi
        sudo=(sudo)
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: apt-get is not available; install $* yourself." >&2
        return 1
    fi
    echo "installing $* with apt-get" >&2
    if ! "${sudo[@]}" apt-get update ||
        ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; then
        echo "error: could not install $* with apt-get." >&2
        return 1
    fi
}

# Installs memcached unless it is already on PATH.
ensure_memcached() {
    if command -v memcached >/dev/null 2>&1; then
        return 0
    fi
    apt_install memcached || {
        echo "To use a running server instead, set MEMCACHED_ADDR=host:port." >&2
        return 1
    }
    if ! command -v memcached >/dev/null 2>&1; then
        echo "error: memcached was installed but is still not on PATH." >&2
        return 1
    fi
}

# Installs nutcracker (twemproxy), which the proxy tests put in front of memcached, unless it
# is already installed. Debian puts it in /usr/sbin, which is not on every user's PATH; the
# tests look there too.
ensure_nutcracker() {
    if command -v nutcracker >/dev/null 2>&1 || [ -x /usr/sbin/nutcracker ]; then
        return 0
    fi
    apt_install nutcracker || return 1
    if ! command -v nutcracker >/dev/null 2>&1 && [ ! -x /usr/sbin/nutcracker ]; then
        echo "error: nutcracker was installed but is neither on PATH nor in /usr/sbin." >&2
        return 1
    fi
}

# Installs a Rust toolchain with rustup (and the C linker it needs) unless cargo is on PATH.
ensure_rust() {
    if command -v cargo >/dev/null 2>&1; then
        return 0
    fi
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
        return 0
    fi
    if ! command -v curl >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
        apt_install curl ca-certificates gcc libc6-dev
    fi
    echo "cargo not found; installing Rust with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile default
    export PATH="$HOME/.cargo/bin:$PATH"
}

# Starts a private memcached on a free loopback port, exports MEMCACHED_ADDR,
# and stops it when the calling script exits (this replaces any EXIT trap).
start_private_memcached() {
    MEMCACHED_TMP=$(mktemp -d)
    trap stop_private_memcached EXIT
    local args=(-p -1 -U 0 -l 127.0.0.1)
    # memcached refuses to run as root without being told which user to be.
    if [ "$EUID" -eq 0 ]; then
        args+=(-u root)
    fi
    # With -p -1 the kernel picks the port; memcached writes it to this file once bound.
    MEMCACHED_PORT_FILENAME="$MEMCACHED_TMP/port" memcached "${args[@]}" 2>"$MEMCACHED_TMP/stderr" &
    MEMCACHED_PID=$!

    local port="" i
    for ((i = 0; i < 50; i++)); do
        if [ -f "$MEMCACHED_TMP/port" ]; then
            port=$(sed -n 's/^TCP INET: //p' "$MEMCACHED_TMP/port")
            [ -n "$port" ] && break
        fi
        if ! kill -0 "$MEMCACHED_PID" 2>/dev/null; then
            echo "error: memcached exited at start:" >&2
            cat "$MEMCACHED_TMP/stderr" >&2
            return 1
        fi
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "error: memcached did not report its port within 5 s:" >&2
        cat "$MEMCACHED_TMP/stderr" >&2
        return 1
    fi
    export MEMCACHED_ADDR="127.0.0.1:$port"
    echo "started memcached (pid $MEMCACHED_PID) at $MEMCACHED_ADDR" >&2
}

stop_private_memcached() {
    if [ -n "${MEMCACHED_PID:-}" ]; then
        kill "$MEMCACHED_PID" 2>/dev/null || true
        wait "$MEMCACHED_PID" 2>/dev/null || true
        MEMCACHED_PID=""
    fi
    if [ -n "${MEMCACHED_TMP:-}" ]; then
        rm -rf "$MEMCACHED_TMP"
        MEMCACHED_TMP=""
    fi
}
