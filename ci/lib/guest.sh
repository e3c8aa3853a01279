# Shared by ci/kernel-matrix, ci/vm and ci/patched-kernels: the tools, the guest's initramfs and
# booting a kernel under QEMU with the suite as PID 1's job. Callers set: repo, cache, work, scale,
# boot_timeout, and define say(). Optional: guest_config (a kernel .config to put in the guest as
# /kernel.config, so cases that need a missing option are skipped naming it), guest_args (claims
# or globs to run instead of all), guest_init_args (guest-init's own: --profiles, --privileges),
# guest_module_dirs (directories made by extract_modules), guest_config_dirs (kernel cache
# directories: their `config` goes in the guest as /configs/<their `release`>).

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- Tools ----------------------------------------------------------------------------------------
# A private apt configuration: its own sources, lists and cache under $cache/apt. The system's
# sources are never changed; only packages are installed into the system (QEMU, cpio, xz, zstd).
apt_dir=$cache/apt
private_apt() {
  local name=$1; shift
  mkdir -p "$apt_dir/$name/lists/partial" "$apt_dir/$name/archives/partial"
  printf '%s\n' "$@" > "$apt_dir/$name/sources.list"
}
apt_opts() {
  local name=$1
  printf '%s\n' -o "Dir::Etc::SourceList=$apt_dir/$name/sources.list" -o "Dir::Etc::SourceParts=/nonexistent" \
    -o "Dir::State::Lists=$apt_dir/$name/lists" -o "Dir::Cache::Archives=$apt_dir/$name/archives" \
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false" -o "APT::Sandbox::User=root"
}
debian() { echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/$1 $2 main"; }

install_tools() {
  local need=()
  command -v cpio >/dev/null || need+=(cpio)
  command -v xz >/dev/null || need+=(xz-utils)
  command -v zstd >/dev/null || need+=(zstd)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if ! command -v qemu-system-x86_64 >/dev/null; then
    # bookworm's own qemu-system-x86 (7.2) conflicts with the newer qemu-utils of these machines;
    # bookworm-backports' build installs beside it.
    say "installing qemu-system-x86 from bookworm-backports"
    private_apt qemu "$(debian debian bookworm)" "$(debian debian-security bookworm-security)" \
      "$(debian debian bookworm-backports)"
    mapfile -t opts < <(apt_opts qemu)
    apt-get "${opts[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq --no-install-recommends \
      -t bookworm-backports qemu-system-x86 >/dev/null
  fi
}

# The uncompressed kernel from a bzImage: the setup header gives the compressed payload's offset
# and length; Debian compresses with xz (5.10, 6.1) or zstd (6.12 on). The payload ends with a
# 4-byte size the decompressors call trailing garbage, hence the ignored status and the ELF check.
extract_vmlinux() {
  local bz=$1 out=$2 setup offset length start
  setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' '); [ "$setup" = 0 ] && setup=4
  read -r offset length < <(od -An -tu4 -j $((0x248)) -N8 "$bz")
  start=$(( (setup + 1) * 512 + offset ))
  dd if="$bz" of="$out.payload" iflag=skip_bytes,count_bytes skip="$start" count="$length" bs=1M status=none
  case "$(od -An -tx1 -N4 "$out.payload" | tr -d ' ')" in
    fd377a58) xz -dc < "$out.payload" > "$out" 2>/dev/null || true ;;
    28b52ffd) zstd -dcq < "$out.payload" > "$out" 2>/dev/null || true ;;
    1f8b08*) gzip -dc < "$out.payload" > "$out" 2>/dev/null || true ;;
    *) : > "$out" ;;
  esac
  rm -f "$out.payload"
  [ "$(od -An -c -N4 "$out" | tr -d ' ')" = '177ELF' ] || rm -f "$out"
}

