#!/usr/bin/python3
"""conformance.py URL DIR OPENAPI.yaml HTTP_C

Sends the cases below to a running nrfca-server (URL) with the credentials
and request bodies prepared in DIR by conformance.sh, and checks every answer
against docs/openapi.yaml: the path and method are documented, the status is
one of the operation's responses (or a response every path can give), the
content type is one the response documents, a JSON body validates against
its schema (JSON Schema 2020-12, python3-jsonschema), the documented headers
are there.  Request bodies of successful cases must validate against the
request schema, and those the server refuses as malformed must not.  Then
coverage: every route of ca-server/http.c's table is documented, every
documented operation was called, and every documented status was seen or is
named in NOT_EXERCISED with the reason.  Prints each problem; exit 1 if any.
"""
import json
import os
import re
import sys
import urllib.error
import urllib.request

import yaml
from jsonschema import Draft202012Validator, RefResolver

METHODS = ("get", "post", "put", "delete", "patch")
# statuses any path can answer before routing (components.responses)
ANY_PATH = {"404": "NotFound", "405": "MethodNotAllowed", "413": "TooLarge",
            "414": "UriTooLong", "400": "InvalidRequest"}
# documented answers a test cannot provoke on demand, and why
NOT_EXERCISED = {
    ("/v1/ready", "get", "503"): "needs the token or the database to fail (server_tokenloss does)",
    ("/v1/crl", "get", "503"): "needs the token and the ledger down with no CRL cached",
    ("/v1/enroll", "post", "503"): "token, database or policy unavailable (server_tokenloss)",
    ("/v1/enroll", "post", "409:conflict"): "a concurrent supersede of the same device (a race)",
    ("/v1/certificates", "get", "503"): "database unavailable",
    ("/v1/certificates/{serial}", "get", "503"): "database unavailable",
    ("/v1/certificates/{serial}/revoke", "post", "503"): "database unavailable",
    ("/v1/profiles", "get", "503"): "no policy loaded: the server does not start without one",
    ("/metrics", "get", "404"): "answered to non-loopback clients when there is no admin listener",
}


def load(path, binary=False):
    with open(path, "rb") as f:
        data = f.read()
    return data if binary else data.decode()


