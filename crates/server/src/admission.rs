//! Who gets a socket: the pool of connections not logged in yet, the file descriptors left under
//! the process limit, and each user's share of the connections.
//!
//! Every accepted TCP connection holds a [`SocketGuard`] until its socket closes, so
//! [`Admission::sockets`] is what the connections cost in file descriptors. Until it logs in, a
//! connection also holds a [`Pending`] place. The pending pool is smaller than the whole: when it
//! is full, or when the descriptors run short, the oldest pending connection is told to close
//! ([`Pending::evicted`]), so a flood of sockets that never speak cannot keep out `/healthz` or a
//! client that logs in at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Admission state of one server.
pub struct Admission {
    max_pending: usize,
    fd_budget: usize,
    max_per_user: usize,
    sockets: AtomicUsize,
    pending: Mutex<PendingSet>,
    users: Mutex<HashMap<String, usize>>,
    /// Connections closed because the pool or the descriptors were full.
    pub evicted: AtomicU64,
    /// Connections dropped at accept: no descriptor to spare and no pending one to close.
    pub shed: AtomicU64,
    /// Failed accept calls (EMFILE and the like).
    pub accept_errors: AtomicU64,
    /// WebSocket handshakes refused for their Origin.
    pub origin_refused: AtomicU64,
    /// Logins refused by the per-user connection limit.
    pub user_limited: AtomicU64,
}

#[derive(Default)]
struct PendingSet {
    next: u64,
    /// By age: the first is the oldest.
    waiting: BTreeMap<u64, Arc<Notify>>,
}

/// A connection's place in the pending pool; leaves it on drop.
pub struct Pending {
    adm: Arc<Admission>,
    id: u64,
    evict: Arc<Notify>,
}

impl Pending {
    /// Resolves when the connection must close to make room.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// What [`Pending::evicted`] waits on, for a task that does not own the place.
    pub fn notifier(&self) -> Arc<Notify> {
        self.evict.clone()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.adm.lock_pending().waiting.remove(&self.id);
    }
}

/// One open socket, counted until dropped.
pub struct SocketGuard(Arc<Admission>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One of a user's connections, counted until dropped.
pub struct UserSlot {
    adm: Arc<Admission>,
    user: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut users = self.adm.lock_users();
        if let Some(n) = users.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                users.remove(&self.user);
            }
        }
    }
}

/// What to do with a socket just accepted.
pub enum Admit {
    /// Serve it, in the pending pool.
    Serve(SocketGuard, Pending),
    /// No descriptor to spare: close it at once.
    Shed,
}

