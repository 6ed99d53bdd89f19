#!/usr/bin/env bash
# Runs the README's quick start on a truly clean Debian 12 root, to catch install steps that
# only work because an earlier install left something behind (CI's machine hides those).
#
#   scripts/fresh_machine_check.sh [options]
#
#   --ref REV        commit to check (default HEAD); a clean clone of it is used, never
#                    the working tree
#   --rows N         rows for the first command's `aiok run --rows N` (default 200000)
#   --root DIR       where the clean root goes (default /var/tmp/aiok-fresh/root); a root
#                    left there by an earlier run is wiped first
#   --logs DIR       where the step logs go (default /var/tmp/aiok-fresh/logs/<time>)
#   --keep           keep the root afterwards for inspection (chroot DIR /bin/bash)
#   --skip-tests     run only the first quick-start command, not scripts/test.sh
#   --refresh-base   debootstrap anew instead of using the cached base tarball
#   -h, --help       print this help
#
# Steps: a pristine minbase bookworm root (debootstrap, cached as a tarball in
# /var/cache/aiok-fresh/ and unpacked afresh each run), a clean clone in /root/aiok, then the
# two commands of the README's Quick start block, read from the clone's README and run as
# root in the chroot: the first with `--rows N` appended. Each step's output goes to a log
# outside the root; the run ends with PASS/FAIL and the time of each step, and exits 1 if
# any failed. Runs as root; takes about half an hour on 2 cores (mostly packages and the
# build; longer while other builds run, as they keep the CPU first).

# shellcheck disable=SC2317  # the functions run through trap and run_step
set -euo pipefail

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }
die() { echo "fresh_machine_check: $*" >&2; exit 2; }

# --- Options ----------------------------------------------------------------------------
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work_base=/var/tmp/aiok-fresh
cache_dir=/var/cache/aiok-fresh
ref=HEAD rows=200000 root=$work_base/root logs="" keep=0 skip_tests=0 refresh_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ref) [ $# -ge 2 ] || die "--ref needs a value"; ref=$2; shift ;;
    --rows) [ $# -ge 2 ] || die "--rows needs a value"; rows=$2; shift ;;
    --root) [ $# -ge 2 ] || die "--root needs a value"; root=$2; shift ;;
    --logs) [ $# -ge 2 ] || die "--logs needs a value"; logs=$2; shift ;;
    --keep) keep=1 ;;
    --skip-tests) skip_tests=1 ;;
    --refresh-base) refresh_base=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || die "--rows wants a positive integer, got '$rows'"
