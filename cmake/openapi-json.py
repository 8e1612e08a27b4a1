#!/usr/bin/python3
"""openapi-json.py IN.yaml OUT.c

Build step: reads docs/openapi.yaml, checks that it is an OpenAPI 3.1
document whose every $ref resolves and whose every operation has an
operationId and responses, and writes OUT.c defining

    const char nrfca_openapi_json[];      /* the document as compact JSON */
    const unsigned long nrfca_openapi_json_len;

which nrfca-server serves at GET /v1/openapi.json.  Exit 1 with the reason
when the document is broken (the build stops there).
"""
import json
import os
import sys

try:
    import yaml
except ImportError:
    sys.exit("openapi-json.py: needs python3-yaml (apt-get install python3-yaml)")

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check(doc):
    problems = []
    if not str(doc.get("openapi", "")).startswith("3.1."):
        problems.append("openapi must be 3.1.x")
    for key in ("info", "paths", "components"):
        if key not in doc:
            problems.append(f"no {key}")
    ids = set()
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            if not op.get("operationId"):
                problems.append(f"{where}: no operationId")
            elif op["operationId"] in ids:
                problems.append(f"{where}: operationId {op['operationId']} used twice")
            ids.add(op.get("operationId"))
            if not op.get("responses"):
                problems.append(f"{where}: no responses")
    found = []
    refs(doc, found)
    for r in sorted(set(found)):
        if resolve(doc, r) is None:
            problems.append(f"$ref {r} does not resolve")
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[0])
    src, out = sys.argv[1:]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    problems = check(doc)
    if problems:
        for p in problems:
            print(f"{src}: {p}", file=sys.stderr)
        sys.exit(1)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True, sort_keys=False)
    lines = ["/* Generated from docs/openapi.yaml by cmake/openapi-json.py: do not edit. */",
             "const char nrfca_openapi_json[] ="]
    for i in range(0, len(text), 100):
        chunk = text[i:i + 100].replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'\t"{chunk}"')
    lines[-1] += ";"
    lines.append(f"const unsigned long nrfca_openapi_json_len = {len(text)};")
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
