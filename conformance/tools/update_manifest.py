#!/usr/bin/env python3
"""Rewrites conformance/manifest.json from the case files (run after adding cases).

Every runner checks the corpus against the manifest, so a case added without updating the
manifest (or a file deleted by accident) fails every binding's run.
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
files = {}
for path in sorted((root / "cases").rglob("*.json")):
    doc = json.loads(path.read_text(encoding="utf-8"))
    files[path.relative_to(root).as_posix()] = len(doc["cases"])
manifest = {"total": sum(files.values()), "files": files}
text = json.dumps(manifest, indent=2) + "\n"
target = root / "manifest.json"
if "--check" in sys.argv:
    if target.read_text(encoding="utf-8") != text:
        sys.exit("conformance/manifest.json is out of date: run python3 conformance/tools/update_manifest.py")
    print(f"manifest up to date: {manifest['total']} cases in {len(files)} files")
else:
    target.write_text(text, encoding="utf-8")
    print(f"wrote manifest: {manifest['total']} cases in {len(files)} files")
