#!/usr/bin/env bash
# The Debian package, the manuals and the shell completion: cpack builds the
# package, lintian finds no error, dpkg installs it into a fresh root, and
# what it installed runs; every option of --help is in its manual page, which
# renders without a warning; completion offers options, policies and the
# program's own completion.  Usage: package.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
. "$src/tests/check.sh"
version=$(sed -n 's/^project(libprotect VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")

echo "# the package"
rm -f "$build"/libprotect_*.deb
run sh -c "cd '$build' && cpack -G DEB"
deb=$build/libprotect_${version}_amd64.deb
if [ -f "$deb" ]; then ok "cpack -G DEB builds libprotect_${version}_amd64.deb"; else bad "cpack builds the package" "$(cat "$tmp/out" "$tmp/err")"; fi
has "dependencies computed from the binaries" <(dpkg -I "$deb") "Depends: .*libcapstone.*libseccomp"
if command -v lintian >/dev/null; then
    run lintian "$deb"
    if grep -q "^E:" "$tmp/out" "$tmp/err"; then bad "lintian: no error" "$(grep "^E:" "$tmp/out" "$tmp/err")"; else ok "lintian: no error"; fi
fi
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
run dpkg --root="$root" --force-depends --force-not-root -i "$deb"
is "dpkg -i into a fresh root" "$status" 0
pw=$root/usr/bin/protect-wrap
run "$pw" --version
has "--version is the package's" "$tmp/out" "^protect-wrap $version$"
expect "installed: protect-wrap --check libz.so.1" 0 "$pw" --check libz.so.1
has "... reports it" "$tmp/out" "gateable"
dry=(); "$build/tests/pku_probe" >/dev/null 2>&1 || dry=(--dry-run)
run "$pw" "${dry[@]}" -p "$root/usr/share/libprotect/policy/sqlite3.policy" -- sqlite3 :memory: "select 40 + 2;"
is "installed: a protected sqlite3 (its shim found beside it, the shipped policy)" "$status" 0
has "... answers" "$tmp/out" "^42$"
run "$root/usr/bin/protect-top" --help
is "installed: protect-top" "$status" 0

echo "# the manuals"
for page in protect-wrap.1 protect-top.1 libprotect.policy.5; do
    run groff -ww -man -Tutf8 -z "$src/man/$page"
    if [ -s "$tmp/err" ]; then bad "$page renders without a warning" "$(cat "$tmp/err")"; else ok "$page renders without a warning"; fi
    run man -l "$root/usr/share/man/man${page##*.}/$page.gz"
    is "$page, installed: man -l shows it" "$status" 0
done
for tool in protect-wrap protect-top; do
    missing=
    for option in $("$build/bin/$tool" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        zcat "$root/usr/share/man/man1/$tool.1.gz" | sed 's/\\-/-/g' | grep -q -- "$option" || missing="$missing $option"
    done
    if [ -z "$missing" ]; then ok "$tool(1) has every option of --help"; else bad "$tool(1) lacks:$missing"; fi
done

echo "# completion"
comp=$root/usr/share/bash-completion/completions/protect-wrap
complete_words() { # the words offered for the command line "$@" (the last word being completed)
    bash -c '. /usr/share/bash-completion/bash_completion; . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _protect_wrap 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
if [ -f /usr/share/bash-completion/bash_completion ]; then
    complete_words protect-wrap --dr >"$tmp/c1"
    has "options" "$tmp/c1" "^--dry-run$"
    (cd "$src/policy" && complete_words protect-wrap -p sq) >"$tmp/c2"
    has "policy files after -p" "$tmp/c2" "^sqlite3.policy$"
    complete_words protect-wrap --check libz >"$tmp/c3"
    has "library names for --check" "$tmp/c3" "^libz\\.so\\.1"
    complete_words protect-wrap -p x.policy -- ls --al >"$tmp/c4"
    has "after --, the program's own completion" "$tmp/c4" "^--all"
fi
finish package
