#!/bin/sh
# Installs the decoders the interop tests compare against: tshark 4.0 (Wireshark's ieee1609dot2
# dissector) and Bouncy Castle 1.72 (ITS OER classes), from Debian 12. Idempotent: when everything is
# present it only checks and exits. Measured on Debian 12: about 31 MB downloaded, 139 MB installed,
# about 10 s with a warm apt cache. Needs root (or sudo) and a JDK (javac) already present.
set -eu

missing=""
command -v tshark >/dev/null 2>&1 || missing="$missing tshark"
for jar in bcprov bcutil bcpkix; do
    [ -e "/usr/share/java/$jar.jar" ] || missing="$missing libbcpkix-java"
done
command -v javac >/dev/null 2>&1 || missing="$missing default-jdk-headless"

if [ -z "$missing" ]; then
    echo "interop tools present: $(tshark -v 2>/dev/null | head -n 1); $(ls /usr/share/java/bcprov-*.jar 2>/dev/null)"
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# tshark asks whether non-root users may capture; answer "no" so the install never prompts.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086 # $missing is a list of package names
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo $missing | tr ' ' '\n' | sort -u)
