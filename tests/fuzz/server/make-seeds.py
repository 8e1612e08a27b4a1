#!/usr/bin/python3
"""make-seeds.py NRF91_SIM OUT_DIR

Writes the seed corpus of fuzz_server (tests/fuzz/server/corpus/fuzz_server):
raw HTTP requests as a client sends them, with the harness's bearer tokens
(server_harness.h), %KEYGEN bodies from tests/data/vectors and from the modem
simulator (two keys for one device, for the supersede path), and PEM CSRs
(the vectors' CSR, and openssl-made ones for the host-key profile).  The
corpus is committed; run this again only to change it.  Needs a built
nrf91-sim and openssl.
"""
import json, os, pty, select, subprocess, sys, tempfile, time, base64

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, '..', '..', 'data', 'vectors')
ST_A = 'fuzz-station-a-token'
ST_B = 'fuzz-station-b-token'
OPER = 'fuzz-operator-token'
AUD = 'fuzz-auditor-token'
OFF = 'fuzz-disabled-token'
UUID17 = '50363154-3931-44f0-8022-121b6401627d'
SEP = b'\r\n=next-connection=\r\n'   # server_harness.h: one connection each


def req(method, path, token=None, body=None, ctype='application/json', extra=(), close=False):
    h = [f'{method} {path} HTTP/1.1', 'Host: 127.0.0.1']
    if token:
        h.append(f'Authorization: Bearer {token}')
    h.extend(extra)
    data = b''
    if body is not None:
        data = body if isinstance(body, bytes) else body.encode()
        if ctype:
            h.append(f'Content-Type: {ctype}')
        h.append(f'Content-Length: {len(data)}')
    if close:
        h.append('Connection: close')
    return ('\r\n'.join(h) + '\r\n\r\n').encode() + data


def enroll(body, token=ST_A, query='', **kw):
    return req('POST', '/v1/enroll' + query, token, json.dumps(body), **kw)


def vec(name):
    with open(os.path.join(VEC, name)) as f:
        return f.read().strip()


def csr_pem_from_keygen(line):
    p = line.split('"')[1] if '"' in line else line
    der = base64.urlsafe_b64decode(p.split('.')[0] + '==')
    b = base64.encodebytes(der).decode().replace('\n', '')
    return '-----BEGIN CERTIFICATE REQUEST-----\n' + '\n'.join(
        b[i:i + 64] for i in range(0, len(b), 64)) + '\n-----END CERTIFICATE REQUEST-----\n'


def openssl_csr(cn, digest='sha256'):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(['openssl', 'ecparam', '-name', 'prime256v1', '-genkey', '-noout',
                        '-out', f'{d}/k.pem'], check=True)
        out = subprocess.run(['openssl', 'req', '-new', '-key', f'{d}/k.pem', '-subj', f'/CN={cn}',
                              f'-{digest}'], check=True, capture_output=True, text=True)
        return out.stdout


def sim_keygens(sim, uuid, n):
    """n %KEYGEN outputs (new key each) of one simulated modem with `uuid`."""
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.Popen([sim, '--uuid', uuid, '--identity-key', f'{d}/id.pem'],
                             stdout=subprocess.PIPE, text=True)
        path = p.stdout.readline().strip()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        import termios, tty
        tty.setraw(fd)
        outs = []

        def cmd(c):
            os.write(fd, (c + '\r\n').encode())
            buf, end = b'', time.time() + 10
            while time.time() < end and not (buf.endswith(b'OK\r\n') or b'ERROR' in buf):
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    buf += os.read(fd, 4096)
            return buf.decode()
        cmd('AT+CFUN=4')
        for i in range(n):
            a = cmd(f'AT%KEYGEN={20 + i},2,0')
            line = [l for l in a.split('\r\n') if l.startswith('%KEYGEN:')]
            if not line:
                sys.exit(f"nrf91-sim answered {a!r}")
            outs.append(line[0])
        os.close(fd)
        p.terminate()
        p.wait()
        return outs


