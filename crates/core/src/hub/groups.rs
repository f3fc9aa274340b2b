//! Group requests — create a group, add and remove members, set a member's role, list the
//! groups a user is in — and the group cache they read through.
//!
//! Every change is saved by `Hub::group_changed`, which remembers the request (so a retry is
//! answered by `Hub::replayed` without a new event) and hands the event to `Hub::fan_out`
//! (`sequence.rs`). The member caps are `Config::max_group_members` (10014) and
//! `Config::max_members_per_call` (10004), checked in `Hub::create_group` and
//! `Hub::add_members`. A non-member gets 10010, as for a group that does not exist.

use super::{bad, Fail, Hub, SessionId, R};
use crate::error::Code;
use crate::model::{
    check_group_id, check_user_id, ConvId, Group, GroupRole, StringSet, GROUP_RECENT_REQS,
    MAX_GROUP_NAME,
};
use crate::protocol::{Event, ServerFrame};
use crate::store::{EventKind, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// The groups a hub has read, shared (not copied) by every request that reads one: a
/// 10,000-member group is 10,000 strings. Only a hub that is its store's only writer keeps one
/// (see `sequence.rs`), as a write-through copy of the store; a shared hub reads every group from
/// the store, since another node may change it at any time.
#[derive(Default)]
pub(super) struct GroupCache(HashMap<String, Arc<Group>>);

impl GroupCache {
    fn get(&self, group_id: &str) -> Option<Arc<Group>> {
        self.0.get(group_id).cloned()
    }

    fn put(&mut self, group_id: String, group: Arc<Group>) {
        self.0.insert(group_id, group);
    }

    /// Drops the cache if it holds more than `max` groups (it refills on demand).
    pub(super) fn trim(&mut self, max: usize) {
        if self.0.len() > max {
            self.0 = HashMap::new();
        }
    }
}

impl<S: Store> Hub<S> {
    /// The group `group_id`, from the cache if this hub keeps one.
    pub(super) fn group(&mut self, group_id: &str) -> R<Arc<Group>> {
        if let Some(g) = self.seq.groups().and_then(|c| c.get(group_id)) {
            return Ok(g);
        }
        check_group_id(group_id)?;
        match self.store.group(group_id)? {
            Some(g) => {
                let g = Arc::new(g);
                if let Some(cache) = self.seq.groups() {
                    cache.put(group_id.to_string(), g.clone());
                }
                Ok(g)
            }
            None => Err(Code::GroupNotFound.into()),
        }
    }

    /// The group, to be changed by this request. A hub with a group cache is the only writer,
    /// so the cached copy is the store's; a shared hub reads it from the store, locked.
    fn group_for_update(&mut self, group_id: &str) -> R<Group> {
        if self.seq.groups().is_some() {
            return Ok(Group::clone(&*self.group(group_id)?));
        }
        check_group_id(group_id)?;
        self.store
            .group_for_update(group_id)?
            .ok_or_else(|| Code::GroupNotFound.into())
    }

    fn save_group(&mut self, g: Group) -> R<()> {
        self.store.put_group(&g)?;
        if let Some(cache) = self.seq.groups() {
            cache.put(g.group_id.clone(), Arc::new(g));
        }
        Ok(())
    }

    /// `getJoinedGroups`: every group `user` is a member of.
    pub(super) fn joined_groups(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        now: u64,
    ) -> R<()> {
        let mut groups = self.store.groups_of(user)?;
        for g in &mut groups {
            g.recent_req_ids.clear();
        }
        self.push(
            session,
            ServerFrame::Groups {
                req_id,
                server_time: now,
                groups,
            },
        );
        Ok(())
    }

    fn check_members(&self, users: &[String]) -> R<()> {
        for u in users {
            if check_user_id(u).is_err() {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "invalid userID in member list",
                ));
            }
        }
        Ok(())
    }

    /// The group a change request of `user` is about, and `user`'s role in it; `None` when the
    /// request is a retry, already answered by [`Self::replayed`]. A group one is not in answers
    /// as one that does not exist (10010).
    fn change_target(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: &str,
        group_id: &str,
        fp: u64,
        now: u64,
    ) -> R<Option<(Group, GroupRole)>> {
        let group = self.group_for_update(group_id)?;
        if self.replayed(session, user, req_id, fp, &group, now)? {
            return Ok(None);
        }
        match group.role_of(user) {
            Some(role) => Ok(Some((group, role))),
            None => Err(Code::GroupNotFound.into()),
        }
    }

    /// If `user`'s `req_id` already changed `group` (with the same request: `fp`), answers the
    /// retry like the first time (without a new event) and returns true. The same reqId of
    /// `user` for another request (another kind, or other parameters) is refused with 300006;
    /// other users' reqIds are theirs and do not match.
    fn replayed(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: &str,
        fp: u64,
        group: &Group,
        now: u64,
    ) -> R<bool> {
        let mut found = false;
        for entry in &group.recent_req_ids {
            match parse_req_entry(entry) {
                // Written before entries named their request: the reqId alone.
                None if entry == req_id => found = true,
                Some((r, u, f)) if r == req_id && u == user => {
                    if f != fp {
                        return Err(bad(
                            Code::RequestIdConflict,
                            "this reqId was used for a different request: use a new reqId",
                        ));
                    }
                    found = true;
                }
                _ => {}
            }
        }
        if !found {
            return Ok(false);
        }
        let mut public = group.clone();
        public.recent_req_ids.clear();
        self.push(
            session,
            ServerFrame::GroupOk {
                req_id: req_id.to_string(),
                server_time: now,
                seq: 0,
                group: public,
            },
        );
        Ok(true)
    }

    /// Saves the changed `group`, remembering the request (`user`'s `req_id`, `fp`), and fans
    /// the change out to `audience` (charged to `user`'s fan-out budget first).
    #[allow(clippy::too_many_arguments)]
    fn group_changed(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        fp: u64,
        mut group: Group,
        audience: &StringSet,
        now: u64,
    ) -> R<()> {
        self.charge_fanout(user, audience.len(), now)?;
        let gid = group.group_id.clone();
        group.recent_req_ids.push(req_entry(&req_id, user, fp));
        let excess = group.recent_req_ids.len().saturating_sub(GROUP_RECENT_REQS);
        group.recent_req_ids.drain(..excess);
        self.save_group(group.clone())?;
        group.recent_req_ids.clear();
        let my_seq = self.fan_out(
            audience,
            session,
            user,
            EventKind::GroupChanged,
            &gid,
            Event::GroupChanged {
                group: group.clone(),
            },
        )?;
        self.push(
            session,
            ServerFrame::GroupOk {
                req_id,
                server_time: now,
                seq: my_seq,
                group,
            },
        );
        Ok(())
    }

    /// `createGroup`: a new group owned by `user` (the member cap applies).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_group(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: String,
        name: String,
        admins: Vec<String>,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        check_group_id(&group_id)?;
        if name.len() > MAX_GROUP_NAME {
            return Err(bad(Code::GroupInvalidParameters, "group name is too long"));
        }
        self.check_members(&admins)?;
        self.check_members(&members)?;
        self.check_per_call(admins.len() + members.len())?;
        let fp = fingerprint(
            "create",
            user,
            [name.as_str()]
                .into_iter()
                .chain(admins.iter().map(String::as_str))
                .chain([""])
                .chain(members.iter().map(String::as_str)),
        );
        match self.group_for_update(&group_id) {
            Ok(g) if g.owner == user && self.replayed(session, user, &req_id, fp, &g, now)? => {
                return Ok(())
            }
            Ok(_) => return Err(Code::GroupIdInUse.into()),
            Err(Fail::Im(e)) if e.code == Code::GroupNotFound => {}
            Err(e) => return Err(e),
        }
        let admins: StringSet = admins.into_iter().filter(|a| a != user).collect();
        let mut all: StringSet = members.into_iter().collect();
        all.extend(admins.iter().cloned());
        all.insert(user.to_string());
        if all.len() > self.cfg.max_group_members {
            return Err(Code::GroupFullMemberCount.into());
        }
        let group = Group {
            group_id,
            name,
            owner: user.to_string(),
            admins,
            members: all.clone(),
            created_ms: now,
            recent_req_ids: Vec::new(),
        };
        let conv = ConvId::Group(group.group_id.clone());
        self.join_conversation(&all, &conv, 0, true, now)?;
        self.group_changed(session, user, req_id, fp, group, &all, now)
    }

    /// `addGroupMembers`: by the owner or an admin (the member cap applies).
    pub(super) fn add_members(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        let fp = fingerprint("add", user, members.iter().map(String::as_str));
        let Some((mut group, actor)) =
            self.change_target(session, user, &req_id, group_id, fp, now)?
        else {
            return Ok(());
        };
        if !matches!(actor, GroupRole::Owner | GroupRole::Admin) {
            return Err(bad(
                Code::GroupPermissionDeny,
                "only the owner or an admin may add members",
            ));
        }
        self.check_members(&members)?;
        self.check_per_call(members.len())?;
        let new: StringSet = members
            .into_iter()
            .filter(|m| !group.members.contains(m))
            .collect();
        if new.is_empty() {
            return Err(Code::GroupAlreadyMember.into());
        }
        if group.members.len() + new.len() > self.cfg.max_group_members {
            return Err(Code::GroupFullMemberCount.into());
        }
        // Newcomers' conversation begins read up to now.
        let conv = ConvId::Group(group.group_id.clone());
        let head = self.store.conv_head(&conv)?;
        self.join_conversation(&new, &conv, head, false, now)?;
        group.members.extend(new);
        let audience = group.members.clone();
        self.group_changed(session, user, req_id, fp, group, &audience, now)
    }

    /// `removeGroupMembers`: the owner removes anyone but itself, an admin removes members,
    /// anyone but the owner may leave. Those removed hear about it too.
    pub(super) fn remove_members(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        let fp = fingerprint("remove", user, members.iter().map(String::as_str));
        let Some((mut group, actor)) =
            self.change_target(session, user, &req_id, group_id, fp, now)?
        else {
            return Ok(());
        };
        self.check_members(&members)?;
        for m in &members {
            let target = group.role_of(m);
            let allowed = match (actor, target) {
                (_, None) => {
                    return Err(bad(
                        Code::GroupInvalidParameters,
                        "not a member of this group",
                    ))
                }
                (_, Some(GroupRole::Owner)) => false, // the owner cannot be removed or leave
                _ if m == user => true,               // anyone else may leave
                (GroupRole::Owner, _) => true,
                (GroupRole::Admin, Some(GroupRole::Member)) => true,
                _ => false,
            };
            if !allowed {
                return Err(bad(
                    Code::GroupPermissionDeny,
                    "not allowed to remove this member",
                ));
            }
        }
        // Those removed hear about it too, then no more.
        let audience = group.members.clone();
        for m in &members {
            group.members.remove(m);
            group.admins.remove(m);
        }
        // They keep the conversation as it is now, and get nothing new.
        self.leave_conversation(&members, &ConvId::Group(group.group_id.clone()))?;
        self.group_changed(session, user, req_id, fp, group, &audience, now)
    }

    /// `setGroupMemberRole`: the owner makes a member an admin or back.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_role(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        target: &str,
        role: GroupRole,
        now: u64,
    ) -> R<()> {
        let fp = fingerprint("role", user, [target, &u16::from(role).to_string()]);
        let Some((mut group, _)) = self.change_target(session, user, &req_id, group_id, fp, now)?
        else {
            return Ok(());
        };
        if role == GroupRole::Owner {
            return Err(bad(
                Code::GroupInvalidParameters,
                "role must be 200 (member) or 300 (admin): owner transfer is not supported",
            ));
        }
        if group.owner != user {
            return Err(bad(
                Code::GroupPermissionDeny,
                "only the owner may change roles",
            ));
        }
        match (group.role_of(target), role) {
            (None, _) => {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "not a member of this group",
                ))
            }
            (Some(GroupRole::Owner), _) | (_, GroupRole::Owner) => {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "the owner's role cannot be changed: owner transfer is not supported",
                ))
            }
            (_, GroupRole::Admin) => {
                group.admins.insert(target.to_string());
            }
            (_, GroupRole::Member) => {
                group.admins.remove(target);
            }
        }
        let audience = group.members.clone();
        self.group_changed(session, user, req_id, fp, group, &audience, now)
    }

    /// The per-call cap of createGroup and addGroupMembers: 10004 over it.
    fn check_per_call(&self, named: usize) -> R<()> {
        if named > self.cfg.max_members_per_call {
            return Err(bad(
                Code::GroupInvalidParameters,
                "too many userIDs in one request: add members in several calls",
            ));
        }
        Ok(())
    }
}

/// A group's memory of one change request: `{reqId}#{userID}#{fingerprint}` (a reqId has no
/// `#`; a userID may, so the fingerprint is split off from the right).
fn req_entry(req_id: &str, user: &str, fp: u64) -> String {
    format!("{req_id}#{user}#{fp:016x}")
}

fn parse_req_entry(entry: &str) -> Option<(&str, &str, u64)> {
    let (rest, fp) = entry.rsplit_once('#')?;
    let (req_id, user) = rest.split_once('#')?;
    Some((req_id, user, u64::from_str_radix(fp, 16).ok()?))
}

/// What a change request was: its kind, who asked and its parameters, hashed (FNV-1a 64), so
/// that a reqId reused for another request is told apart from a retry.
fn fingerprint<'a>(kind: &str, user: &str, params: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(kind);
    eat(user);
    for p in params {
        eat(p);
    }
    h
}
