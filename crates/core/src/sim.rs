//! A simulated world, for tests and fuzzing (feature `test-support`; not for hosts): one hub
//! over a [`MemStore`], client devices behind a network that holds frames in flight both ways
//! (so a test chooses when each is delivered: [`World::step_up`], [`World::step_down`]) and
//! loses them all when a connection drops ([`World::disconnect`]). The server clock is manual
//! ([`World::now`]); each device's clock is the server's plus its [`Device::skew`].
//!
//! The core's tests (`crates/core/tests`) drive it with the plain [`Direct`] host; the
//! `hub_ops` fuzz harness (`fuzz/harness/hub_ops/`) puts its checks between the network and
//! the hub with a [`Host`] of its own.

use crate::client::{Client, Completion, Done, Notification};
use crate::{ClientFrame, Config, Hub, ImError, MemStore, Outgoing, ServerFrame, SessionId};
use std::collections::VecDeque;
use std::sync::Arc;

/// The server clock at the start of every world (ms since the epoch).
pub const T0: u64 = 1_700_000_000_000;

/// One client device: its state machine and its end of the network.
pub struct Device {
    /// The user it logs in as.
    pub user: String,
    /// Its clock minus the server's, in ms.
    pub skew: f64,
    /// The client state machine.
    pub client: Client,
    /// Its connection's session, while connected.
    pub session: Option<SessionId>,
    /// Frames on their way to the hub.
    pub up: VecDeque<ClientFrame>,
    /// Frames on their way from the hub.
    pub down: VecDeque<ServerFrame>,
    /// Every notification the client raised (what its listeners were told), in order.
    pub notes: Vec<Notification>,
    /// Every conversation notification (what its conversation listener was told), in order.
    pub conv_notes: Vec<Notification>,
    /// Every completion the client reported, not yet taken by [`World::result`].
    pub done: Vec<Completion>,
}

/// What stands between the network and the hub: hands the hub each frame that arrives and
/// returns what the hub released once committed (a checker looks at both on the way).
pub trait Host {
    /// A `login` frame arrived on session `s`.
    fn login(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        user: &str,
        v: u32,
        now: u64,
    ) -> Vec<Outgoing>;
    /// Any other frame arrived on session `s`.
    fn handle(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        f: ClientFrame,
        now: u64,
    ) -> Vec<Outgoing>;
    /// Session `s` has been logged out of the hub.
    fn logout(&mut self, _s: SessionId) {}
}

/// The plain host: straight to the hub, then commit.
#[derive(Debug, Default)]
pub struct Direct;

impl Host for Direct {
    fn login(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        user: &str,
        v: u32,
        now: u64,
    ) -> Vec<Outgoing> {
        hub.login(s, user, v, now);
        hub.commit().expect("memory store commits")
    }

    fn handle(
        &mut self,
        hub: &mut Hub<MemStore>,
        s: SessionId,
        f: ClientFrame,
        now: u64,
    ) -> Vec<Outgoing> {
        hub.handle(s, f, now);
        hub.commit().expect("memory store commits")
    }
}

/// One hub, its devices and the network between them.
pub struct World<H = Direct> {
    /// The hub.
    pub hub: Hub<MemStore>,
    /// The server clock (ms).
    pub now: u64,
    /// The devices, by index.
    pub devices: Vec<Device>,
    /// What frames pass through on their way to the hub.
    pub host: H,
    /// Prints every frame as it is delivered (stderr).
    pub trace: bool,
    /// How many rounds [`World::settle`] waits before it calls the network stuck.
    pub max_rounds: usize,
    next_session: SessionId,
}

impl World {
    /// A world with no device yet, at [`T0`], frames going straight to the hub.
    pub fn new(cfg: Config) -> World {
        World::with_host(cfg, Direct)
    }
}

impl<H: Host> World<H> {
    /// A world with no device yet, at [`T0`], frames passing through `host`.
    pub fn with_host(cfg: Config, host: H) -> World<H> {
        World {
            hub: Hub::new(cfg, MemStore::new()),
            now: T0,
            devices: Vec::new(),
            host,
            trace: false,
            max_rounds: 100_000,
            next_session: 1,
        }
    }

