import sys
data = sys.stdin.buffer.read()
if data == b"boom":
    raise RuntimeError("boom")
print(len(data))
