# The pinned Deno and where scripts/deno installs it. Sourced by scripts/deno and
# scripts/k8shost (which thereby finds Deno without starting another shell per call).
# shellcheck shell=bash
DENO_VERSION="2.9.6"
prefix="${K8SHOST_DENO_PREFIX:-${HOME:-/root}/.local/share/k8shost/deno}"
case "$(uname -m)" in
  x86_64) platform="linux-x64-glibc" ;;
  aarch64 | arm64) platform="linux-arm64-glibc" ;;
  *) echo "scripts/deno: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
dest="$prefix/$DENO_VERSION"
bin="$dest/node_modules/@deno/$platform/deno"
