// The benchmark program (make bench): being written.
print("redlock-bench: not written yet")
