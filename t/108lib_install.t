#!/usr/bin/python3
# libvoidrail as a user gets it: installed (make install DESTDIR=...) with
# voidrail.h and voidrail.pc, a program built with `pkg-config --cflags
# --libs voidrail` from that prefix.  The programs built are the exact
# twenty-line dealer and the client printed in libvoidrail(3) (they must
# equal examples/hello_*.c); they serve and call through a gateway.  The
# README's worker script is examples/upper.py, word for word.
import os, re, shutil, signal, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

SRC = os.environ.get("VR_SRCDIR") or os.path.dirname(T_DIR)
BUILD = os.environ.get("VR_BUILDDIR")


def man_program(page, name):
    """The program between the BEGIN/END markers of a man page, roff
    escapes undone."""
    with open(page) as f:
        text = f.read()
    m = re.search(r"^\.\\\" BEGIN %s\n(.*?)^\.\\\" END %s\n" % (
        re.escape(name), re.escape(name)), text, re.S | re.M)
    if not m:
        return None
    body = m.group(1)
    body = re.sub(r"^\\&", "", body, flags=re.M)
    return body.replace("\\-", "-").replace("\\e", "\\")


page = os.path.join(SRC, "doc", "libvoidrail.3")
programs = {}
for name in ("hello_dealer.c", "hello_client.c"):
    programs[name] = man_program(page, "examples/" + name)
    with open(os.path.join(SRC, "examples", name)) as f:
        is_(programs[name], f.read(), "libvoidrail(3) prints examples/%s as "
            "it is" % name)
ok(len([l for l in programs["hello_dealer.c"].splitlines() if l.strip()])
   <= 20, "the dealer is twenty lines of code")
with open(os.path.join(SRC, "README.md")) as f:
    readme = f.read()
with open(os.path.join(SRC, "examples", "upper.py")) as f:
    upper = f.read()
ok("```python\n" + upper + "```" in readme, "the README's ten-line worker "
   "is examples/upper.py")
is_(len(upper.splitlines()), 10, "... ten lines")

if not BUILD or not os.path.exists(os.path.join(BUILD, "Makefile")):
    skip_rest = "VR_BUILDDIR is not a configured build tree (run make check)"
elif not shutil.which("pkg-config") or not shutil.which("cc") \
        or not shutil.which("make"):
    skip_rest = "make, cc and pkg-config are needed"
else:
    skip_rest = None
if skip_rest:
    skip("the install: " + skip_rest)
    done_testing()

# -- install the library into a temporary root --
root = os.path.join(tempdir(), "root")
env = {k: v for k, v in os.environ.items()
       if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
p = subprocess.run(["make", "-C", BUILD, "install-libLTLIBRARIES",
                    "install-includeHEADERS", "install-pkgconfigDATA",
                    "DESTDIR=" + root], env=env, capture_output=True,
                   timeout=scaled(300))
is_(p.returncode, 0, "make install DESTDIR=...: the library, header, .pc") \
    or diag(p.stdout.decode() + p.stderr.decode())
found = {}
for d, _, files in os.walk(root):
    for f in files:
        found[f] = os.path.join(d, f)
ok("voidrail.h" in found and "voidrail.pc" in found
   and "libvoidrail.so.0" in found, "installed: voidrail.h, voidrail.pc, "
   "libvoidrail.so.0")
pcdir = os.path.dirname(found.get("voidrail.pc", root))
libdir = os.path.dirname(found.get("libvoidrail.so.0", root))
pkg_env = dict(env, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=root,
               LD_LIBRARY_PATH=libdir)


def pkg(*args):
    p = subprocess.run(["pkg-config"] + list(args) + ["voidrail"],
                       env=pkg_env, capture_output=True)
    return p.returncode, p.stdout.decode().strip()


is_(pkg("--modversion"), (0, "0.1.0"), "pkg-config --modversion voidrail")
rc, flags = pkg("--cflags", "--libs")
is_(rc, 0, "pkg-config --cflags --libs voidrail")
like(flags, r"-I\S*%s" % re.escape(root), "... -I into the install root")
like(flags, r"-lvoidrail", "... -lvoidrail")

# -- build the man page's programs against it --
work = os.path.join(tempdir(), "build")
os.makedirs(work, exist_ok=True)
binaries = {}
for name, text in programs.items():
    src = os.path.join(work, name)
    with open(src, "w") as f:
        f.write(text)
    exe = src[:-2]
    # A sanitizer build's library needs its programs built the same way.
    p = subprocess.run("cc -std=c99 -Wall -Wextra -Wno-unused-parameter "
                       "-Werror %s -o %s %s %s"
                       % (os.environ.get("VR_SAN_FLAGS", ""), exe, src, flags),
                       shell=True, env=pkg_env, capture_output=True)
    is_(p.returncode, 0, "%s builds with -std=c99 -Wall -Wextra -Werror"
        % name) or diag(p.stderr.decode())
    binaries[name] = exe
p = subprocess.run("ldd %s" % binaries["hello_dealer.c"], shell=True,
                   env=pkg_env, capture_output=True)
like(p.stdout.decode(), r"libvoidrail\.so\.0 => %s" % re.escape(libdir),
     "it links the installed libvoidrail.so")
if shutil.which("c++"):
    hdr = os.path.join(work, "cxx.cc")
    with open(hdr, "w") as f:
        f.write("#include <voidrail.h>\nint main() { return "
                "vr_version() == nullptr; }\n")
    p = subprocess.run("c++ -Wall -Werror %s -o %s %s %s"
                       % (os.environ.get("VR_SAN_FLAGS", ""), hdr[:-3], hdr,
                          flags),
                       shell=True, env=pkg_env, capture_output=True)
    is_(p.returncode, 0, "voidrail.h is usable from C++") \
        or diag(p.stderr.decode())

# -- run them through a gateway --
gw = Gateway({}).start()
dealer = Proc(wrapper() + [binaries["hello_dealer.c"], gw.endpoint],
              name="hello-dealer", env={"LD_LIBRARY_PATH": libdir})
ok(wait_until(lambda: "Hello.hello" in gw.methods(), 10),
   "the twenty-line dealer registers Hello.hello")
p = subprocess.run(wrapper() + [binaries["hello_client.c"], gw.endpoint,
                                '["C"]'], env=pkg_env, capture_output=True,
                   timeout=scaled(20))
is_((p.returncode, p.stdout.decode()), (0, '{"hello": "C"}\n'),
    "the client calls it")
is_(PyClient(gw.endpoint).connect().invoke("Hello.hello", name="Python"),
    [{"hello": "Python"}], "a Python client calls it with a keyword argument")
p = subprocess.run(wrapper() + [binaries["hello_client.c"],
                                "tcp://127.0.0.1:%d" % free_port()],
                   env=pkg_env, capture_output=True, timeout=scaled(20))
is_(p.returncode, 1, "the client without a gateway: exit 1")
like(p.stderr.decode(), r"^unreachable: ", "... unreachable")
dealer.signal(signal.SIGTERM)
is_(dealer.wait(10), 0, "SIGTERM: the dealer exits 0")

done_testing()
