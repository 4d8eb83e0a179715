#!/usr/bin/python3
# conf/voidrail.yaml documents every key the gateway knows, with its
# default: each key of `voidrail -K` stands in its section, set to the
# default that -K prints, under a comment that explains it; and the file
# passes `voidrail -t`.
import os, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *

conf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conf",
                    "voidrail.yaml")
rc, out, err = run_voidrail(["-K"])
is_(rc, 0, "voidrail -K exits 0")
keys = [line.split("\t") for line in out.splitlines() if line]
ok(len(keys) > 30, "voidrail -K lists the keys (%d)" % len(keys))
ok(all(len(k) == 5 and k[4] for k in keys),
   "every key has a type, a default column, reload or restart, and a text")

section, stack, seen, commented = None, [], {}, set()
with open(conf) as f:
    lines = f.read().splitlines()
for i, line in enumerate(lines):
    m = re.match(r"^([a-z_]+):\s*(.*?)\s*$", line)
    if m:
        section, stack = m.group(1), []
        if m.group(2):              # a section that is one value (a list)
            seen[section] = m.group(2)
        if i > 0 and lines[i - 1].lstrip().startswith("#"):
            commented.add(section)
        continue
    m = re.match(r"^# The default is none \(([a-z_]+): (\S+)\)", line)
    if m:                           # a list section set to an example
        seen.setdefault(m.group(1), m.group(2))
        continue
    m = re.match(r"^((?:  )+)([a-z_]+):\s*(.*?)\s*$", line)
    if m and section:
        depth = len(m.group(1)) // 2    # 1: in the section, 2: in a block
        stack[depth - 1:] = [m.group(2)]
        path = ".".join([section] + stack)
        seen[path] = m.group(3)
        if i > 0 and lines[i - 1].lstrip().startswith("#"):
            commented.add(path)

def same(documented, default):
    unquote = lambda v: v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v
    return unquote(documented) == unquote(default)

for path, kind, default, reload, doc in keys:
    if "<" in path or "[]" in path:
        continue        # keys inside a map or list of blocks: in its comment
    ok(path in seen and same(seen[path], default),
       "%s is documented with its default %s" % (path, default))
    ok(path in commented, "%s has a comment above it" % path)

rc, out, err = run_voidrail(["-t", "-c", conf])
is_(rc, 0, "conf/voidrail.yaml passes voidrail -t")
done_testing()
