#!/usr/bin/python3
# The manual pages keep up with the program and the library: every long
# option of `voidrail client`, `dealer`, `keygen` and the gateway's own
# --help is in its page, every exit status the client's --help lists is in
# voidrail-client(1), and every function voidrail.h exports is documented
# in libvoidrail(3) and has a contract comment above it in the header.
import os, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *

SRC = os.environ.get("VR_SRCDIR") or os.path.dirname(T_DIR)


def page(name):
    """A man page's text with roff's \\- read as -."""
    with open(os.path.join(SRC, "doc", name), encoding="utf-8") as f:
        return f.read().replace("\\-", "-")


def long_options(help_text):
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text)))


for args, man in ((["client", "--help"], "voidrail-client.1"),
                  (["dealer", "--help"], "voidrail-dealer.1"),
                  (["keygen", "--help"], "voidrail-client.1"),
                  (["--help"], "voidrail.8")):
    rc, out, err = run_voidrail(args)
    opts = long_options(out + err)
    cmp_ok(len(opts), ">=", 2, "voidrail %s lists its options"
           % " ".join(args))
    text = page(man)
    is_([o for o in opts if not re.search(re.escape(o) + r"(?![\w-])", text)],
        [], "%s documents every option of voidrail %s" % (man, " ".join(args)))

rc, out, err = run_voidrail(["client", "--help"])
codes = re.findall(r"(?m)^  (\d)  ", out)
cmp_ok(len(codes), ">=", 6, "the client's --help lists its exit statuses")
status = page("voidrail-client.1").split(".SH EXIT STATUS", 1)[-1]
status = status.split("\n.SH ", 1)[0]
is_([c for c in codes if not re.search(r"(?m)^\.B %s$" % c, status)], [],
    "voidrail-client(1) describes each of them")
like(page("voidrail-dealer.1"), r"(?s)EXIT STATUS.*0 after.*1 when serving "
     r"failed.*2 for bad options", "voidrail-dealer(1): its exit statuses")

with open(os.path.join(SRC, "src", "lib", "voidrail.h"), encoding="utf-8") as f:
    header = f.read()
exported = re.findall(r"VR_EXPORT [^;{]*?\b(vr_[a-z_0-9]+)\s*\(", header)
cmp_ok(len(exported), ">=", 40, "voidrail.h exports the API (%d functions)"
       % len(exported))
lib3 = page("libvoidrail.3")
is_([fn for fn in exported if not re.search(r"\b%s\b" % fn, lib3)], [],
    "libvoidrail(3) documents every exported function")
# A declaration is preceded by a comment, or by another declaration that is
# (a group under one comment).
uncommented = []
for m in re.finditer(r"(?m)^VR_EXPORT [^;{]*?\b(vr_[a-z_0-9]+)\s*\(", header):
    before = header[:m.start()].rstrip()
    while before.endswith(";") and "\nVR_EXPORT" in before[-400:]:
        before = before[:before.rfind("\nVR_EXPORT")].rstrip()
    if not before.endswith("*/"):
        uncommented.append(m.group(1))
is_(uncommented, [], "every exported function has a contract comment")

done_testing()