    /// A session id no connection has used.
    pub fn new_session(&mut self) -> SessionId {
        let s = self.next_session;
        self.next_session += 1;
        s
    }

    /// Adds a device for `user` whose clock is `skew` ms off the server's, connecting (its
    /// login is on the wire, not delivered); returns its index.
    pub fn add_device(&mut self, user: &str, skew: f64) -> usize {
        let seed = self.devices.len() as u64 + 1;
        self.devices.push(Device {
            user: user.to_string(),
            skew,
            client: Client::new(user, seed).unwrap(),
            session: None,
            up: VecDeque::new(),
            down: VecDeque::new(),
            notes: Vec::new(),
            conv_notes: Vec::new(),
            done: Vec::new(),
        });
        let d = self.devices.len() - 1;
        self.connect(d);
        d
    }

    /// Adds a device for `user`, connected and settled; returns its index.
    pub fn device(&mut self, user: &str) -> usize {
        let d = self.add_device(user, 0.0);
        self.settle();
        d
    }

    /// The server clock as the clients take it.
    pub fn now_f(&self) -> f64 {
        self.now as f64
    }

    /// Device `d`'s clock.
    pub fn local_now(&self, d: usize) -> f64 {
        self.now as f64 + self.devices[d].skew
    }

    /// Moves the server clock on.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Opens a connection for device `d` (if it has none) and puts its login on the wire.
    pub fn connect(&mut self, d: usize) {
        if self.devices[d].session.is_some() {
            return;
        }
        let s = self.new_session();
        let dev = &mut self.devices[d];
        dev.session = Some(s);
        let login = dev.client.login_frame("");
        dev.up.push_back(login);
    }

    /// Drops the connection with every frame in flight, both ways.
    pub fn disconnect(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        if let Some(s) = dev.session.take() {
            self.hub.logout(s);
            self.host.logout(s);
        }
        dev.up.clear();
        dev.down.clear();
        dev.client.disconnected();
    }

    /// Logs session `s` out of the hub (a connection that is not a device's).
    pub fn logout(&mut self, s: SessionId) {
        self.hub.logout(s);
        self.host.logout(s);
    }

    /// Moves the client's outgoing frames onto the wire (only while connected) and keeps its
    /// notifications and completions.
    pub fn collect(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        let frames = dev.client.take_frames();
        if dev.session.is_some() {
            dev.up.extend(frames.into_iter().map(Arc::unwrap_or_clone));
        }
        for n in dev.client.take_notifications() {
            match n {
                Notification::NewConversation(_)
                | Notification::ConversationChanged(_)
                | Notification::TotalUnreadChanged(_) => dev.conv_notes.push(n),
                n => dev.notes.push(n),
            }
        }
        dev.done.extend(dev.client.take_completions());
    }

    /// Hands the hub a login on session `s` (through the host) and routes what it released.
    pub fn login(&mut self, s: SessionId, user: &str, v: u32) {
        let out = self.host.login(&mut self.hub, s, user, v, self.now);
        self.route(out);
    }

    /// Hands the hub frame `f` on session `s` (through the host) and routes what it released.
    pub fn handle(&mut self, s: SessionId, f: ClientFrame) {
        let out = self.host.handle(&mut self.hub, s, f, self.now);
        self.route(out);
    }

    /// Puts each released frame on the wire to the device whose session it is for.
    fn route(&mut self, out: Vec<Outgoing>) {
        for o in out {
            if let Some(dev) = self
                .devices
                .iter_mut()
                .find(|d| d.session == Some(o.session))
            {
                dev.down.push_back(o.frame);
            }
        }
    }

