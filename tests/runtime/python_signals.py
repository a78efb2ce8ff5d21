"""Python's own signal handling, with SQLite loaded only after the start
(as Python's sqlite3 module loads it): the actions Python finds at its
start must be what the kernel would have shown (the default), or it takes
them for a C library's, installs no KeyboardInterrupt handler, and its
forkserver cannot restore them in its children."""
import multiprocessing
import os
import signal
import sqlite3
import time


def work(n):
    db = sqlite3.connect(":memory:")
    db.execute("create table t(a)")
    db.executemany("insert into t values(?)", [(i,) for i in range(n)])
    return db.execute("select sum(a) from t").fetchone()[0]


if __name__ == "__main__":
    handler = signal.getsignal(signal.SIGINT)
    print("SIGINT:", "Python's handler" if handler is signal.default_int_handler else repr(handler))
    print("actions Python cannot name:",
          [s.name for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD, signal.SIGHUP) if signal.getsignal(s) is None])
    work(10)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
        print("no KeyboardInterrupt")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    for method in ("fork", "spawn", "forkserver"):
        with multiprocessing.get_context(method).Pool(2) as pool:
            print(method, pool.map(work, [10, 1000]))
