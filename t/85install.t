#!/usr/bin/python3
# The gateway as an operator gets it: `make install DESTDIR=ROOT` puts,
# under the directories the build was configured with (--prefix,
# --sysconfdir, --datadir), the binary in bindir, voidrail.yaml in
# sysconfdir/voidrail (naming the demo module as the installed dealer finds
# it), the dashboard in datadir/voidrail/html, the man page voidrail(8) in
# mandir/man8, the demo modules in pkglibdir and voidrail.service in the
# systemd unit directory (Type=notify, its commands naming the installed
# binary and file).  The installed binary accepts the installed file with
# -t and prints it with -T.  `make uninstall` takes every file away again.
import os, re, shutil, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *

SRC = os.environ.get("VR_SRCDIR") or os.path.dirname(T_DIR)
BUILD = os.environ.get("VR_BUILDDIR")
if not BUILD or not os.path.exists(os.path.join(BUILD, "Makefile")):
    skip_all("VR_BUILDDIR is not a configured build tree (run make check)")
if not shutil.which("make"):
    skip_all("make is needed")

ENV = {k: v for k, v in os.environ.items()
       if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
DIRS = ("bindir", "sysconfdir", "pkgdatadir", "mandir", "pkglibdir",
        "systemdsystemunitdir")


def make(*args, stdin=None):
    p = subprocess.run(["make", "-s", "-C", BUILD] + list(args), env=ENV,
                       input=stdin, capture_output=True, timeout=scaled(300))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


# The directories as the build's Makefile has them, expanded.
rc, out, err = make("-f", "Makefile", "-f", "-", "vr-test-dirs",
                    stdin=("vr-test-dirs:\n" + "".join(
                        "\t@echo '%s=$(%s)'\n" % (d, d) for d in DIRS))
                    .encode())
dirs = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
is_(sorted(dirs), sorted(DIRS), "the build's installation directories") \
    or diag(err)
for d in DIRS:
    ok(dirs.get(d, "").startswith("/"), "%s is absolute: %s" %
       (d, dirs.get(d)))

root = os.path.join(tempdir(), "root")
rc, out, err = make("install", "DESTDIR=" + root)
is_(rc, 0, "make install DESTDIR=ROOT") or diag(out + err)


def inst(d, *names):
    return os.path.join(root + dirs.get(d, "/?"), *names)


binary = inst("bindir", "voidrail")
ok(os.path.isfile(binary) and os.access(binary, os.X_OK),
   "the binary: bindir/voidrail, executable")
conf = inst("sysconfdir", "voidrail", "voidrail.yaml")
text = read(conf)
with open(os.path.join(SRC, "conf", "voidrail.yaml")) as f:
    source = f.read()
ok(text is not None, "the configuration: sysconfdir/voidrail/voidrail.yaml")
is_(text, source.replace('"examples/echo.so"', '"echo.so"'),
    "it is conf/voidrail.yaml, naming the demo module as installed")
ok(os.path.isfile(inst("pkglibdir", "echo.so")),
   "the demo module it names: pkglibdir/echo.so")
html = sorted(os.listdir(os.path.join(SRC, "html")))
for name in html:
    is_(read(inst("pkgdatadir", "html", name), "rb"),
        read(os.path.join(SRC, "html", name), "rb"),
        "the dashboard: datadir/voidrail/html/%s" % name)
is_(read(inst("mandir", "man8", "voidrail.8")),
    read(os.path.join(SRC, "doc", "voidrail.8")),
    "the man page: mandir/man8/voidrail.8")
unit = read(inst("systemdsystemunitdir", "voidrail.service")) or ""
ok(unit, "the unit file: voidrail.service in the systemd unit directory")
cmd = "%s/voidrail" % dirs.get("bindir")
cfile = "%s/voidrail/voidrail.yaml" % dirs.get("sysconfdir")
for line in ("Type=notify",
             "ExecStartPre=%s -t -c %s" % (cmd, cfile),
             "ExecStart=%s -c %s" % (cmd, cfile),
             "ExecReload=/bin/kill -HUP $MAINPID"):
    ok(line in unit.splitlines(), "the unit has %s" % line)
ok("@" not in re.sub(r"^#.*$", "", unit, flags=re.M),
   "no placeholder is left in it")

# -- the installed binary and file --
p = subprocess.run([binary, "-t", "-c", conf], capture_output=True,
                   timeout=scaled(10))
is_(p.returncode, 0, "the installed binary: -t accepts the installed file") \
    or diag(p.stderr.decode())
p = subprocess.run([binary, "-T", "-c", conf], capture_output=True,
                   timeout=scaled(10))
out = p.stdout.decode()
is_(p.returncode, 0, "-T prints it")
like(out, r'command: \["\{voidrail\}", "dealer", "--module", "echo\.so"',
     "with the demo worker on the installed module")
p = subprocess.run([binary, "-t", "-c", inst("sysconfdir", "nothing.yaml")],
                   capture_output=True, timeout=scaled(10))
is_(p.returncode, 1, "-t of a file that is not there exits 1")

rc, out, err = make("uninstall", "DESTDIR=" + root)
is_(rc, 0, "make uninstall DESTDIR=ROOT") or diag(out + err)
left = [os.path.join(d, f)[len(root):] for d, _, files in os.walk(root)
        for f in files]
is_(left, [], "it leaves no file behind")
done_testing()
