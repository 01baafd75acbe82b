"""Time to first frame of the real binary in a pseudo-terminal (100x30), five runs.

Usage: python3 benches/first_frame.py target/release/crmlens   (run from the repo root)
Prints the time until the tab bar is drawn, and until the sample's 360 table is on screen.
"""
import os, pty, sys, time, select
binary = sys.argv[1]
times = []
for _ in range(5):
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execv(binary, [binary, "sample_data/crmlens.toml"])
    import fcntl, termios, struct
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    buf = b""; first = None; data = None
    while True:
        r, _, _ = select.select([fd], [], [], 5)
        if not r: break
        try: chunk = os.read(fd, 65536)
        except OSError: break
        buf += chunk
        if first is None and b"1:Data" in buf: first = time.perf_counter() - t0
        if b"rows x 29 cols" in buf:
            data = time.perf_counter() - t0; break
    os.write(fd, b"q"); 
    try: os.waitpid(pid, 0)
    except ChildProcessError: pass
    times.append((first, data))
print("first frame ms:", [round(a*1000,1) for a,b in times])
print("first frame with data ms:", [round(b*1000,1) for a,b in times])
