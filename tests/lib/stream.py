# stream.py - a checksummed TCP stream for the migration tests.
#   recv OUT                 listen on :5555 (IPv4 and IPv6), hash what arrives; progress in OUT,
#                            "ok|error BYTES SHA256 LONGEST_GAP_MS" in OUT.done,
#                            each pause over 100 ms (STREAM_GAP_MS) in OUT.gaps
#                            ("START MS", START in epoch seconds)
#   send ADDR SECONDS OUT    send pseudo-random bytes for SECONDS, then close;
#                            "ok|error BYTES SHA256" in OUT
import hashlib, os, socket, sys, time
role = sys.argv[1]
if role == "recv":
    out = sys.argv[2]
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)	# IPv4 and IPv6
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 5555)); s.listen(1)
    thr = float(os.environ.get("STREAM_GAP_MS", "100")) / 1000
    c, _ = s.accept(); h = hashlib.sha256(); n = 0; last = 0; prev = time.time(); gap = 0.0
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            now = time.time(); gap = max(gap, now - prev)
            if now - prev > thr:
                open(out + ".gaps", "a").write("%.3f %d\n" % (prev, (now - prev) * 1000))
            prev = now
            h.update(b); n += len(b)
            if time.time() - last > 0.05:
                open(out + ".tmp", "w").write(str(n)); os.replace(out + ".tmp", out); last = time.time()
        res = "ok"
    except OSError as e:
        res = "error " + e.__class__.__name__
    open(out + ".tmp", "w").write(str(n)); os.replace(out + ".tmp", out)
    open(out + ".done", "w").write("%s %d %s %d\n" % (res, n, h.hexdigest(), gap * 1000))
else:
    addr, secs, out = sys.argv[2], float(sys.argv[3]), sys.argv[4]
    c = socket.create_connection((addr, 5555), timeout=30)
    h = hashlib.sha256(); n = 0; seed = hashlib.sha256(b"pvnet").digest()
    end = time.time() + secs
    try:
        while time.time() < end:
            seed = hashlib.sha256(seed).digest(); chunk = seed * 512
            c.sendall(chunk); h.update(chunk); n += len(chunk)
        c.shutdown(socket.SHUT_WR)
        c.settimeout(30); c.recv(1)
        res = "ok"
    except OSError as e:
        res = "error " + e.__class__.__name__
    open(out, "w").write("%s %d %s\n" % (res, n, h.hexdigest()))
