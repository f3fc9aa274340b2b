#!/usr/bin/env python3
"""Writes the committed seed corpus of the hub_ops fuzz target (fuzz/corpus/hub_ops/).

The byte code is the one `Input::decode` in fuzz/harness/hub_ops/input.rs reads: 7 setup bytes, then
ops, each a selector byte (mod 32) and its operands. These helpers mirror it; keep them in step
when the harness changes, and rerun: `python3 fuzz/harness/hub_ops_seeds.py`.

World at the start: devices 0 and 1 are u0, 2 is u1, 3 is u2 (client state machines behind a
simulated network); raw sessions 0..4 are u0..u4 (frames straight to the hub); with
`seed_group`, group g0 has owner u0, admin u1, members u2 and u3.
"""
import os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus', 'hub_ops')
def setup(limit=0, admin=0, small=0, sync=1, members=4, seed_group=1, rate=0):
    # limit: 0=120s 1=1s 2=0; admin: 0 none 1 half 2 longer 3 zero; sync byte -> 1+b%4; members -> 2+b%6
    return bytes([limit, admin, small, sync, members, seed_group, rate])
S=lambda s: bytes([len(s)])+s.encode()
def user(i): return bytes([i])
def rawuser(s): return bytes([250])+S(s)
def group(i): return bytes([i])
def to_user(i): return bytes([0])+user(i)
def to_group(i): return bytes([8])+group(i)
TO_NEITHER=bytes([15])
def stored(i): return bytes([i])          # MsgRef::Stored
def anymsg(i): return bytes([176+i])      # MsgRef::Any
FRESHMSG=bytes([216])
def rawmsg(s): return bytes([240])+S(s)
TOOLONG=bytes([255])
FRESHREQ=bytes([0])
def reuse(i): return bytes([208, i])
def rawreq(s): return bytes([250])+S(s)
SHORT=bytes([0]); EMPTY=bytes([210]); ATMAX=bytes([230]); OVERMAX=bytes([240]); HUGE=bytes([255])
R_SHORT=bytes([0]); R_ATMAX=bytes([230]); R_OVER=bytes([250])
def login(u, bad=False): return bytes([0])+u+bytes([255 if bad else 0])
def relogin(s): return bytes([1, s])
def logout(s): return bytes([2, s])
def loginframe(s): return bytes([3, s])
def anon(q): return bytes([4])+q
def send(s, to, text=SHORT, msg=None, req=FRESHREQ):
    m = bytes([1]) if msg is None else bytes([0])+msg
    return bytes([5, s])+m+to+text+req
def revoke(s, msg, req=FRESHREQ, reason=R_SHORT, hint=False): return bytes([8, s])+msg+req+reason+bytes([1 if hint else 0])
def gop(s, op, req=FRESHREQ): return bytes([12, s])+op+req
def create(g, admins, members): return bytes([0])+g+bytes([0])+bytes([len(admins)])+b''.join(admins)+bytes([len(members)])+b''.join(members)
def add(g, members): return bytes([1])+g+bytes([len(members)])+b''.join(members)
def remove(g, members): return bytes([2])+g+bytes([len(members)])+b''.join(members)
def setrole(g, u, role): return bytes([3])+g+u+bytes([role])  # 0 member 1 admin 2 owner
def query(s, q, req=FRESHREQ): return bytes([14, s])+q+req
def history(peer=None, group=None):
    which=(1 if peer is not None else 0)|(2 if group is not None else 0)
    return bytes([0, which])+(peer or b'')+(group or b'')
