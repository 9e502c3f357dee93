#!/usr/bin/env python3
"""The provider's and the app's side of scripts/test-systemd.sh, run in the container's network.

The script enters the booted container's network namespace (nsenter --net) and runs this file from the
host, so the container needs no tools of its own beyond what the package brings. Each subcommand prints
one JSON object on stdout for the script to check.

  send      one signed Standard Webhooks callback
  aviso     one signed YooMoney paymentAviso
  load      signed callbacks at a steady rate; every id answered 2xx is written to --acked
  reload    a keep-alive connection that lives through `systemctl reload`, then reaches the new route
  inflight  a request half sent when `systemctl stop` begins, finished while the daemon stops
  sink      the shop's app: checks payhook's signature, answers 204, writes each callback's webhook-id
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import socket
import subprocess
import sys
import time
import urllib.parse


def read_secret(path):
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def webhook_headers(secret, msg_id, body):
    """Standard Webhooks: v1 = base64(HMAC-SHA256(key, "id.timestamp.body")), key = base64 after whsec_."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    ts = str(int(time.time()))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }


def signed_request(secret, msg_id, path):
    body = json.dumps({"type": "test.systemd", "id": msg_id}).encode()
    return path, body, webhook_headers(secret, msg_id, body)


def host_port(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port, u.path or "/"


def post(conn, path, body, headers):
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp


def cmd_send(a):
    host, port, path = host_port(a.url)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    resp = post(conn, *signed_request(read_secret(a.secret_file), a.id, path))
    print(json.dumps({"status": resp.status}))


def cmd_aviso(a):
    host, port, path = host_port(a.url)
    f = {
        "requestDatetime": "2011-05-04T20:38:00.000+04:00", "action": "paymentAviso", "shopId": a.shop_id,
        "shopArticleId": "456", "invoiceId": a.invoice, "customerNumber": "8123294469",
        "orderCreatedDatetime": "2011-05-04T20:38:00.000+04:00", "orderSumAmount": "87.10",
        "orderSumCurrencyPaycash": "643", "orderSumBankPaycash": "1001", "shopSumAmount": "86.23",
        "shopSumCurrencyPaycash": "643", "shopSumBankPaycash": "1001", "paymentPayerCode": "42007148320",
        "paymentType": "AC", "orderNumber": a.order,
    }
    signed = ["action", "orderSumAmount", "orderSumCurrencyPaycash", "orderSumBankPaycash", "shopId",
              "invoiceId", "customerNumber"]
    text = ";".join(f[n] for n in signed) + ";" + read_secret(a.password_file)
    f["md5"] = hashlib.md5(text.encode()).hexdigest().upper()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", path, body=urllib.parse.urlencode(f),
                 headers={"content-type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    answer = resp.read().decode(errors="replace")
    print(json.dumps({"status": resp.status, "answer": answer}))


def cmd_load(a):
    """One request at a time on a keep-alive connection, reopened after any failure: a daemon killed
    mid-request leaves that request unanswered, which is not an ack."""
    host, port, path = host_port(a.url)
    secret = read_secret(a.secret_file)
    sent = acked = failed = 0
    conn = None
    deadline = time.monotonic() + a.seconds
    interval = 1.0 / a.rate
    with open(a.acked, "w", encoding="ascii") as out:
        n = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            msg_id = f"{a.prefix}-{n:06d}"
            n += 1
            sent += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=5)
                resp = post(conn, *signed_request(secret, msg_id, path))
                if 200 <= resp.status < 300:
                    acked += 1
                    out.write(msg_id + "\n")
                    out.flush()
                else:
                    failed += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                failed += 1
                if conn is not None:
                    conn.close()
                conn = None
            rest = interval - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)
    print(json.dumps({"sent": sent, "acked": acked, "failed": failed}))


