# Installs the Debian packages chatd needs to build and test, when they are missing. Sourced by scripts/start,
# scripts/test and scripts/bench.
chatd_install_deps() {
    # libvips-dev builds the image pipeline, libzstd-dev and zlib1g-dev the WAL archive's compression; libvips-tools,
    # ffmpeg and libheif-examples make the tests' real images and videos (ffmpeg is also what gives videos their metadata and
    # poster at run time).
    local wanted=(libsqlite3-dev libzstd-dev zlib1g-dev pkg-config sqlite3 curl openssl ca-certificates libvips-dev libvips-tools ffmpeg
        libheif-examples)
    chatd_install_packages "${wanted[@]}"
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            echo "chatd: Swift 6 is required (https://www.swift.org/install/linux/); 'swift' is not on PATH" >&2
            return 1
        fi
    fi
}

# Installs the named Debian packages that are missing (apt-get, as root or through sudo).
chatd_install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "chatd: installing Debian packages: ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}