    /// Delivers one frame from device `d` to the hub; returns false if none was waiting.
    pub fn step_up(&mut self, d: usize) -> bool {
        self.collect(d);
        let dev = &mut self.devices[d];
        let (Some(s), Some(f)) = (dev.session, dev.up.pop_front()) else {
            return false;
        };
        if self.trace {
            eprintln!("  dev{d} -> {f:?}");
        }
        match f {
            ClientFrame::Login { user_id, v, .. } => self.login(s, &user_id, v),
            f => self.handle(s, f),
        }
        true
    }

    /// Delivers one frame from the hub to device `d`; returns false if none was waiting.
    pub fn step_down(&mut self, d: usize) -> bool {
        let now = self.local_now(d);
        let dev = &mut self.devices[d];
        let Some(f) = dev.down.pop_front() else {
            return false;
        };
        if self.trace {
            eprintln!("  dev{d} <- {f:?}");
        }
        dev.client.handle(f, now);
        self.collect(d);
        true
    }

    /// Delivers everything until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..self.max_rounds {
            let mut moved = false;
            for d in 0..self.devices.len() {
                moved |= self.step_up(d);
                moved |= self.step_down(d);
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not settle in {} rounds", self.max_rounds);
    }

    /// Takes device `d`'s completion for `req`, settling first.
    pub fn result(&mut self, d: usize, req: &str) -> Result<Done, ImError> {
        self.settle();
        let dev = &mut self.devices[d];
        let i = dev
            .done
            .iter()
            .position(|(id, _)| id == req)
            .unwrap_or_else(|| panic!("no completion for {req}"));
        dev.done.remove(i).1
    }

    /// Creates and sends a text from device `d` to user `to`; returns the msgID (settled).
    pub fn send_c2c(&mut self, d: usize, to: &str, text: &str) -> String {
        let now = self.now_f();
        let m = self.devices[d].client.create_text_message(text);
        let req = self.devices[d]
            .client
            .send(&m.msg_id, Some(to), None, now)
            .unwrap();
        self.result(d, &req).expect("send succeeds");
        m.msg_id
    }

    /// Creates and sends a text from device `d` to `group`; returns the msgID (settled).
    pub fn send_group(&mut self, d: usize, group: &str, text: &str) -> String {
        let now = self.now_f();
        let m = self.devices[d].client.create_text_message(text);
        let req = self.devices[d]
            .client
            .send(&m.msg_id, None, Some(group), now)
            .unwrap();
        self.result(d, &req).expect("group send succeeds");
        m.msg_id
    }

    /// Revokes `msg_id` from device `d`; its answer (settled).
    pub fn revoke(&mut self, d: usize, msg_id: &str, reason: &str) -> Result<Done, ImError> {
        let now = self.now_f();
        let req = self.devices[d].client.revoke(msg_id, reason, now)?;
        self.result(d, &req)
    }

    /// Creates group `id` from device `d`; its answer (settled).
    pub fn create_group(
        &mut self,
        d: usize,
        id: &str,
        admins: &[&str],
        members: &[&str],
    ) -> Result<Done, ImError> {
        let now = self.now_f();
        let (id, admins, members) = (
            id.to_string(),
            admins.iter().map(|s| s.to_string()).collect(),
            members.iter().map(|s| s.to_string()).collect(),
        );
        let req = self.devices[d].client.group_request(
            |req_id| ClientFrame::CreateGroup {
                req_id,
                group_id: id,
                name: "test group".into(),
                admins,
                members,
            },
            now,
        );
        self.result(d, &req)
    }

    /// msgIDs device `d` was told (by a listener) were revoked, in order.
    pub fn revoked_notes(&self, d: usize) -> Vec<String> {
        self.devices[d]
            .notes
            .iter()
            .filter_map(|n| match n {
                Notification::MessageRevoked { msg_id, .. } => Some(msg_id.clone()),
                _ => None,
            })
            .collect()
    }

    /// msgIDs device `d` was told (by a listener) were new, in order.
    pub fn new_notes(&self, d: usize) -> Vec<String> {
        self.devices[d]
            .notes
            .iter()
            .filter_map(|n| match n {
                Notification::NewMessage(m) => Some(m.msg_id.clone()),
                _ => None,
            })
            .collect()
    }
}