impl Admission {
    /// `max_pending` connections not logged in, `fd_budget` sockets in all, `max_per_user`
    /// logged-in connections per user (0: no limit).
    pub fn new(max_pending: usize, fd_budget: usize, max_per_user: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_pending: max_pending.max(1),
            fd_budget: fd_budget.max(1),
            max_per_user,
            sockets: AtomicUsize::new(0),
            pending: Mutex::new(PendingSet::default()),
            users: Mutex::new(HashMap::new()),
            evicted: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            origin_refused: AtomicU64::new(0),
            user_limited: AtomicU64::new(0),
        })
    }

    fn lock_pending(&self) -> MutexGuard<'_, PendingSet> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_users(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sockets open now.
    pub fn sockets(&self) -> usize {
        self.sockets.load(Ordering::Acquire)
    }

    /// Connections not logged in now.
    pub fn pending(&self) -> usize {
        self.lock_pending().waiting.len()
    }

    /// Sockets the server may hold open.
    pub fn fd_budget(&self) -> usize {
        self.fd_budget
    }

    /// Takes a socket just accepted: closes the oldest pending connection if the pool or the
    /// descriptors are full; sheds the new one if the descriptors are full and nothing is
    /// pending (every socket belongs to a logged-in user).
    pub fn admit(self: &Arc<Self>) -> Admit {
        let mut set = self.lock_pending();
        let over_fds = self.sockets() >= self.fd_budget;
        if over_fds || set.waiting.len() >= self.max_pending {
            match set.waiting.pop_first() {
                Some((_, oldest)) => {
                    oldest.notify_one();
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None if over_fds => {
                    self.shed.fetch_add(1, Ordering::Relaxed);
                    return Admit::Shed;
                }
                None => {}
            }
        }
        self.sockets.fetch_add(1, Ordering::AcqRel);
        let id = set.next;
        set.next += 1;
        let evict = Arc::new(Notify::new());
        set.waiting.insert(id, evict.clone());
        drop(set);
        let pending = Pending {
            adm: self.clone(),
            id,
            evict,
        };
        Admit::Serve(SocketGuard(self.clone()), pending)
    }

    /// Closes the oldest pending connection (to free a descriptor after an accept failed);
    /// returns whether there was one.
    pub fn evict_oldest(&self) -> bool {
        let oldest = self.lock_pending().waiting.pop_first();
        match oldest {
            Some((_, n)) => {
                n.notify_one();
                self.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// A place for one more connection of `user`, unless they have the most allowed.
    pub fn user_slot(self: &Arc<Self>, user: &str) -> Option<UserSlot> {
        let mut users = self.lock_users();
        let n = users.entry(user.to_string()).or_insert(0);
        if self.max_per_user != 0 && *n >= self.max_per_user {
            self.user_limited.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        Some(UserSlot {
            adm: self.clone(),
            user: user.to_string(),
        })
    }
}

/// How many sockets the process may hold open: its soft `RLIMIT_NOFILE` (raised to the hard
/// limit when that is higher) less the descriptors open now and `reserve`. `None` when unknown
/// or practically unlimited.
pub fn fd_budget(reserve: usize) -> Option<usize> {
    let limit = raise_nofile()?;
    let open = open_fds().unwrap_or(32);
    let budget = limit.saturating_sub(open + reserve);
    if budget < 16 {
        tracing::warn!(
            limit,
            open,
            reserve,
            "very few file descriptors left for connections; raise `ulimit -n`"
        );
    }
    Some(budget.max(1))
}

#[cfg(unix)]
fn raise_nofile() -> Option<usize> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes a plain struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads a plain struct; failing leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            tracing::info!(
                from = lim.rlim_cur,
                to = lim.rlim_max,
                "raised the file descriptor limit"
            );
            lim.rlim_cur = lim.rlim_max;
        }
    }
    if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur > (1 << 30) {
        return None;
    }
    usize::try_from(lim.rlim_cur).ok()
}

#[cfg(not(unix))]
fn raise_nofile() -> Option<usize> {
    None
}

/// Descriptors open now (Linux: /proc/self/fd).
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(a: &Arc<Admission>) -> (SocketGuard, Pending) {
        match a.admit() {
            Admit::Serve(s, p) => (s, p),
            Admit::Shed => panic!("shed"),
        }
    }

    #[tokio::test]
    async fn a_full_pool_evicts_its_oldest() {
        let a = Admission::new(2, 100, 0);
        let first = serve(&a);
        let _second = serve(&a);
        assert_eq!(a.pending(), 2);
        let _third = serve(&a);
        assert_eq!(a.pending(), 2);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.1.evicted())
            .await
            .expect("the oldest is told to go");
        assert_eq!(a.sockets(), 3, "until it actually closes");
        drop(first);
        assert_eq!(a.sockets(), 2);
    }

    #[test]
    fn out_of_descriptors_sheds_only_when_nothing_is_pending() {
        let a = Admission::new(10, 2, 0);
        let (s1, p1) = serve(&a);
        let (s2, p2) = serve(&a);
        drop((p1, p2)); // both logged in
        assert!(matches!(a.admit(), Admit::Shed));
        drop(s1);
        let _ = serve(&a);
        drop(s2);
        assert_eq!(a.shed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn users_have_a_share() {
        let a = Admission::new(1, 1, 2);
        let s1 = a.user_slot("alice").unwrap();
        let _s2 = a.user_slot("alice").unwrap();
        assert!(a.user_slot("alice").is_none());
        assert!(a.user_slot("bob").is_some());
        drop(s1);
        assert!(a.user_slot("alice").is_some());
    }
}
