#!/usr/bin/python3
"""rawclient.py - HTTP clients that misbehave at the socket level, for the
connection tests of nrfca-server (connections.sh).  Loopback only.

  slowloris PORT SRC N INTERVAL SECONDS
      open N connections from address SRC, send the request line and one
      header line, then one more header line on every connection every
      INTERVAL seconds, for SECONDS; prints how many connections the server
      accepted and how many it closed
  deadline PORT SRC N INTERVAL LIMIT [body]
      like slowloris (or, with "body", complete headers announcing a body
      that then trickles one byte per INTERVAL); prints, for each
      connection, the seconds until the server closed it, or "open" when
      it was still open after LIMIT seconds
  request PORT RAW_REQUEST_FILE WAIT
      send the file's bytes (nothing more), then print what the server
      answers within WAIT seconds: the status line, "closed" when it closed
      the connection, the elapsed seconds, and the body
  many PORT N PATH
      open N connections at once and keep them open, then send GET PATH on
      every one; prints how many were answered 200, and the first problem
"""
import select
import socket
import sys
import time


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def closed_by_peer(s):
    """True when the server closed (EOF, reset) or answered and closed."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        data = s.recv(65536)
        return data == b""  # an answer without close counts as open
    except (ConnectionResetError, BrokenPipeError, OSError):
        return True


def send_line(s, line):
    try:
        s.send(line)
        return True
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False


def slowloris(port, src, n, interval, seconds):
    socks = []
    refused = 0
    for i in range(n):
        try:
            s = connect(port, src)
        except OSError:
            refused += 1
            continue
        send_line(s, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < seconds:
        time.sleep(min(interval, max(0.0, seconds - (time.monotonic() - t0))))
        k += 1
        for s in socks:
            send_line(s, b"X-Slow-%d: %d\r\n" % (k, k))
    closed = sum(1 for s in socks if closed_by_peer(s))
    print("opened %d refused %d closed %d" % (len(socks), refused, closed))
    for s in socks:
        s.close()


def deadline(port, src, n, interval, limit, body):
    socks = []
    for i in range(n):
        s = connect(port, src)
        if body:
            send_line(s, b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
        else:
            send_line(s, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    t0 = time.monotonic()
    closed_at = [None] * n
    k = 0
    next_send = t0 + interval
    while time.monotonic() - t0 < limit and None in closed_at:
        now = time.monotonic()
        for i, s in enumerate(socks):
            if closed_at[i] is None and closed_by_peer(s):
                closed_at[i] = now - t0
        if now >= next_send:
            k += 1
            for i, s in enumerate(socks):
                if closed_at[i] is None:
                    line = b" " if body else b"X-Slow-%d: %d\r\n" % (k, k)
                    if not send_line(s, line):
                        closed_at[i] = now - t0
            next_send += interval
        time.sleep(0.05)
    for i, s in enumerate(socks):
        print("%.1f" % closed_at[i] if closed_at[i] is not None else "open")
        s.close()


def request(port, path, wait):
    raw = open(path, "rb").read()
    s = connect(port, "127.0.0.1")
    s.setblocking(True)
    t0 = time.monotonic()
    s.sendall(raw)
    s.settimeout(0.2)
    got = b""
    closed = False
    while time.monotonic() - t0 < wait:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, OSError):
            closed = True
            break
        if d == b"":
            closed = True
            break
        got += d
    el = time.monotonic() - t0
    head, _, body = got.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode("latin-1") if head else "no answer"
    print(status)
    print("closed" if closed else "open")
    print("%.2f" % el)
    print(body.decode("latin-1"))
    s.close()


def many(port, n, path):
    socks = []
    problem = ""
    for i in range(n):
        try:
            s = connect(port, "127.0.0.1")
        except OSError as e:
            problem = problem or "connection %d: %s" % (i + 1, e)
            break
        socks.append(s)
    time.sleep(0.5)  # every connection accepted (or dropped) by now
    ok = 0
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    for i, s in enumerate(socks):
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.sendall(req)
            got = b""
            while b"\r\n" not in got:
                d = s.recv(4096)
                if d == b"":
                    break
                got += d
            if got.startswith(b"HTTP/1.1 200"):
                ok += 1
            else:
                problem = problem or "connection %d: %s" % (
                    i + 1, got.split(b"\r\n")[0].decode("latin-1") or "closed without an answer")
        except OSError as e:
            problem = problem or "connection %d: %s" % (i + 1, e)
    print(ok)
    print(problem or "none")
    for s in socks:
        s.close()


def main(a):
    if len(a) >= 6 and a[0] == "slowloris":
        slowloris(int(a[1]), a[2], int(a[3]), float(a[4]), float(a[5]))
    elif len(a) >= 6 and a[0] == "deadline":
        deadline(int(a[1]), a[2], int(a[3]), float(a[4]), float(a[5]),
                 len(a) > 6 and a[6] == "body")
    elif len(a) == 4 and a[0] == "many":
        many(int(a[1]), int(a[2]), a[3])
    elif len(a) == 4 and a[0] == "request":
        request(int(a[1]), a[2], float(a[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