[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap, mount and chroot need it"
root=$(realpath -m "$root")
# The root is wiped with rm -rf: refuse / and top-level directories, and spaces (the mount
# list is parsed by line and field).
[[ "$root" =~ ^/[^/[:space:]]+/[^[:space:]]+$ ]] || die "--root '$root': want /a/b..., no spaces"
logs=$(realpath -m "${logs:-$work_base/logs/$(date +%Y%m%d-%H%M%S)}")
case "$logs/" in "$root"/*) die "--logs must be outside the root" ;; esac

rev=$(git -C "$repo_root" rev-parse --verify --quiet "$ref^{commit}") \
  || die "--ref '$ref' is not a commit of $repo_root"

# --- Cleanup: runs on every exit, including failure, Ctrl-C and kill ---------------------
# Both are set here, in the main shell, because the steps run in subshells.
tmp_base=""   # the debootstrap directory while it is made, removed on exit
root_made=0   # set once this run starts making the root, so that only then is it removed

# Processes whose root is the chroot: only ones this script started (a test server, say,
# would otherwise keep /proc busy).
root_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
  return 0
}
kill_root_processes() {
  local pids
  pids=$(root_pids "$1"); [ -z "$pids" ] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true; sleep 2
  pids=$(root_pids "$1")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
# Unmounts everything mounted under DIR, deepest first (ours, and debootstrap's own /proc
# and /sys if it was interrupted).
unmount_under() {
  local dir=$1 m
  findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0 "/", d) == 1' | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
# rm -rf only a directory with nothing mounted under it: the root has devtmpfs mounted in
# it while it runs, and deleting through that would delete the host's device nodes.
remove_dir() {
  local dir=$1
  [ -e "$dir" ] || return 0
  unmount_under "$dir"
  if findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0 "/", d) == 1' | grep -q .; then
    echo "fresh_machine_check: something is still mounted under $dir; not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -d "$root" ]; then kill_root_processes "$root"; unmount_under "$root"; fi
  if [ -n "$tmp_base" ] && [ -d "$tmp_base" ]; then
    kill_root_processes "$tmp_base"; remove_dir "$tmp_base" || true
  fi
  if [ "$root_made" -eq 1 ]; then
    if [ "$keep" -eq 1 ]; then
      echo "root kept: $root  (enter: chroot $root /bin/bash; mount proc first if needed)"
    else
      remove_dir "$root" || true
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh_machine_check: interrupted" >&2; exit 130' INT
trap 'echo "fresh_machine_check: terminated" >&2; exit 143' TERM

# --- Steps and their summary ------------------------------------------------------------
step_names=() step_results=() step_times=() step_logs=()
fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# run_step NAME LOG CMD...: runs CMD with its output shown and copied to LOG, and sets
# step_rc. It runs in the background and is waited for, so that a TERM reaches the trap at
# once, not after the build. Call it as a plain command, never in `if` or before `||`:
# there bash would ignore set -e inside CMD, and a failing line of make_base would go on.
run_step() {
  local name=$1 log=$2 start=$SECONDS
  shift 2
  echo
  echo "==> $name"
  echo "    log: $log"
  step_rc=0
  ( set -o pipefail; "$@" 2>&1 | tee "$log" ) &
  wait $! || step_rc=$?
  local took=$((SECONDS - start)) result=PASS
  [ "$step_rc" -eq 0 ] || result="FAIL (exit $step_rc)"
  echo "==> $name: $result in $(fmt_time "$took")"
  step_names+=("$name") step_results+=("$result") step_times+=("$took") step_logs+=("$log")
}
summary() {
  local i failed=0
  echo
  echo "=== fresh machine check: $(git -C "$repo_root" log -1 --format='%h %s' "$rev")"
  for i in "${!step_names[@]}"; do
    printf '%-6s %8s  %s\n' "${step_results[$i]%% *}" "$(fmt_time "${step_times[$i]}")" \
      "${step_names[$i]}"
  done
  for i in "${!step_names[@]}"; do
    [ "${step_results[$i]}" = PASS ] && continue
    failed=1
    echo
    echo "--- ${step_names[$i]}: ${step_results[$i]}; last 40 lines of ${step_logs[$i]}:"
    tail -n 40 "${step_logs[$i]}"
  done
  echo
  echo "logs: $logs"
  return "$failed"
}

# --- Where things go -----------------------------------------------------------------------
mkdir -p "$logs" "$cache_dir" "$(dirname "$root")"
ln -sfn "$logs" "$work_base/logs/latest" 2>/dev/null || true
# The root grows to several GB (libtorch, the build, aiok run's data): check before starting.
avail_gb=$(df --output=avail -BG "$(dirname "$root")" | tail -n 1 | tr -dc 0-9)
[ "$avail_gb" -ge 15 ] || die "only ${avail_gb} GB free under $(dirname "$root"); need 15 (use --root)"
echo "checking $(git -C "$repo_root" log -1 --format='%h %s' "$rev")"
[ -z "$(git -C "$repo_root" status --porcelain --untracked-files=no)" ] \
  || echo "note: $repo_root has uncommitted changes; they are not part of this check"

# A root left by an earlier run: wipe it, but only if this script made it (marker file).
if [ -e "$root" ]; then
  if [ -n "$(ls -A "$root")" ] && [ ! -e "$root/.aiok-fresh-root" ]; then
    die "$root exists and was not made by this script; choose another --root"
  fi
  kill_root_processes "$root"
  remove_dir "$root" || exit 1
fi

# --- The Debian mirror, read from this host's apt sources --------------------------------
# Prints "URI SUITE COMPONENTS..." for every enabled `deb` source of bookworm or one of its
# pockets (-updates, -security), from one-line .list files and deb822 .sources files.
host_bookworm_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" {
           i = 2
           if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }   # [options]
           line = $i " " $(i + 1); for (j = i + 2; j <= NF; j++) line = line " " $j
           if ($(i + 1) ~ /^bookworm(-|$)/) print line
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush(  n, m, a, b, U, S) {
           if (types ~ /(^| )deb( |$)/ && enabled != "no") {
             n = split(uris, U, " "); m = split(suites, S, " ")
             for (a = 1; a <= n; a++) for (b = 1; b <= m; b++)
               if (S[b] ~ /^bookworm(-|$)/) print U[a], S[b], comps
           }
           types = uris = suites = comps = ""; enabled = "yes"
         }
         BEGIN { enabled = "yes" }
         /^[ \t]*$/ { flush(); next }
         /^[ \t]*#/ || /^[ \t]/ { next }          # comments, continuation lines
         { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, ""); val = $0
           if (key == "types") types = val; else if (key == "uris") uris = val
           else if (key == "suites") suites = val; else if (key == "components") comps = val
           else if (key == "enabled") enabled = tolower(val) }
         END { flush() }' "$f"
  done
}
sources=$(host_bookworm_sources)
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || die "no 'deb ... bookworm' source in /etc/apt/sources.list{,.d}"
arch=$(dpkg --print-architecture)

# --- Step 1: a pristine minbase root -------------------------------------------------------
# debootstrap takes minutes; its result is cached as a tarball (per mirror and architecture)
# and unpacked afresh every run, so no run sees what an earlier one installed.
base_tar="$cache_dir/bookworm-minbase-$arch-$(printf '%s' "$mirror" | md5sum | cut -c1-8).tar.gz"
make_base() {
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap on this host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -q --no-install-recommends debootstrap; }
  fi
  if [ "$refresh_base" -eq 1 ] || [ ! -s "$base_tar" ]; then
    mkdir "$tmp_base"
    nice -n 19 debootstrap --variant=minbase --arch="$arch" bookworm "$tmp_base" "$mirror"
    # Pack only the untouched result; a half-written tarball never takes the cache's name.
    nice -n 19 tar --numeric-owner -C "$tmp_base" -czf "$base_tar.part" .
    mv "$base_tar.part" "$base_tar"
    remove_dir "$tmp_base"
  else
    echo "using cached base $base_tar ($(date -r "$base_tar" +%F))"
  fi
  mkdir -p "$root"
  touch "$root/.aiok-fresh-root"
  nice -n 19 tar --numeric-owner -C "$root" -xpzf "$base_tar"
}
tmp_base="$cache_dir/debootstrap.$$"
root_made=1
run_step "base root (debootstrap minbase bookworm, mirror $mirror)" "$logs/1-base.log" make_base
if [ "$step_rc" -ne 0 ]; then summary || true; exit 1; fi

# --- What every machine here has that minbase lacks -----------------------------------------
# These stand in for the machine, not the project: apt sources as on the host (with the
# -updates and -security pockets a real install has), DNS, /etc/hosts (written by the
# installer, not a package), this workplace's egress CA certificates (picked up by the
# ca-certificates package when setup.sh installs it; without them npm cannot reach its
# registry) and the environment variables that point tools at them. Nothing of aiok's.
mapfile -t source_lines <<<"$sources"
printf 'deb %s\n' "${source_lines[@]}" > "$root/etc/apt/sources.list"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
  > "$root/etc/hosts"
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
[ ! -f /etc/npmrc ] || cp /etc/npmrc "$root/etc/npmrc"
# Packages must not start daemons inside the chroot: they would outlive the run.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"

root_env=(HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" USER=root LOGNAME=root
          PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
         NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE GIT_SSL_CAINFO \
         REQUESTS_CA_BUNDLE OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  [ -z "${!v:-}" ] || root_env+=("$v=${!v}")
done

# A clean clone of the commit, not the working tree: third_party/duckdb and build/ are
# absent on purpose, the fresh root has to fetch and build them itself.
git clone --quiet --no-hardlinks "$repo_root" "$root/root/aiok"
git -C "$root/root/aiok" -c advice.detachedHead=false checkout --quiet --detach "$rev"

# The kernel filesystems a booted machine has (as arch-chroot mounts them): apt and dpkg
# need /proc; libtorch and Open MPI read the CPU topology from /sys; MPI uses /dev/shm.
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t devtmpfs -o mode=0755,nosuid udev "$root/dev"
mount -t devpts -o mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"

# in_root CMD: runs a shell command in the clone as root in the chroot, with a clean
# environment, at the lowest CPU priority so that others' builds keep theirs.
in_root() {
  nice -n 19 chroot "$root" /usr/bin/env -i "${root_env[@]}" /bin/bash -c "cd /root/aiok && $1"
}

# --- Steps 2 and 3: the README's Quick start, as the clone's README gives it --------------
# The commands are the lines of the first code block under "## Quick start", less comments.
mapfile -t commands < <(awk '/^## Quick start/ { q = 1; next }
                             q && /^## / { exit }
                             q && /^```/ { if (b) exit; b = 1; next }
                             b { sub(/[ \t]*#.*$/, ""); if ($0 != "") print }' \
                              "$root/root/aiok/README.md")
[ "${#commands[@]}" -eq 2 ] \
  || die "README's Quick start block has ${#commands[@]} commands, not 2: update this script"
case "${commands[0]}" in
  *"aiok run") commands[0]+=" --rows $rows" ;;
  *) echo "note: first command does not end in 'aiok run'; running it without --rows" ;;
esac

failed=0
run_step "quick start 1: ${commands[0]}" "$logs/2-quickstart-1.log" in_root "${commands[0]}"
[ "$step_rc" -eq 0 ] || failed=1
if [ "$skip_tests" -eq 0 ]; then
  # Run even if the first failed: it is the README's second command on its own, and its
  # output says whether the tests themselves pass.
  run_step "quick start 2: ${commands[1]}" "$logs/3-quickstart-2.log" in_root "${commands[1]}"
  [ "$step_rc" -eq 0 ] || failed=1
fi

summary || failed=1
exit "$failed"