def find(ids, too_many=False): return bytes([1, len(ids)])+b''.join(ids)+bytes([255 if too_many else 0])
def sync(after): return bytes([2])+after.to_bytes(8,'big')
def ping(t): return bytes([3])+t.to_bytes(4,'little')
def csend(d, to, text=SHORT): return bytes([15, d])+to+text
def crevoke(d, msg, reason=R_SHORT): return bytes([17, d])+msg+reason
def cgroup(d, op): return bytes([20, d])+op
def cquery(d, q): return bytes([21, d])+q
def disconnect(d): return bytes([22, d])
def connect(d): return bytes([23, d])
def up(d, n=0): return bytes([24, d, n])
def down(d, n=0): return bytes([25, d, n])
SETTLE=bytes([26])
def expire(d): return bytes([27, d])
def advance(ms): return bytes([28])+ms.to_bytes(2,'little')
def edge_sender(msg, delta): return bytes([29, msg, 0, delta & 0xff])
def edge_admin(msg, delta): return bytes([29, msg, 1, delta & 0xff])
DAY=bytes([30])
def back(ms): return bytes([31])+ms.to_bytes(2,'little')
# raw sessions: index 0..4 = u0..u4; devices 0,1 = u0, 2 = u1, 3 = u2; seed group g0: owner u0, admin u1, members u2 u3
seeds = {
 # devices: send one-to-one, deliver, revoke, deliver
 'c2c_send_revoke.bin': setup() + csend(0, to_user(1)) + SETTLE + crevoke(0, stored(0)) + SETTLE + crevoke(2, stored(0)) + SETTLE,
 # group: member u2 sends, admin u1 revokes, retry with the same reqId, owner and member try too
 'group_roles.bin': setup() + send(2, to_group(0), msg=FRESHMSG) + revoke(2, stored(0), hint=True) + send(3, to_group(0), msg=FRESHMSG)
     + revoke(1, stored(1), hint=True) + revoke(1, stored(1), req=reuse(3)) + revoke(0, stored(1)) + send(0, to_group(0), msg=FRESHMSG)
     + revoke(1, stored(2)) + revoke(3, stored(2)) + DAY + revoke(0, stored(0)) + SETTLE,
 # sender window edges (1 s window, admin window half of it): at the limit, one ms after
 'window_edges.bin': setup(limit=1, admin=1) + send(0, to_user(1), msg=FRESHMSG) + send(0, to_user(1), msg=FRESHMSG)
     + edge_sender(0, 0) + revoke(0, stored(0)) + edge_sender(1, 1) + revoke(0, stored(1)) + send(0, to_group(0), msg=FRESHMSG)
     + edge_admin(2, 1) + revoke(1, stored(2)) + revoke(0, stored(2)) + SETTLE,
 # group management: create, add, set role, remove, leave, then revokes across role changes
 'group_changes.bin': setup(members=5) + gop(1, create(group(1), [user(2)], [user(3), user(4)])) + send(3, to_group(1), msg=FRESHMSG)
     + gop(1, setrole(group(1), user(3), 1)) + revoke(2, stored(0)) + gop(1, remove(group(1), [user(3)])) + revoke(3, stored(0))
     + revoke(2, stored(0)) + cgroup(2, add(group(1), [user(0)])) + SETTLE + gop(4, remove(group(1), [user(4)])) + SETTLE,
 # malformed but typed: bad ids, huge texts, long reasons, unknown msgIDs, frames before login, second login
 'malformed.bin': setup() + login(rawuser('a b')) + login(user(0), bad=True) + relogin(0) + loginframe(1) + anon(history(peer=user(1)))
     + send(0, to_user(1), text=HUGE, msg=FRESHMSG) + send(0, to_user(1), text=EMPTY, msg=FRESHMSG) + send(0, TO_NEITHER, msg=FRESHMSG)
     + send(0, to_user(1), msg=TOOLONG) + send(0, to_user(1), msg=rawmsg('../x')) + send(0, to_user(1), req=rawreq('bad req'), msg=FRESHMSG)
     + revoke(0, rawmsg('nope')) + revoke(0, FRESHMSG, hint=True) + revoke(0, TOOLONG) + send(0, to_user(1), msg=FRESHMSG)
     + revoke(0, stored(0), reason=R_OVER) + revoke(0, stored(0), reason=R_ATMAX) + revoke(0, stored(0))
     + query(1, find([stored(0), rawmsg('zz')], too_many=True)) + query(1, sync(1 << 63)) + query(1, ping(7)) + SETTLE,
 # devices offline and back: lost frames, partial delivery, expiry, resync one event per page
 'offline_resync.bin': setup(sync=0) + disconnect(1) + csend(0, to_user(1)) + csend(0, to_group(0)) + up(0, 1) + crevoke(1, anymsg(0))
     + disconnect(2) + csend(0, to_user(1)) + connect(1) + up(1) + down(1) + up(0) + up(1, 3) + advance(40000) + expire(2) + connect(2)
     + down(2, 3) + SETTLE,
 # the own-revoke-in-gap crash found by the fuzzer (now fixed): see crates/core/tests/fuzz_hub_ops.rs
 'own_revoke_in_gap.bin': bytes.fromhex('8000ef38d830003030' '30ef65efefefef38d83030303030303034373634 36d1d1d1d1d8'.replace(' ','')),
 # a tight rate limit (5/s, burst 3): requests refused with 60018, then the bucket refills
 'rate_limited.bin': setup(rate=3) + b''.join(send(0, to_user(1), msg=FRESHMSG) for _ in range(5)) + csend(0, to_user(2)) + SETTLE
     + advance(1000) + revoke(0, stored(0)) + SETTLE,
}
for name, data in seeds.items():
    open(os.path.join(OUT, name), 'wb').write(data)
    print(name, len(data))
