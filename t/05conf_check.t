#!/usr/bin/python3
# `voidrail -t` checks more than the syntax: the files the gateway would
# write (log.file, http.access_log, process.pid_file) and the programs and
# directories of its workers.  Every problem is named in one run, at its
# FILE:LINE:COL, and the check creates or changes nothing.
import os, re, stat, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *

D = tempdir()


def write(name, text, mode=0o644):
    path = os.path.join(D, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def check(name, text):
    return run_voidrail(["-t", "-c", write(name, text)])


def error_at(err, path, line, key, message):
    """The error line for key at line of path, with message, or None."""
    return re.search(r"(?m)^.*%s:%d:\d+: \"%s\" %s$"
                     % (re.escape(path), line, re.escape(key), message), err)


write("plain", "not a directory\n")
write("noexec", "#!/bin/sh\n", 0o644)
write("prog", "#!/bin/sh\nexit 0\n", 0o755)
write("app.pid", "12345\n")
port = free_port()

# -- a configuration whose files and programs are all usable --
good = """\
router:
  bind: tcp://127.0.0.1:%(port)d
log:
  file: %(d)s/new-error.log
http:
  listen: []
  access_log: %(d)s/new-access.log
process:
  pid_file: %(d)s/app.pid
workers:
  - name: by-path
    command: ["sh", "-c", "true"]
  - name: relative
    command: ["./prog"]
    cwd: %(d)s
  - name: self
    command: ["{voidrail}", "dealer", "--help"]
  - name: absolute
    command: ["%(d)s/prog", "{instance}"]
""" % {"port": port, "d": D}
rc, out, err = check("good.yaml", good)
is_(rc, 0, "-t accepts files it could create and programs it finds") \
    or diag(err)
like(err, r"test is successful", "... and says so")
ok(not os.path.exists(os.path.join(D, "new-error.log"))
   and not os.path.exists(os.path.join(D, "new-access.log")),
   "the log files it would create are not created by the check")
with open(os.path.join(D, "app.pid")) as f:
    is_(f.read(), "12345\n", "an existing pid file is left as it was")

# -- every problem, named in one run --
bad = """\
router:
  bind: tcp://127.0.0.1:%(port)d
log:
  file: %(d)s/no-such-dir/error.log
http:
  listen: []
  access_log: %(d)s/plain/access.log
process:
  pid_file: %(d)s
workers:
  - name: missing
    command: ["voidrail-no-such-program"]
  - name: not-executable
    command: ["./noexec"]
    cwd: %(d)s
  - name: no-directory
    command: ["sh"]
    cwd: %(d)s/no-such-dir
  - name: fine
    command: ["sh"]
""" % {"port": port, "d": D}
path = os.path.join(D, "bad.yaml")
rc, out, err = check("bad.yaml", bad)
is_(rc, 1, "-t exits 1 when a file or a program is not usable")
ok(error_at(err, path, 4, "log.file",
            r'cannot open "[^"]+/no-such-dir/error.log": No such file or '
            r'directory'),
   "a log file in a missing directory") or diag(err)
ok(error_at(err, path, 7, "http.access_log",
            r'cannot open "[^"]+/plain/access.log": Not a directory'),
   "an access log under a file")
ok(error_at(err, path, 9, "process.pid_file",
            r'cannot write "[^"]+": Is a directory'),
   "a pid file that is a directory")
ok(error_at(err, path, 12, r"workers[0].command",
            r'cannot run "voidrail-no-such-program": No such file or '
            r'directory'),
   "a worker program not in PATH")
ok(error_at(err, path, 14, r"workers[1].command",
            r'cannot run "./noexec": Permission denied'),
   "a worker program that is not executable (relative to its cwd)")
ok(error_at(err, path, 18, r"workers[2].cwd",
            r'"[^"]+/no-such-dir" is not a directory'),
   "a worker directory that does not exist")
is_(len(re.findall(r'(?m)^.*bad\.yaml:\d+:\d+: ', err)), 6,
    "exactly the six problems, in one run") or diag(err)
like(err, r"(?m)^voidrail: configuration file .*bad\.yaml test failed$",
     "... and the test failed")
ok(not os.path.exists(os.path.join(D, "no-such-dir")),
   "nothing was created")

# -- the gateway itself refuses to start on the same log file --
rc, out, err = run_voidrail(["-c", path])
is_(rc, 1, "the gateway does not start on it either")
ok(error_at(err, path, 4, "log.file", r"cannot open .*"),
   "... with the same message as -t") or diag(err)

done_testing()
