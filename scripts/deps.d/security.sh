# Security testing tools: clang with libFuzzer and the sanitizer runtimes
# (scripts/fuzz), openssl (certificates some tests make). Sourced by
# scripts/install-deps (bash, set -euo pipefail, cwd = repository root).
ngsi_security_missing=()
for pkg in clang libclang-rt-14-dev openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || ngsi_security_missing+=("$pkg")
done
if ((${#ngsi_security_missing[@]})); then
  echo "install-deps: apt-get install ${ngsi_security_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${ngsi_security_missing[@]}" >/dev/null
fi
# tests/e2e/security_support.py makes certificates and JWTs with it.
python3 -c "import cryptography" 2>/dev/null || \
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore cryptography
