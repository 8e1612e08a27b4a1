#!/usr/bin/python3
"""fakecloud.py - a fake nRF Cloud REST API for the tests (loopback only).

Implements, from nRF Cloud's OpenAPI document and Nordic's nrf_cloud_onboard:
  POST /v1/devices              OnboardDevices: CSV rows id,subType,tags,fwTypes,"PEM"
  POST /v1/devices/public-keys  RegisterPublicKeys: CSV rows id,"PEM public key"
  GET  /v1/bulk-ops-requests/ID FetchBulkOpsRequest: PENDING, IN_PROGRESS, then
                                SUCCEEDED or FAILED (+ errorSummaryUrl)
  GET  /v1/devices/ID           FetchDevice: 200 or 404
  GET  /v1/account              FetchAccountInfo (a station checks its key with it)
  GET  /bulk-ops-results/NAME   the error summary {"errors": ["[i]: message"]}: a
                                link on "another host" (no API key; one that
                                carries one is logged as a leak)
Uploads are validated as the documentation says (at most 1000 rows, no header,
no blank lines, the field patterns); invalid data is 422, valid data 202 with a
bulkOpsRequestId.  Row errors (a device that exists with another certificate, a
certificate attached to another device, injected errors) make the operation
FAILED with "[<0-based row>]: <message>" entries, as nrf_cloud_onboard reads
them.  A wrong or missing API key is 401.

Test switches (flags, or POST /_fake/control with the same names in JSON):
  rate_limit N    the next N API requests get 429 with Retry-After: retry_after
  fail_5xx N      the next N API requests get 503 (with Retry-After), 500, 502 in turn
  slow N          bulk operations stay IN_PROGRESS for N status polls
  row_errors      {"device id": "message"} injected per-row errors
  existing        [{"id":..., "certPem":...}] devices that exist already
Inspection (no key needed, tests only): GET /_fake/state (devices, public keys,
bulk ops), GET /_fake/log (one entry per request; the key itself is never kept).

Usage: fakecloud.py --api-key-file F --port-file P [--slow N] [--rate-limit N]
                    [--fail-5xx N] [--retry-after S]
"""
import argparse
import csv
import hmac
import io
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ID_RE = re.compile(r'^[a-z0-9:_-]{1,128}$', re.I)
SUBTYPE_RE = re.compile(r'^[a-zA-Z0-9_.,@/:#-]{0,799}$')
TAG_RE = re.compile(r'^[a-zA-Z0-9_.@:#-]+$')
FW_TYPES = {'APP', 'MODEM', 'BOOT', 'SOFTDEVICE', 'BOOTLOADER', 'MDM_FULL'}
CERT_RE = re.compile(r'^-{5}BEGIN CERTIFICATE-{5}(\r\n|\r|\n)([^-]+)(\r\n|\r|\n)-{5}END CERTIFICATE-{5}(\r\n|\r|\n)$')
KEY_RE = re.compile(r'^-{5}BEGIN PUBLIC KEY-{5}(\r\n|\r|\n)([^-]+)(\r\n|\r|\n)-{5}END PUBLIC KEY-{5}(\r\n|\r|\n)$')
MAX_ROWS = 1000
MAX_BODY = 16 * 1024 * 1024


def ulid():
    alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
    return ''.join(secrets.choice(alphabet) for _ in range(26))


def now_iso():
    return time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime())


def norm_pem(p):
    return p.replace('\r\n', '\n').replace('\r', '\n')


class Cloud:
    def __init__(self, key, opts):
        self.key = key
        self.lock = threading.Lock()
        self.devices = {}       # id -> {"certPem", "subType", "tags", "fwTypes"}
        self.cert_owner = {}    # certPem -> id
        self.public_keys = {}   # id -> PEM
        self.ops = {}           # id -> op dict (+ private fields)
        self.summaries = {}     # name -> JSON text
        self.log = []
        self.sw = {'rate_limit': opts.rate_limit, 'fail_5xx': opts.fail_5xx,
                   'retry_after': opts.retry_after, 'slow': opts.slow,
                   'row_errors': {}}
        self.n5xx = 0

    def control(self, c):
        for k in ('rate_limit', 'fail_5xx', 'retry_after', 'slow'):
            if k in c:
                self.sw[k] = int(c[k])
        if 'row_errors' in c:
            self.sw['row_errors'] = dict(c['row_errors'])
        for d in c.get('existing', []):
            pem = norm_pem(d['certPem'])
            self.devices[d['id']] = {'certPem': pem, 'subType': '', 'tags': [], 'fwTypes': []}
            self.cert_owner[pem] = d['id']