class Checker:
    def __init__(self, url, d, doc, http_c):
        self.url, self.dir, self.doc = url, d, doc
        self.problems, self.seen, self.calls = [], set(), set()
        self.resolver = RefResolver.from_schema(doc)
        self.routes = re.findall(r'\[RT_[A-Z_]+\] = \{ "([A-Z]+)", "([^"]+)"', load(http_c))

    def fail(self, msg):
        self.problems.append(msg)

    def schema_ok(self, schema, value):
        v = Draft202012Validator(schema, resolver=self.resolver)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in v.iter_errors(value)]

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def match(self, path):
        for tmpl, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(tmpl)) + "$"
            if re.match(rx, path):
                return tmpl, item
        return None, None

    def request(self, name, method, path, status, token=None, body=None, ctype=None,
                headers=None, schema_invalid=False):
        hdrs = dict(headers or {})
        data = None
        if token:
            hdrs["Authorization"] = "Bearer " + load(os.path.join(self.dir, token + ".token")).strip()
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = ctype or "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method.upper(), headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                got, rh, rb = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            got, rh, rb = e.code, e.headers, e.read()
        where = f"{name} ({method.upper()} {path})"
        if got != status:
            self.fail(f"{where}: HTTP {got}, want {status}: {rb[:200]!r}")
        self.check(where, method, path.split("?")[0], path, got, rh, rb, body, schema_invalid)
        return rb

    def check(self, where, method, route_path, full_path, got, rh, rb, body, schema_invalid):
        tmpl, item = self.match(route_path)
        st = str(got)
        ctype = (rh.get("Content-Type") or "").split(";")[0].strip()
        if tmpl is None or method not in item:
            if st in ANY_PATH:
                resp = self.deref({"$ref": "#/components/responses/" + ANY_PATH[st]})
                self.check_response(where, resp, ctype, rh, rb)
            else:
                self.fail(f"{where}: not in the document and HTTP {st} is not an any-path answer")
            return
        op = item[method]
        self.calls.add((tmpl, method))
        resp = op["responses"].get(st)
        if resp is None and st in ANY_PATH:
            resp = {"$ref": "#/components/responses/" + ANY_PATH[st]}
        if resp is None:
            self.fail(f"{where}: HTTP {st} is not documented for {method.upper()} {tmpl}")
            return
        code = self.check_response(where, self.deref(resp), ctype, rh, rb)
        self.seen.add((tmpl, method, st))
        if code:
            self.seen.add((tmpl, method, f"{st}:{code}"))
        # the query parameters sent are documented and valid
        params = {p["name"]: p for p in (op.get("parameters", []) + item.get("parameters", []))
                  if "name" in p}
        if "?" in full_path and got < 400:
            for kv in full_path.split("?", 1)[1].split("&"):
                k, _, v = kv.partition("=")
                p = params.get(k)
                if p is None or p.get("in") != "query":
                    self.fail(f"{where}: query parameter {k} is not documented")
                elif self.schema_ok(p["schema"], int(v) if p["schema"].get("type") == "integer" and v.isdigit() else v):
                    self.fail(f"{where}: query {k}={v} does not fit its documented schema")
        # the request body against the documented request schema
        rbody = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if rbody is not None and isinstance(body, dict):
            errs = self.schema_ok(rbody, body)
            if got < 400 and errs:
                self.fail(f"{where}: the server accepted a body the document refuses: {errs[0]}")
            if schema_invalid and not errs:
                self.fail(f"{where}: the server refused a body as malformed that the document accepts")

    def check_response(self, where, resp, ctype, rh, rb):
        content = resp.get("content", {})
        for h, spec in resp.get("headers", {}).items():
            if h.lower() == "www-authenticate" or h == "Retry-After" or h == "Allow":
                if rh.get(h) is None:
                    self.fail(f"{where}: the documented header {h} is missing")
        if ctype not in content:
            self.fail(f"{where}: Content-Type {ctype!r} is not documented (documented: {sorted(content)})")
            return None
        if ctype == "application/json":
            try:
                value = json.loads(rb)
            except ValueError:
                self.fail(f"{where}: the body is not JSON")
                return None
            for e in self.schema_ok(content[ctype]["schema"], value)[:3]:
                self.fail(f"{where}: body does not match the document: {e}")
            return value.get("error") if isinstance(value, dict) else None
        if not rb:
            self.fail(f"{where}: empty {ctype} body")
        return None

    def coverage(self):
        docpaths = {(p, m) for p, it in self.doc["paths"].items() for m in it if m in METHODS}
        for method, path in self.routes:
            if (path, method.lower()) not in docpaths:
                self.fail(f"route {method} {path} (ca-server/http.c) is not in the document")
        for p, m in sorted(docpaths):
            if (p, m) not in self.calls:
                self.fail(f"{m.upper()} {p}: documented but never called by the test")
        untested = []
        for p, m in sorted(docpaths):
            for st, resp in self.doc["paths"][p][m]["responses"].items():
                codes = self.error_codes(resp)
                keys = [f"{st}:{c}" for c in codes] if len(codes) > 1 else [st]
                for k in keys:
                    if (p, m, k) in self.seen or (p, m, k.split(":")[0]) in self.seen and ":" not in k:
                        continue
                    if (p, m, k) in NOT_EXERCISED or (p, m, st) in NOT_EXERCISED:
                        untested.append(f"{m.upper()} {p} {k}: {NOT_EXERCISED.get((p, m, k)) or NOT_EXERCISED[(p, m, st)]}")
                        continue
                    self.fail(f"{m.upper()} {p}: documented answer {k} was never seen")
        return untested

    def error_codes(self, resp):
        """the error codes a response's schema allows (enum or const), if listed"""
        resp = self.deref(resp)
        schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
        for part in self.deref(schema).get("allOf", []):
            e = self.deref(part).get("properties", {}).get("error", {})
            if "enum" in e:
                return e["enum"]
            if "const" in e:
                return [e["const"]]
        return []


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[0])
    url, d, yml, http_c = sys.argv[1:]
    with open(yml, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    c = Checker(url, d, doc, http_c)
    R = c.request
    f = lambda n: load(os.path.join(d, n))
    keygen = {"keygen": f("k17.txt").strip()}
    serial_a = f("serial_a").strip()

    # the served document is this document
    served = json.loads(R("openapi", "get", "/v1/openapi.json", 200))
    if served != doc:
        c.fail("GET /v1/openapi.json is not docs/openapi.yaml")

    R("health", "get", "/v1/health", 200)
    R("ready", "get", "/v1/ready", 200)
    R("ca", "get", "/v1/ca", 200)
    R("ca.pem", "get", "/v1/ca.pem", 200)
    R("ca.der", "get", "/v1/ca.der", 200)
    R("crl", "get", "/v1/crl", 200)
    R("metrics", "get", "/metrics", 200)
    R("profiles", "get", "/v1/profiles", 200, token="station")
    R("profiles (operator)", "get", "/v1/profiles", 200, token="operator")
    R("profiles without credential", "get", "/v1/profiles", 401)
    R("profiles (auditor)", "get", "/v1/profiles", 403, token="auditor")

    # enroll: success, replay, dry run and every error the document names
    R("enroll", "post", "/v1/enroll", 201, token="station", body=keygen)
    R("enroll replay", "post", "/v1/enroll", 200, token="station", body=keygen)
    R("enroll dry run", "post", "/v1/enroll?dry_run=1", 200, token="station",
      body={"csr": f("dry.csr"), "profile": "host-key"})
    R("enroll csr", "post", "/v1/enroll", 201, token="station",
      body={"csr": f("b.csr"), "profile": "host-key", "request_id": "conf-1", "validity_days": 30})
    R("enroll empty", "post", "/v1/enroll", 400, token="station", body=b"")
    R("enroll not JSON", "post", "/v1/enroll", 400, token="station", body=b"{nope")
    R("enroll unknown field", "post", "/v1/enroll", 400, token="station",
      body={"keygen": "x", "colour": "red"}, schema_invalid=True)
    R("enroll both inputs", "post", "/v1/enroll", 400, token="station",
      body={"keygen": "x", "csr": "y"}, schema_invalid=True)
    R("enroll bad imei", "post", "/v1/enroll", 400, token="station",
      body={"keygen": "x", "imei": "12"}, schema_invalid=True)
    R("enroll bad keygen", "post", "/v1/enroll", 400, token="station", body={"keygen": "not base64url!"})
    R("enroll broken binding", "post", "/v1/enroll", 400, token="station", body={"keygen": f("tampered.txt").strip()})
    R("enroll bad csr", "post", "/v1/enroll", 400, token="station", body={"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "profile": "host-key"})
    R("enroll csr signature", "post", "/v1/enroll", 400, token="station", body={"csr": f("badsig.csr"), "profile": "host-key"})
    R("enroll without credential", "post", "/v1/enroll", 401, body=keygen)
    R("enroll by operator", "post", "/v1/enroll", 403, token="operator", body=keygen)
    R("enroll policy refusal", "post", "/v1/enroll", 403, token="station", body={"keygen": f("custom.txt").strip()})
    R("enroll reject profile", "post", "/v1/enroll", 409, token="station", body={"csr": f("once2.csr"), "profile": "once"})
    R("enroll revoked CSR", "post", "/v1/enroll", 409, token="station", body={"csr": f("revoked.csr"), "profile": "host-key"})
    R("enroll too large", "post", "/v1/enroll", 413, token="station", body=b"{" + b" " * 70000 + b"}")
    R("enroll text/plain", "post", "/v1/enroll", 415, token="station", body=b"{}", ctype="text/plain")
    R("enroll rate limited", "post", "/v1/enroll", 429, token="station", body={"csr": f("rl2.csr"), "profile": "limited"})

    # certificates
    R("list", "get", "/v1/certificates", 200, token="operator")
    R("list filtered", "get", f"/v1/certificates?status=active&profile=host-key&limit=1", 200, token="auditor")
    R("list page 2", "get", f"/v1/certificates?after={serial_a}&limit=1000", 200, token="operator")
    R("list bad status", "get", "/v1/certificates?status=gone", 400, token="operator")
    R("list without credential", "get", "/v1/certificates", 401)
    R("list by station", "get", "/v1/certificates", 403, token="station")
    R("get", "get", f"/v1/certificates/{serial_a}", 200, token="operator")
    R("get PEM", "get", f"/v1/certificates/{serial_a}", 200, token="auditor",
      headers={"Accept": "application/pem-certificate-chain"})
    R("get bad serial", "get", "/v1/certificates/xyz", 400, token="operator")
    R("get unknown", "get", "/v1/certificates/0123456789abcdef", 404, token="operator")
    R("get without credential", "get", f"/v1/certificates/{serial_a}", 401)
    R("revoke", "post", f"/v1/certificates/{serial_a}/revoke", 200, token="operator", body={"reason": "keyCompromise"})
    R("revoke again", "post", f"/v1/certificates/{serial_a}/revoke", 409, token="operator", body={"reason": "keyCompromise"})
    R("get revoked", "get", f"/v1/certificates/{serial_a}", 200, token="operator")
    R("revoke bad reason", "post", f"/v1/certificates/{serial_a}/revoke", 400, token="operator",
      body={"reason": "becauseISaySo"}, schema_invalid=True)
    R("revoke empty", "post", f"/v1/certificates/{serial_a}/revoke", 400, token="operator", body=b"")
    R("revoke not JSON", "post", f"/v1/certificates/{serial_a}/revoke", 400, token="operator", body=b"[1,")
    R("revoke unknown field", "post", f"/v1/certificates/{serial_a}/revoke", 400, token="operator",
      body={"why": "x"}, schema_invalid=True)
    R("revoke unknown", "post", "/v1/certificates/0123456789abcdef/revoke", 404, token="operator",
      body={"reason": "superseded"})
    R("revoke without credential", "post", f"/v1/certificates/{serial_a}/revoke", 401, body={"reason": "superseded"})
    R("revoke by auditor", "post", f"/v1/certificates/{serial_a}/revoke", 403, token="auditor", body={"reason": "superseded"})
    R("revoke too large", "post", f"/v1/certificates/{serial_a}/revoke", 413, token="operator", body=b"{" + b" " * 70000 + b"}")
    R("revoke text/plain", "post", f"/v1/certificates/{serial_a}/revoke", 415, token="operator", body=b"{}", ctype="text/plain")

    # answers of every path
    R("unknown route", "get", "/v1/nothing", 404)
    R("wrong method", "delete", "/v1/crl", 405)
    R("encoded slash", "get", "/v1/certificates/ab%2Fcd", 400, token="operator")
    R("path too long", "get", "/v1/" + "a" * 2100, 414)

    untested = c.coverage()
    for p in c.problems:
        print("FAIL:", p)
    calls = len(c.calls)
    print(f"conformance: {calls} operations called, {len(c.seen)} (operation, status[, code]) answers "
          f"checked; documented but not exercised ({len(untested)}):")
    for u in untested:
        print("  -", u)
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
