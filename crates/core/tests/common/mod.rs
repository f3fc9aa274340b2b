//! A simulated world: one hub, several users with several devices each, a network that holds
//! frames in flight (so tests choose when each is delivered) and can drop a connection with
//! whatever was in flight. Time is a manual clock.
#![allow(dead_code)]

use im_revoke_core::client::{Client, Completion, Done, Notification};
use im_revoke_core::{ClientFrame, Config, Hub, ImError, MemStore, ServerFrame, SessionId};
use std::collections::VecDeque;

pub const T0: u64 = 1_700_000_000_000;

pub struct Device {
    pub user: String,
    pub client: Client,
    pub session: Option<SessionId>,
    pub up: VecDeque<ClientFrame>,
    pub down: VecDeque<ServerFrame>,
    pub notes: Vec<Notification>,
    pub done: Vec<Completion>,
}

pub struct World {
    pub hub: Hub<MemStore>,
    pub now: u64,
    pub devices: Vec<Device>,
    next_session: SessionId,
}

impl World {
    pub fn new(cfg: Config) -> World {
        World {
            hub: Hub::new(cfg, MemStore::new()),
            now: T0,
            devices: Vec::new(),
            next_session: 1,
        }
    }

    /// Adds a device for `user`, connected and settled; returns its index.
    pub fn device(&mut self, user: &str) -> usize {
        let seed = self.devices.len() as u64 + 1;
        self.devices.push(Device {
            user: user.to_string(),
            client: Client::new(user, seed).unwrap(),
            session: None,
            up: VecDeque::new(),
            down: VecDeque::new(),
            notes: Vec::new(),
            done: Vec::new(),
        });
        let d = self.devices.len() - 1;
        self.connect(d);
        self.settle();
        d
    }

    pub fn now_f(&self) -> f64 {
        self.now as f64
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    pub fn connect(&mut self, d: usize) {
        if self.devices[d].session.is_some() {
            return;
        }
        let s = self.next_session;
        self.next_session += 1;
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
        }
        dev.up.clear();
        dev.down.clear();
        dev.client.disconnected();
    }

    /// Moves the client's outgoing frames onto the wire (only while connected).
    fn collect(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        let frames = dev.client.take_frames();
        if dev.session.is_some() {
            dev.up.extend(frames);
        }
        dev.notes.extend(dev.client.take_notifications());
        dev.done.extend(dev.client.take_completions());
    }

    /// Delivers one frame from device `d` to the hub; returns false if none was waiting.
    pub fn step_up(&mut self, d: usize) -> bool {
        self.collect(d);
        let dev = &mut self.devices[d];
        let (Some(s), Some(f)) = (dev.session, dev.up.pop_front()) else {
            return false;
        };
        match f {
            ClientFrame::Login { user_id, v, .. } => {
                self.hub.login(s, &user_id, v, self.now);
            }
            f => self.hub.handle(s, f, self.now),
        }
        self.route();
        true
    }

    fn route(&mut self) {
        let out = self.hub.commit().expect("memory store commits");
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

    /// Delivers one frame from the hub to device `d`.
    pub fn step_down(&mut self, d: usize) -> bool {
        let now = self.now_f();
        let dev = &mut self.devices[d];
        let Some(f) = dev.down.pop_front() else {
            return false;
        };
        dev.client.handle(f, now);
        self.collect(d);
        true
    }

    /// Delivers everything until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for d in 0..self.devices.len() {
                moved |= self.step_up(d);
                moved |= self.step_down(d);
            }
            if !moved {
                return;
            }
        }
        panic!("world did not settle");
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

    /// Creates and sends a text from device `d`; returns the msgID (settled).
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

    pub fn revoke(&mut self, d: usize, msg_id: &str, reason: &str) -> Result<Done, ImError> {
        let now = self.now_f();
        let req = self.devices[d].client.revoke(msg_id, reason, now)?;
        self.result(d, &req)
    }

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