# --- Modules ---------------------------------------------------------------------------------------
# The modules the suite's areas need that Debian builds as modules (ci/guest-modules), with
# everything they depend on, into OUT/<release>/: uncompressed (so any kernel loads them, whatever
# its decompressors) and `load-order` listing them dependencies first. SOURCES are kernel packages
# (.deb) or directories holding modules (a kernel build tree, /lib/modules/<release>, an unpacked
# package). Dependencies come from each module's own .modinfo `depends=` (no kmod needed); the
# release from its `vermagic=`. Nothing found: OUT stays empty (the cases needing a module are
# then skipped, naming it).
extract_modules() {
  local out=${*: -1} tmp release="" name src
  local sources=("${@:1:$#-1}")
  tmp=$out.tmp
  rm -rf "$out" "$tmp" && mkdir -p "$out" "$tmp"
  local roots=()
  for src in "${sources[@]}"; do
    if [ -d "$src" ]; then
      roots+=("$src")
    elif [ -f "$src" ]; then
      mkdir -p "$tmp/$(basename "$src")"
      dpkg-deb --fsys-tarfile "$src" | tar -x -C "$tmp/$(basename "$src")" --wildcards '*/modules/*/kernel/net/*' \
        '*/modules/*/kernel/lib/*' '*/modules/*/kernel/crypto/*' '*/modules/*/kernel/arch/*' 2>/dev/null || true
      roots+=("$tmp/$(basename "$src")")
    fi
  done
  [ ${#roots[@]} -gt 0 ] || { rm -rf "$tmp"; return 0; }
  local order=() seen=" "
  find_module() {
    find "${roots[@]}" \( -name "$1.ko" -o -name "$1.ko.*" -o -name "$(tr _ - <<<"$1").ko*" -o -name "$(tr - _ <<<"$1").ko*" \) \
      -type f 2>/dev/null | head -1
  }
  add_module() {
    local want=$1 file dep
    case "$seen" in *" $want "*) return 0 ;; esac
    seen="$seen$want "
    file=$(find_module "$want")
    [ -n "$file" ] || { say "module $want: not found in ${sources[*]} (built in, or not built)"; return 0; }
    mkdir -p "$tmp/out"
    case "$file" in
      *.xz) xz -dc "$file" > "$tmp/out/$want.ko" ;;
      *.zst) zstd -dcq "$file" > "$tmp/out/$want.ko" ;;
      *.gz) gzip -dc "$file" > "$tmp/out/$want.ko" ;;
      *) cp "$file" "$tmp/out/$want.ko" ;;
    esac
    [ -n "$release" ] || release=$(tr '\0' '\n' < "$tmp/out/$want.ko" | sed -n 's/^vermagic=\([^ ]*\).*/\1/p' | head -1)
    for dep in $(tr '\0' '\n' < "$tmp/out/$want.ko" | sed -n 's/^depends=//p' | tr , ' '); do add_module "$dep"; done
    # A `softdep=pre: crc32c` names what the module asks the crypto API for at init (an alias
    # the guest cannot resolve without modprobe): the generic implementation, when it is a module.
    for dep in $(tr '\0' '\n' < "$tmp/out/$want.ko" | sed -n 's/^softdep=pre: *//p'); do
      if [ -n "$(find_module "${dep}_generic")" ]; then add_module "${dep}_generic"
      elif [ -n "$(find_module "$dep")" ]; then add_module "$dep"; fi
    done
    order+=("$want.ko")
  }
  for name in $(grep -v '^\s*#' "$repo/ci/guest-modules" | awk '{print $1}'); do add_module "$name"; done
  if [ -n "$release" ] && [ ${#order[@]} -gt 0 ]; then
    mkdir -p "$out/$release"
    mv "$tmp"/out/*.ko "$out/$release/"
    printf '%s\n' "${order[@]}" > "$out/$release/load-order"
  fi
  rm -rf "$tmp"
}

# The release (uname -r) of a kernel image: a bzImage's setup header points at its version
# string; a vmlinux holds "Linux version <release>".
image_release() {
  local image=$1 version_at release=""
  if [ "$(dd if="$image" bs=1 skip=$((0x202)) count=4 status=none 2>/dev/null)" = HdrS ]; then
    version_at=$(od -An -tu2 -j $((0x20e)) -N2 "$image" | tr -d ' ')
    release=$(dd if="$image" bs=1 skip=$((version_at + 0x200)) count=128 status=none | tr '\0' '\n' | head -1 | cut -d' ' -f1) || true
  fi
  [ -n "$release" ] || release=$(strings -n 12 "$image" 2>/dev/null | grep -m1 -o 'Linux version [^ ]*' | cut -d' ' -f3) || true
  printf '%s' "$release"
}

# --- The guest's root file system -----------------------------------------------------------------
# Copies a file into $root at the same path, keeping symbolic links as links (so /bin/sh is still
# dash there) and following them to the file they name.
copy_into_root() {
  local path=$1 target
  while [ -L "$path" ]; do
    mkdir -p "$root$(dirname "$path")" && cp -P "$path" "$root$path"
    target=$(readlink "$path")
    case "$target" in /*) path=$target ;; *) path=$(dirname "$path")/$target ;; esac
  done
  mkdir -p "$root$(dirname "$path")" && cp "$path" "$root$path"
}

build_initramfs() {
  say "building the static runner and guest init"
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --quiet --target x86_64-unknown-linux-gnu \
    -p ipc-conform -p guest-init
  local bin=$repo/target/x86_64-unknown-linux-gnu/release
  root=$work/root
  rm -rf "$root" && mkdir -p "$root"/{usr/bin,usr/lib,usr/sbin,etc,root,proc,sys,dev,tmp,run}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"
  [ -d /lib64 ] && mkdir -p "$root/usr/lib64" && ln -s usr/lib64 "$root/lib64"
  install -m755 "$bin/guest-init" "$root/init"
  install -m755 "$bin/ipc-conform" "$root/ipc-conform"
  # The commands cases run (their `needs_commands`), this machine's own builds with their libraries,
  # so the guest's user space is this machine's and only the kernel differs.
  local cmd lib
  for cmd in sh bash cat ls mkfifo grep tr readlink ipcs ipcrm; do
    cmd=$(command -v "$cmd") || continue
    copy_into_root "$(readlink -f "$(dirname "$cmd")")/$(basename "$cmd")"
    for lib in $(ldd "$cmd" 2>/dev/null | grep -o '/[^ ]*'); do copy_into_root "$lib"; done
  done
  if [ -n "${guest_config:-}" ]; then cp "$guest_config" "$root/kernel.config"; fi
  # Per kernel release: its modules (see extract_modules) and its configuration, which guest-init
  # hands to the suite (cases needing an option the kernel lacks are skipped naming it); then the
  # sysctl profiles (ci/profiles/).
  local dir release
  for dir in ${guest_module_dirs:-}; do
    [ -d "$dir" ] && mkdir -p "$root/modules" && cp -r "$dir"/. "$root/modules/"
  done
  for dir in ${guest_config_dirs:-}; do
    release=$(cat "$dir/release" 2>/dev/null || true)
    if [ -n "$release" ] && [ -f "$dir/config" ]; then mkdir -p "$root/configs" && cp "$dir/config" "$root/configs/$release"; fi
  done
  mkdir -p "$root/profiles" && cp "$repo"/ci/profiles/*.conf "$root/profiles/"
  cp fixtures/guest/etc/* "$root/etc/"
  cp fixtures/netdb/networks fixtures/netdb/protocols fixtures/netdb/services "$root/etc/"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) > "$work/initramfs.cpio"
  say "initramfs: $(du -h "$work/initramfs.cpio" | cut -f1)"
}

# --- Booting ---------------------------------------------------------------------------------------
accel=tcg
probe_accel() {
  [ -w /dev/kvm ] || { say "no usable /dev/kvm: TCG"; return; }
  local kernel=$1 log=$work/kvm-probe.log
  # In a subshell that does not exec QEMU (the || true), so its "Aborted" notice for a crashing
  # QEMU goes to the log too.
  (timeout --kill-after=2 20 qemu-system-x86_64 -accel kvm -cpu host -m 512 -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init -- --probe" || true) > "$log" 2>&1
  if grep -q 'guest-init: probe ok' "$log"; then accel=kvm; say "KVM probe boot worked: KVM"
  else say "KVM probe boot failed (see $log): TCG"; fi
}

boot() {
  local label=$1 dir=$work/$1 kernel t0 status
  mkdir -p "$dir" && rm -f "$dir"/{console.log,results.json,wall,status}
  kernel=$(cat "$dir/kernel")
  t0=$(date +%s.%N)
  set -- -m 512 -smp 1 -nographic -no-reboot -nic none -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init -- ${guest_init_args:-} --no-progress --timeout-scale $scale ${guest_args:-}"
  if [ "$accel" = kvm ]; then set -- -accel kvm -cpu host "$@"; else set -- -accel tcg -cpu max "$@"; fi
  status=0
  timeout --kill-after=5 "$boot_timeout" qemu-system-x86_64 "$@" < /dev/null > "$dir/console.log" 2>&1 &
  local qemu=$! stopped=0
  # A kernel that cannot power off halts instead ("System halted"): stop QEMU once the results are
  # out, so such a kernel costs its run time, not the timeout. (Polling a log QEMU writes; nothing
  # of the suite's own synchronisation.)
  while kill -0 "$qemu" 2>/dev/null; do
    if grep -q '===== ipc-conform results end' "$dir/console.log" 2>/dev/null; then
      stopped=1; kill -TERM "$qemu" 2>/dev/null || true; break
    fi
    [ "${progress:-0}" = 1 ] && printf '\r  %s: %s s ' "$label" "$(elapsed "$t0")" >&2
    sleep 0.5
  done
  [ "${progress:-0}" = 1 ] && printf '\n' >&2
  wait "$qemu" || status=$?
  [ "$stopped" = 1 ] && status=0
  elapsed "$t0" > "$dir/wall"
  # Each column's results between its markers, into columns/<profile>,<privilege>.json; the
  # default profile as root is also results.json (what ci/vm gates).
  rm -rf "$dir/columns" && mkdir -p "$dir/columns"
  tr -d '\r' < "$dir/console.log" | awk -v out="$dir/columns" '
    /^===== ipc-conform column [^ ]* begin =====$/ { file = out "/" $4 ".json"; next }
    /^===== ipc-conform column [^ ]* end status=[0-9]* =====$/ { if (file) close(file); file = ""; next }
    file { print > file }'
  for f in "$dir"/columns/*.json; do [ -s "$f" ] || rm -f "$f"; done
  [ -f "$dir/columns/default,root.json" ] && cp "$dir/columns/default,root.json" "$dir/results.json"
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    say "$label: QEMU did not finish within ${boot_timeout}s (console: $dir/console.log)"
  fi
  echo "$status" > "$dir/status"
}