def parse_csv(body, nfields, pem_re):
    """Rows of an upload, or (None, message) when the data does not validate."""
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'the CSV is not UTF-8'
    if text.strip() == '':
        return None, 'no rows'
    rows = []
    for i, rec in enumerate(csv.reader(io.StringIO(text, newline=''))):
        if len(rec) == 0:
            return None, 'blank line at row %d (do not leave blank lines)' % (i + 1)
        if len(rec) != nfields:
            return None, 'row %d has %d fields, not %d' % (i + 1, len(rec), nfields)
        if not ID_RE.match(rec[0]):
            return None, 'row %d: deviceId does not match /^[a-z0-9:_-]{1,128}$/i' % (i + 1)
        if not pem_re.match(rec[-1]):
            return None, 'row %d: the PEM field does not match its pattern' % (i + 1)
        if nfields == 5:
            if not SUBTYPE_RE.match(rec[1]):
                return None, 'row %d: subType is invalid' % (i + 1)
            tags = [t for t in rec[2].split('|')] if rec[2] else []
            if any(not TAG_RE.match(t) for t in tags):
                return None, 'row %d: tags are invalid' % (i + 1)
            fw = rec[3].split('|') if rec[3] else []
            if any(f not in FW_TYPES for f in fw):
                return None, 'row %d: fwTypes are invalid' % (i + 1)
        rows.append(rec)
    if len(rows) > MAX_ROWS:
        return None, 'at most %d rows per request (got %d)' % (MAX_ROWS, len(rows))
    return rows, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fakecloud/1'
    disable_nagle_algorithm = True   # headers and body go out as separate writes

    def log_message(self, fmt, *args):
        pass

    # -- plumbing --
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.status = status

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b''

    def auth_state(self):
        a = self.headers.get('Authorization')
        if a is None:
            return 'none'
        want = 'Bearer ' + self.server.cloud.key
        return 'ok' if hmac.compare_digest(a.encode(), want.encode()) else 'wrong'

    def record(self, auth, extra=None):
        e = {'method': self.command, 'path': self.path, 'auth': auth,
             'content_type': self.headers.get('Content-Type'),
             'status': getattr(self, 'status', None)}
        e.update(extra or {})
        with self.server.cloud.lock:
            self.server.cloud.log.append(e)

    def fault(self):
        """429 / 5xx switches; True when answered."""
        c = self.server.cloud
        with c.lock:
            if c.sw['rate_limit'] > 0:
                c.sw['rate_limit'] -= 1
                kind = 429
            elif c.sw['fail_5xx'] > 0:
                c.sw['fail_5xx'] -= 1
                kind = (503, 500, 502)[c.n5xx % 3]
                c.n5xx += 1
            else:
                return False
        if kind == 429:
            self.send_json(429, {'message': 'Too Many Requests'},
                           {'Retry-After': str(c.sw['retry_after'])})
        elif kind == 503:
            self.send_json(503, {'message': 'Service Unavailable'},
                           {'Retry-After': str(c.sw['retry_after'])})
        else:
            self.send_json(kind, {'message': 'Internal Server Error'})
        return True

    # -- routes --
    def do_GET(self):
        c = self.server.cloud
        path = self.path.split('?', 1)[0]
        if path == '/_fake/state':
            with c.lock:
                ops = {k: {x: y for x, y in v.items() if not x.startswith('_')}
                       for k, v in c.ops.items()}
                st = {'devices': c.devices, 'public_keys': c.public_keys, 'bulk_ops': ops}
            return self.send_json(200, st)
        if path == '/_fake/log':
            with c.lock:
                return self.send_json(200, list(c.log))
        if path.startswith('/bulk-ops-results/'):
            auth = self.auth_state()
            name = path[len('/bulk-ops-results/'):]
            with c.lock:
                text = c.summaries.get(name)
            if text is None:
                self.send_json(404, {'message': 'no such object'})
            else:
                data = text.encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.status = 200
            return self.record(auth, {'summary': True})
        auth = self.auth_state()
        if auth != 'ok':
            self.send_json(401, {'message': 'Unauthorized'})
            return self.record(auth)
        if self.fault():
            return self.record(auth)
        if path == '/v1/account':
            self.send_json(200, {'team': {'tenantId': 'fake-tenant', 'name': 'fake team'},
                                 'role': 'owner'})
            return self.record(auth)
        m = re.match(r'^/v1/bulk-ops-requests/([A-Za-z0-9_-]+)$', path)
        if m:
            with c.lock:
                op = c.ops.get(m.group(1))
                if op is not None:
                    op['_polls'] += 1
                    if op['_polls'] > op['_slow']:
                        op['status'] = op['_final']
                        op['completedAt'] = now_iso()
                        if op['_final'] == 'FAILED':
                            op['errorSummaryUrl'] = op['_summary_url']
                    elif op['_polls'] > 0:
                        op['status'] = 'IN_PROGRESS'
                    view = {x: y for x, y in op.items() if not x.startswith('_')}
            if op is None:
                self.send_json(404, {'message': 'bulk ops request not found'})
            else:
                self.send_json(200, view)
            return self.record(auth)
        m = re.match(r'^/v1/devices/([^/]+)$', path)
        if m:
            with c.lock:
                d = c.devices.get(m.group(1))
            if d is None:
                self.send_json(404, {'message': 'Device not found'})
            else:
                self.send_json(200, {'id': m.group(1), 'type': 'Generic',
                                     'subType': d['subType'], 'tags': d['tags'],
                                     'firmware': {'supports': d['fwTypes']}})
            return self.record(auth)
        self.send_json(404, {'message': 'Not Found'})
        self.record(auth)

    def do_POST(self):
        c = self.server.cloud
        path = self.path.split('?', 1)[0]
        body = self.body()
        if body is None:
            self.send_json(413, {'message': 'Payload Too Large'})
            return self.record(self.auth_state())
        if path == '/_fake/control':
            with c.lock:
                c.control(json.loads(body or b'{}'))
            return self.send_json(200, {'ok': True})
        auth = self.auth_state()
        if auth != 'ok':
            self.send_json(401, {'message': 'Unauthorized'})
            return self.record(auth, {'length': len(body)})
        if self.fault():
            return self.record(auth, {'length': len(body)})
        if path == '/v1/devices':
            endpoint, nfields, pem_re = 'PROVISION_DEVICES', 5, CERT_RE
        elif path == '/v1/devices/public-keys':
            endpoint, nfields, pem_re = 'REGISTER_PUBLIC_KEYS', 2, KEY_RE
        else:
            self.send_json(404, {'message': 'Not Found'})
            return self.record(auth)
        ctype = (self.headers.get('Content-Type') or '').split(';')[0].strip()
        if ctype not in ('text/csv', 'application/octet-stream', 'text/plain'):
            self.send_json(415, {'message': 'Unsupported Media Type'})
            return self.record(auth, {'length': len(body)})
        rows, why = parse_csv(body, nfields, pem_re)
        if rows is None:
            self.send_json(422, {'code': 40001, 'message': 'Validation Failed: ' + why})
            return self.record(auth, {'length': len(body)})
        opid = ulid()
        errors = []
        with c.lock:
            for i, rec in enumerate(rows):
                dev, pem = rec[0], norm_pem(rec[-1])
                inj = c.sw['row_errors'].get(dev)
                if inj:
                    errors.append('[%d]: %s' % (i, inj))
                    continue
                if endpoint == 'REGISTER_PUBLIC_KEYS':
                    c.public_keys[dev] = pem        # one key per device: replaced
                    continue
                old = c.devices.get(dev)
                if old is not None and old['certPem'] != pem:
                    errors.append('[%d]: Thing %s already exists in account with different '
                                  'attributes' % (i, dev))
                    continue
                if c.cert_owner.get(pem, dev) != dev:
                    errors.append('[%d]: The device certificate is already registered and '
                                  'attached to a different device.' % i)
                    continue
                c.cert_owner[pem] = dev
                c.devices[dev] = {'certPem': pem, 'subType': rec[1],
                                  'tags': rec[2].split('|') if rec[2] else [],
                                  'fwTypes': rec[3].split('|') if rec[3] else []}
            name = '%s-%s.json' % (opid, secrets.token_hex(8))
            port = self.server.server_address[1]
            c.summaries[name] = json.dumps({'errors': errors})
            c.ops[opid] = {
                'bulkOpsRequestId': opid, 'endpoint': endpoint, 'status': 'PENDING',
                'requestedAt': now_iso(),
                'uploadedDataUrl': 'http://127.0.0.1:%d/bulk-ops-data/%s.csv' % (port, opid),
                '_polls': 0, '_slow': c.sw['slow'],
                '_final': 'FAILED' if errors else 'SUCCEEDED',
                '_summary_url': 'http://127.0.0.1:%d/bulk-ops-results/%s' % (port, name),
                '_rows': len(rows),
            }
        self.send_json(202, {'bulkOpsRequestId': opid})
        self.record(auth, {'length': len(body), 'rows': len(rows), 'op': opid})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--api-key-file', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--slow', type=int, default=0)
    ap.add_argument('--rate-limit', type=int, default=0)
    ap.add_argument('--fail-5xx', type=int, default=0)
    ap.add_argument('--retry-after', type=int, default=1)
    opts = ap.parse_args()
    with open(opts.api_key_file) as f:
        key = f.read().strip()
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    srv.cloud = Cloud(key, opts)
    tmp = opts.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(tmp, opts.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
