# logwatch.py - act on daemons the moment their logs reach a point, for the
# tests that kill a pvnetd in the middle of a hand-off (a migration's steps
# are a few ms apart: a shell loop forking grep is too slow).
#   logwatch.py TIMEOUT STEP...     STEP: wait:FILE:REGEX | kill:SIGNAL:PID | sleep:SECONDS
# Every FILE's size is taken at the start (only lines written afterwards
# count); "ready" on stdout once they are; each step done on stderr; exit 0
# when all steps are done, 1 when a wait times out (the steps after it are
# not done), 2 on a bad step.
import os, re, signal, sys, time
timeout = float(sys.argv[1]); steps = [a.split(":", 2) for a in sys.argv[2:]]
offs = {s[1]: (os.path.getsize(s[1]) if os.path.exists(s[1]) else 0) for s in steps if s[0] == "wait"}
print("ready", flush=True)
end = time.time() + timeout
for s in steps:
    if s[0] == "wait":
        rx = re.compile(s[2]); off = offs[s[1]]; found = False
        while time.time() < end and not found:
            try:
                with open(s[1], "rb") as f:
                    f.seek(off); data = f.read().decode("utf-8", "replace")
            except OSError:
                data = ""
            found = bool(rx.search(data))
            if not found:
                time.sleep(0.0005)
        if not found:
            print("logwatch: %s: no /%s/ within %g s" % (s[1], s[2], timeout), file=sys.stderr); sys.exit(1)
        print("logwatch: %.3f %s: /%s/" % (time.time(), os.path.basename(s[1]), s[2]), file=sys.stderr)
    elif s[0] == "kill" and len(s) == 3:
        os.kill(int(s[2]), getattr(signal, "SIG" + s[1]))
        print("logwatch: %.3f SIG%s to %s" % (time.time(), s[1], s[2]), file=sys.stderr)
    elif s[0] == "sleep":
        time.sleep(float(s[1]))
    else:
        print("logwatch: bad step %r" % ":".join(s), file=sys.stderr); sys.exit(2)
