# A real client nobody here wrote the runtime of: CPython, with its sqlite3
# module (SQLite protected: a Python aggregate and a scalar function) and a
# ctypes closure (libffi), called back through libc's qsort.  Output is
# identical protected or not.
import ctypes, sqlite3
# a ctypes closure, called through libc's qsort
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc = ctypes.CDLL("libc.so.6")
arr = (ctypes.c_int * 6)(5, 3, 9, 1, 7, 2)
libc.qsort(arr, 6, ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
print("qsort:", list(arr))
class Stdev:
    def __init__(self): self.n, self.s, self.q = 0, 0.0, 0.0
    def step(self, x): self.n += 1; self.s += x; self.q += x * x
    def finalize(self): m = self.s / self.n; return round(self.q / self.n - m * m, 3)
db = sqlite3.connect(":memory:")
db.create_aggregate("var", 1, Stdev)
db.create_function("twice", 1, lambda x: 2 * x)
db.execute("create table t(g, x)")
db.executemany("insert into t values (?, ?)", [(i % 3, i * 1.5) for i in range(300)])
print(db.execute("select g, var(x), twice(count(*)) from t group by g order by g").fetchall())
print(db.execute("select sum(x) over (order by x rows 2 preceding) from t order by x limit 3").fetchall())