def main():
    sim, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    k17 = vec('keygen-csr-sectag17.txt')
    k52 = vec('keygen-line-sectag52.txt')
    kcn = vec('keygen-line-custom-cn.txt')
    kpub = vec('keygen-pubkey-sectag16.txt')
    s1, s2 = sim_keygens(sim, UUID17, 2)
    host1 = openssl_csr(UUID17)
    host2 = openssl_csr(UUID17)
    seeds = {
        'enroll-keygen17': enroll({'keygen': k17}),
        'enroll-keygen52-line': enroll({'keygen': k52, 'request_id': 'job-1'}),
        'enroll-keygen-imei': enroll({'keygen': kcn, 'profile': 'imei', 'imei': '355025930000000'}),
        'enroll-keygen-coap-days': enroll({'keygen': k17, 'profile': 'nrf-cloud-coap',
                                           'validity_days': 30}),
        'enroll-pubkey': enroll({'keygen': kpub}),
        'enroll-dry-run': enroll({'keygen': k17}, query='?dry_run=1'),
        'enroll-replay-then-other-station': SEP.join([enroll({'keygen': k17}), enroll({'keygen': k17}),
                                                       enroll({'keygen': k17}, token=ST_B)]),
        'enroll-supersede': SEP.join([enroll({'keygen': s1}), enroll({'keygen': s2}),
                                       enroll({'keygen': s1}, token=ST_B)]),
        'enroll-supersede-other-station': SEP.join([enroll({'keygen': s1}), enroll({'keygen': s2}, token=ST_B)]),
        'enroll-csr-host-key': enroll({'csr': host1, 'profile': 'host-key'}),
        'enroll-csr-vector-pem': enroll({'csr': csr_pem_from_keygen(k52), 'profile': 'host-key'}),
        'enroll-csr-reject-existing': SEP.join([enroll({'csr': host1, 'profile': 'host-key'}),
                                                 enroll({'csr': host2, 'profile': 'host-key'})]),
        'enroll-csr-sha1': enroll({'csr': openssl_csr(UUID17, 'sha1'), 'profile': 'host-key'}),
        'enroll-csr-default-profile': enroll({'csr': host1}),
        'enroll-disabled-token': enroll({'keygen': k17}, token=OFF),
        'enroll-auditor-forbidden': enroll({'keygen': k17}, token=AUD),
        'enroll-no-token': enroll({'keygen': k17}, token=None),
        'enroll-wrong-type': req('POST', '/v1/enroll', ST_A, json.dumps({'keygen': k17}),
                                 ctype='text/plain'),
        'enroll-too-large': req('POST', '/v1/enroll', ST_A, None,
                                extra=('Content-Type: application/json',
                                       'Content-Length: 5000000')),
        'enroll-chunked': b'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' +
            ST_A.encode() + b'\r\nContent-Type: application/json\r\n'
            b'Transfer-Encoding: chunked\r\n\r\n' + b''.join(
                b'%x\r\n%s\r\n' % (len(c), c) for c in
                [json.dumps({'keygen': k17}).encode()[i:i + 200]
                 for i in range(0, len(json.dumps({'keygen': k17})), 200)]) + b'0\r\n\r\n',
        'enroll-bad-json': req('POST', '/v1/enroll', ST_A, '{"keygen": [1, {"a": [[[[[[[[[]]]]]]]]]}]'),
        'enroll-unknown-field': enroll({'keygen': k17, 'sec_tag': 9223372036854775808}),
        'enroll-unknown-query': enroll({'keygen': k17}, query='?dry_run=1&dry_run=0&x=1'),
        'enroll-expect-100': req('POST', '/v1/enroll', ST_A, json.dumps({'keygen': k17}),
                                 extra=('Expect: 100-continue',)),
        'get-public': SEP.join(req('GET', p) for p in
                               ['/v1/health', '/v1/ready', '/v1/ca', '/v1/ca.pem', '/v1/ca.der',
                                '/v1/crl', '/metrics', '/v1/openapi.json']),
        'head-ca': SEP.join([req('HEAD', '/v1/ca.pem'), req('OPTIONS', '/v1/ca')]),
        'profiles': SEP.join([req('GET', '/v1/profiles', ST_A), req('GET', '/v1/profiles', OPER)]),
        'list-certs': SEP.join([enroll({'keygen': k17}), req(
            'GET', f'/v1/certificates?device_id={UUID17}&status=active&limit=5', OPER),
            req('GET', '/v1/certificates?issued_after=2024-01-01T00:00:00Z&after=01ab', AUD),
            req('GET', '/v1/certificates?station=station-a&profile=nrf-cloud-mqtt', OPER)]),
        'get-cert': SEP.join([req('GET', '/v1/certificates/0a:1B:2c', ST_A),
                              req('GET', '/v1/certificates/zz', OPER)]),
        'revoke': SEP.join([req('POST', '/v1/certificates/0A1B2C3D/revoke', OPER,
                                json.dumps({'reason': 'keyCompromise'})),
                            req('POST', '/v1/certificates/0A1B2C3D/revoke', ST_A, '{}')]),
        'encoded-slash': SEP.join([req('POST', '/v1/certificates/0A%2frevoke', OPER, '{}'),
                                   req('GET', '/v1/%63a', None)]),
        'pipelined': req('GET', '/v1/health') + req('GET', '/v1/ca.der'),
        'http10-keepalive': b'GET /v1/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
            b'GET /v1/ca HTTP/1.0\r\n\r\n',
        'bad-request-line': b'GET  /v1/health  HTTP/1.1\r\n\r\nBREW /pot HTTP/9.9\r\n\r\n',
        'long-header': req('GET', '/v1/health', extra=('X-Long: ' + 'a' * 3000,)),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(f'{len(seeds)} seeds in {out}')


main()