def cmd_reload(a):
    """Proves a reload drops no connection: the same socket is used before, during and after it."""
    host, port, _ = host_port(a.base)
    secret = read_secret(a.secret_file)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    result = {"before": None, "reload_rc": None, "after": None, "tries": 0, "same_connection": False}
    resp = post(conn, *signed_request(secret, a.prefix + "-before", a.old_path))
    result["before"] = resp.status
    sock = conn.sock
    reload = subprocess.run(a.reload_cmd, capture_output=True, text=True, timeout=60)
    result["reload_rc"] = reload.returncode
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result["tries"] += 1
        try:
            resp = post(conn, *signed_request(secret, f"{a.prefix}-after-{result['tries']}", a.new_path))
        except (OSError, http.client.HTTPException) as e:
            result["error"] = repr(e)
            break
        result["after"] = resp.status
        if resp.status == 204:
            break
        time.sleep(0.1)
    result["same_connection"] = conn.sock is not None and conn.sock is sock
    print(json.dumps(result))


def cmd_inflight(a):
    """Half a request, then `systemctl stop`, then the other half: the answer must still come."""
    host, port, path = host_port(a.url)
    _, body, headers = signed_request(read_secret(a.secret_file), a.id, path)
    head = f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s = socket.create_connection((host, port), timeout=30)
    half = len(body) // 2
    s.sendall(head.encode() + body[:half])
    time.sleep(0.3)  # the daemon has read the headers and waits for the body
    stop = subprocess.Popen(a.stop_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(a.hold)
    result = {"stop_returned_early": stop.poll() is not None}
    s.sendall(body[half:])
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    result["status_line"] = status_line
    result["status"] = int(status_line.split()[1]) if status_line.startswith("HTTP/1.1 ") else None
    out, _ = stop.communicate(timeout=60)
    result["stop_rc"] = stop.returncode
    result["stop_output"] = out.strip()
    print(json.dumps(result))


def signature_ok(secret, headers, body):
    """The app's check of payhook's Standard Webhooks signature (any of the space-separated v1 entries)."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    want = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(want, g) for g in given)


def cmd_sink(a):
    out = open(a.out, "a", encoding="ascii")
    secret = read_secret(a.secret_file)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:  # the callback's own webhook-id, which the envelope carries as data.webhook_id
                delivered = json.loads(body)["data"]["webhook_id"]
            except (ValueError, KeyError, TypeError):
                delivered = self.headers.get("webhook-id", "-")
            if not signature_ok(secret, self.headers, body):
                delivered = "BAD-SIGNATURE " + str(delivered)
            out.write(f"{delivered}\n")
            out.flush()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--url", required=True)
    s.add_argument("--secret-file", required=True)
    s.add_argument("--id", required=True)
    s = sub.add_parser("aviso")
    s.add_argument("--url", required=True)
    s.add_argument("--password-file", required=True)
    s.add_argument("--shop-id", required=True)
    s.add_argument("--invoice", required=True)
    s.add_argument("--order", required=True)
    s = sub.add_parser("load")
    s.add_argument("--url", required=True)
    s.add_argument("--secret-file", required=True)
    s.add_argument("--acked", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--rate", type=float, default=200)
    s = sub.add_parser("reload")
    s.add_argument("--base", required=True)
    s.add_argument("--secret-file", required=True)
    s.add_argument("--old-path", required=True)
    s.add_argument("--new-path", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("reload_cmd", nargs=argparse.REMAINDER)
    s = sub.add_parser("inflight")
    s.add_argument("--url", required=True)
    s.add_argument("--secret-file", required=True)
    s.add_argument("--id", required=True)
    s.add_argument("--hold", type=float, default=1.5)
    s.add_argument("stop_cmd", nargs=argparse.REMAINDER)
    s = sub.add_parser("sink")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--secret-file", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    for name in ("reload_cmd", "stop_cmd"):
        if getattr(a, name, None) and getattr(a, name)[0] == "--":
            setattr(a, name, getattr(a, name)[1:])
    {"send": cmd_send, "aviso": cmd_aviso, "load": cmd_load, "reload": cmd_reload, "inflight": cmd_inflight,
     "sink": cmd_sink}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
