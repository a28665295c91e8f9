"""Exit 0 when the Kafka broker at 127.0.0.1:PORT answers a Metadata request naming at least
one broker and an active controller, 1 otherwise (scripts/stack's readiness check).

Usage: metadata-ready.py PORT [TLS_DIR]. With TLS_DIR (the stack's TLS mode) it connects over
TLS, trusting TLS_DIR/ca.crt and presenting TLS_DIR/admin.crt (the broker requires a client
certificate).

A raw Metadata v4 request (the oldest version Kafka 4 still serves, and not yet the
"flexible" encoding), so the check needs nothing but Python's standard library.
"""
import socket
import ssl
import struct
import sys

port = int(sys.argv[1])
tls_dir = sys.argv[2] if len(sys.argv) > 2 else None
client_id = b"haicheng-stack"
# header v1: api_key 3 (Metadata), api_version 4, correlation id, client id;
# body v4: topics = null (all), allow_auto_topic_creation = false
body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", -1, 0)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def string(buf, at):
    (n,) = struct.unpack_from(">h", buf, at)
    return at + 2 + max(n, 0)


try:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        sock = raw
        if tls_dir:
            context = ssl.create_default_context(cafile=f"{tls_dir}/ca.crt")
            context.load_cert_chain(f"{tls_dir}/admin.crt", f"{tls_dir}/admin.key")
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        reply = read_exact(sock, size)
    # correlation id, throttle time, brokers[]: node id, host, port, rack
    (brokers,) = struct.unpack_from(">i", reply, 8)
    at = 12
    for _ in range(brokers):
        at = string(reply, at + 4) + 4
        at = string(reply, at)
    at = string(reply, at)  # cluster id
    (controller,) = struct.unpack_from(">i", reply, at)
    sys.exit(0 if brokers > 0 and controller >= 0 else 1)
except (OSError, ConnectionError, struct.error, ssl.SSLError):
    sys.exit(1)
