# SPDX-License-Identifier: MIT
"""Build tool: compiles runner.py and writes its code object, marshalled, as a
C array (runner_pyc), prefixed with the bytecode magic number of the Python
that compiled it. The guest loads it when its interpreter has the same magic
number, and compiles the embedded source otherwise (runner_py)."""
import importlib.util
import marshal
import sys

source_path, out_path = sys.argv[1], sys.argv[2]
with open(source_path, "rb") as f:
    code = compile(f.read(), "<cact-runner>", "exec", dont_inherit=True)
data = importlib.util.MAGIC_NUMBER + marshal.dumps(code)
with open(out_path, "w") as out:
    out.write("/* Generated from %s; do not edit. */\n" % source_path)
    out.write("static const unsigned char runner_pyc[] = {\n")
    for i in range(0, len(data), 16):
        out.write(",".join(str(b) for b in data[i:i + 16]) + ",\n")
    out.write("};\n")
