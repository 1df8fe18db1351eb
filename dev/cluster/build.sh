#!/usr/bin/env bash
# Builds the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd,
# kwok) at the versions pinned in versions.env, from the Go module proxy alone, into
#   ${PETREL_CACHE:-$HOME/.cache/petrel}/control-plane/<component>-<version>/bin
# No source of those projects enters this repository: each is built from a small go.mod generated
# in a temporary directory. A component already built is reused. Prints the cache paths.
#
# Usage: build.sh [etcd|kwok|kubernetes]... (default: all three)
# Environment: PETREL_CACHE (cache root), PETREL_GO_PARALLEL (go build -p, default 2; the build
# runs under `nice -n 19` so it yields to other work on the machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${PETREL_CACHE:-$HOME/.cache/petrel}/control-plane"
parallel="${PETREL_GO_PARALLEL:-2}"

fail() {
  echo "cluster:build: $*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || fail "the go command is not installed. Install Go 1.26 or newer (Debian: apt-get install golang-go, or the toolchain this machine ships), then run: npm run cluster:build"
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[ "${go_minor:-0}" -ge 26 ] || fail "Go $(go env GOVERSION) is too old: Kubernetes ${KUBERNETES_VERSION} and KWOK ${KWOK_VERSION} need Go 1.26 or newer."

gobuild() {
  nice -n 19 env GOFLAGS="-p=${parallel} -mod=mod" CGO_ENABLED=0 go "$@"
}

# build_component NAME VERSION DIR-SETUP-FUNCTION BUILD-FUNCTION EXPECTED-BINARIES...
build_component() {
  local name="$1" version="$2" setup="$3" build="$4"
  shift 4
  local dest="$cache_root/$name-$version"
  local missing=0 bin
  for bin in "$@"; do [ -x "$dest/bin/$bin" ] || missing=1; done
  if [ "$missing" = 0 ]; then
    echo "cluster:build: $name $version already built in $dest/bin"
    return 0
  fi
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/petrel-build-$name.XXXXXX")"
  # Removed on return, and on exit too (a failed step or a Ctrl-C ends the script at once).
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN EXIT
  echo "cluster:build: building $name $version (this takes minutes on a cold machine)..."
  local start=$SECONDS
  mkdir -p "$work/bin"
  if ! (cd "$work" && "$setup" "$version" && "$build" "$version" "$work/bin") >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    mkdir -p "$cache_root"
    cp "$work/build.log" "$cache_root/$name-$version.build.log"
    fail "building $name $version failed; full log in $cache_root/$name-$version.build.log. Check that the Go module proxy is reachable (go env GOPROXY) and that the version in dev/cluster/versions.env is served (go list -m -versions <module>), then run: npm run cluster:build"
  fi
  for bin in "$@"; do [ -x "$work/bin/$bin" ] || fail "building $name $version produced no $bin"; done
  mkdir -p "$cache_root"
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  mv "$work/bin" "$dest.partial/bin"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  echo "cluster:build: $name $version built in $((SECONDS - start)) s into $dest/bin"
}

# --- Kubernetes: the staging modules are replaced by their published versions (v0.X.Y for v1.X.Y),
# exactly the list in k8s.io/kubernetes's own go.mod replace block.
setup_kubernetes() {
  local version="$1" staging="v0.${1#v1.}"
  go mod init petrel.local/control-plane-build >/dev/null 2>&1
  gobuild mod download -json "k8s.io/kubernetes@$version" >download.json
  local k8s_gomod
  k8s_gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' download.json | head -n 1)"
  [ -f "$k8s_gomod" ] || { echo "no go.mod for k8s.io/kubernetes@$version"; return 1; }
  {
    echo "require k8s.io/kubernetes $version"
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$k8s_gomod" |
      sed -n -E 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+) => \./staging/.*#\t\1 => \1 '"$staging"'#p'
    echo ")"
  } >>go.mod
  grep -q '=> k8s.io/api ' go.mod || { echo "found no staging replace lines in $k8s_gomod"; return 1; }
  gobuild get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$version" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$version" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$version"
}
build_kubernetes() {
  local version="$1" out="$2" minor
  minor="$(echo "$version" | cut -d. -f2)"
  local pkg=k8s.io/component-base/version
  gobuild build -trimpath -o "$out/" \
    -ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
}

# --- etcd: the server module's own replace lines point into its repository, so it is required
# as a plain dependency of a generated module instead of `go install`ed.
setup_etcd() {
  go mod init petrel.local/control-plane-build >/dev/null 2>&1
  gobuild get -tool "go.etcd.io/etcd/server/v3@$1"
}
build_etcd() {
  gobuild build -trimpath -ldflags "-s -w" -o "$2/etcd" go.etcd.io/etcd/server/v3
}

setup_kwok() {
  go mod init petrel.local/control-plane-build >/dev/null 2>&1
  gobuild get -tool "sigs.k8s.io/kwok/cmd/kwok@$1"
}
build_kwok() {
  gobuild build -trimpath -ldflags "-s -w" -o "$2/kwok" sigs.k8s.io/kwok/cmd/kwok
}

main() {
  local total_start=$SECONDS component components=("$@")
  [ ${#components[@]} -gt 0 ] || components=(etcd kwok kubernetes)
  for component in "${components[@]}"; do
    case "$component" in
    etcd) build_component etcd "$ETCD_VERSION" setup_etcd build_etcd etcd ;;
    kwok) build_component kwok "$KWOK_VERSION" setup_kwok build_kwok kwok ;;
    kubernetes)
      build_component kubernetes "$KUBERNETES_VERSION" setup_kubernetes build_kubernetes \
        kube-apiserver kube-controller-manager kube-scheduler
      ;;
    *) fail "unknown component '$component' (choose from: etcd kwok kubernetes)" ;;
    esac
  done
  echo "cluster:build: control plane ready in $((SECONDS - total_start)) s under $cache_root"
}

# The whole script is read before anything runs, so editing it during a long build is safe.
main "$@"
exit
