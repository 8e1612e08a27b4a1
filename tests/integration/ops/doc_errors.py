#!/usr/bin/python3
# The error codes the documents promise are the ones the API answers (issue 15:
# README left out the 409 codes certificate_revoked and conflict, and
# policies/README said refusals are "error": "policy" while the server sends
# "policy_denied").  docs/openapi.yaml is the reference: api_conformance checks
# every route's answers against it.  Here:
#  1. README's table "Error codes of POST /v1/enroll" names, status by status,
#     exactly the codes docs/openapi.yaml gives POST /v1/enroll;
#  2. every code written as "error": "X" or 4xx/5xx `X` in README.md,
#     policies/README.md and docs/*.md is a code of docs/openapi.yaml.
# usage: doc_errors.py SRC
import re
import sys

import yaml

src = sys.argv[1]
fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL: " + msg)


def read(path):
    with open(f"{src}/{path}", encoding="utf-8") as f:
        return f.read()


doc = yaml.safe_load(read("docs/openapi.yaml"))


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def codes_in(node, out):
    """every value an "error" property may take, anywhere below node"""
    node = resolve(node)
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "error" and isinstance(v, dict):
                v = resolve(v)
                out.update(v.get("enum", []))
                if "const" in v:
                    out.add(v["const"])
            codes_in(v, out)
    elif isinstance(node, list):
        for v in node:
            codes_in(v, out)
    return out


all_codes = codes_in(doc, set())
if len(all_codes) < 10:
    fail(f"docs/openapi.yaml names too few error codes: {sorted(all_codes)}")

# 1. the enroll table
enroll = doc["paths"]["/v1/enroll"]["post"]["responses"]
want = {}
for status, resp in enroll.items():
    if str(status)[0] in "45":
        want[str(status)] = codes_in(resp, set())
readme = read("README.md")
m = re.search(r"^Error codes of `POST /v1/enroll`:\n\n(.*?)\n\n", readme, re.S | re.M)
if not m:
    fail("README.md has no table 'Error codes of `POST /v1/enroll`'")
else:
    got = {}
    for row in m.group(1).splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        status, codes = cells[0], cells[1]
        codes = re.sub(r"\(\+[^)]*\)", "", codes)   # "(+ `rule`, `Retry-After`)"
        got.setdefault(status, set()).update(re.findall(r"`([a-z_]+)`", codes))
    for status in sorted(set(want) | set(got)):
        w, g = want.get(status, set()), got.get(status, set())
        if w - g:
            fail(f"README's enroll table, {status}: missing {sorted(w - g)} (docs/openapi.yaml has them)")
        if g - w:
            fail(f"README's enroll table, {status}: {sorted(g - w)} are not answers of POST /v1/enroll "
                 "in docs/openapi.yaml")

# 2. codes named in prose
texts = ["README.md", "policies/README.md"]
import glob
import os
texts += [os.path.relpath(p, src) for p in sorted(glob.glob(f"{src}/docs/*.md"))]
pattern = re.compile(r'"error":\s*"([a-z_]+)"|\b[45]\d\d `([a-z_]+)`')
for path in texts:
    for n, line in enumerate(read(path).splitlines(), 1):
        for m in pattern.finditer(line):
            code = m.group(1) or m.group(2)
            if code not in all_codes:
                fail(f"{path}:{n}: error code '{code}' is not one docs/openapi.yaml (and so the "
                     f"server) answers: {line.strip()[:120]}")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print(f"doc_errors: README's enroll table and every documented error code agree with "
      f"docs/openapi.yaml ({len(all_codes)} codes)")
