#!/usr/bin/python3
# fifo mode rotates fairly over idle dealers (B.3): a call goes to the free
# dealer that has waited longest since its last dispatch, so successive
# calls visit every dealer in turn (the Python router always picked the
# first registered one).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"mode": "fifo"}}).start()
dealers = [ThreadedDealer(gw.endpoint).start() for _ in range(3)]
ids = sorted(d.service_id for d in dealers)

py = PyClient(gw.endpoint).connect()
seq = [py.invoke("RefService.whoami")[0] for _ in range(9)]
is_(sorted(seq[:3]), ids, "three calls go to three different dealers")
is_(seq[3:], seq[:6], "and then round again in the same order") \
    or diag(seq)
isnt(seq.count(dealers[0].service_id), 9,
     "not always to the first registered dealer")
is_(sorted(len(d.calls) for d in dealers), [3, 3, 3],
    "each dealer did a third of the work")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
