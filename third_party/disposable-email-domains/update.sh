#!/usr/bin/env bash
# Refreshes domains.txt from the `disposable-email-domains` package on PyPI (MIT; the list the
# project publishes at github.com/disposable-email-domains/disposable-email-domains).
# Usage: bash third_party/disposable-email-domains/update.sh [VERSION]; then rebuild Testvault.
set -euo pipefail
cd "$(dirname "$0")"
spec="disposable-email-domains${1:+==$1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$spec"
python3 - "$tmp"/*.whl <<'PY'
import ast, sys, zipfile
whl = zipfile.ZipFile(sys.argv[1])
source = whl.read("disposable_email_domains/__init__.py").decode()
tree = ast.parse(source)
domains = set()
for node in tree.body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "blocklist" for t in node.targets):
        domains = {d.strip().lower() for d in ast.literal_eval(node.value) if d.strip()}
if len(domains) < 1000:
    sys.exit("the package did not hold the expected list")
version = sys.argv[1].rsplit("/", 1)[-1].split("-")[1]
with open("domains.txt", "w") as out:
    out.write(f"# disposable-email-domains {version} (MIT, see LICENSE.txt); one domain per line\n")
    out.writelines(f"{d}\n" for d in sorted(domains))
lic = [n for n in whl.namelist() if n.endswith("LICENSE.txt")]
if lic:
    open("LICENSE.txt", "wb").write(whl.read(lic[0]))
print(f"{len(domains)} domains from version {version}")
PY
