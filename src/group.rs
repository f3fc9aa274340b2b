//! `GroupManager`: what group revoke needs — create a group with its owner, admins and
//! members; add and remove members; change roles. The server decides who may do what.

use std::rc::Rc;

use im_revoke_core::model::GroupRole;
use im_revoke_core::{ClientFrame, Code, ImError};
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::convert::{opt_number, opt_string, opt_strings, options, string};
use crate::error::rejected;
use crate::session::{Session, Shape};

#[wasm_bindgen(typescript_custom_section)]
const TS_GROUP: &'static str = r#"
/** `createGroup(option)`. The creator becomes the owner. */
export interface CreateGroupOption {
  groupID: string;
  name?: string;
  /** Initial admins (they become members too). */
  admins?: string[];
  /** Initial members. */
  members?: string[];
}

/** `addGroupMembers` / `removeGroupMembers`. */
export interface GroupMembersOption {
  groupID: string;
  userIDList: string[];
}

/** `setGroupMemberRole`: 300 makes an admin, 200 an ordinary member again (owner only). */
export interface SetGroupMemberRoleOption {
  groupID: string;
  userID: string;
  role: GroupMemberRole;
}
"#;

/// Groups of one client. Get it with `client.getGroupManager()`. Every change resolves with
/// the group as it is now, or rejects with an `ImError` (10007 not allowed, 10010 no such
/// group, 10021 groupID taken, 10013 already a member, 10004 invalid parameters).
///
/// ```js
/// const gm = alice.getGroupManager();
/// await gm.createGroup({ groupID: "g1", name: "team", admins: ["carol"], members: ["bob"] });
/// ```
#[wasm_bindgen]
pub struct GroupManager {
    pub(crate) session: Rc<Session>,
}

impl GroupManager {
    fn request(&self, parsed: Result<impl FnOnce(String) -> ClientFrame, ImError>) -> Promise {
        match parsed {
            Ok(make) => self
                .session
                .request(Shape::Group, |c, now| Ok(c.group_request(make, now))),
            Err(e) => rejected(e),
        }
    }
}

fn members_option(option: &JsValue) -> Result<(String, Vec<String>), ImError> {
    options(option, "the group members option")?;
    Ok((
        string(option, "groupID")?,
        opt_strings(option, "userIDList")?,
    ))
}

#[wasm_bindgen]
impl GroupManager {
    /// Creates a group owned by this user, with `admins` and `members`.
    ///
    /// ```js
    /// const group = await gm.createGroup({ groupID: "g1", name: "team", admins: ["carol"], members: ["bob", "dave"] });
    /// ```
    #[wasm_bindgen(js_name = createGroup, unchecked_return_type = "Promise<Group>")]
    pub fn create_group(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateGroupOption")] option: JsValue,
    ) -> Promise {
        let parsed = options(&option, "the group option").and_then(|()| {
            let group_id = string(&option, "groupID")?;
            let name = opt_string(&option, "name")?.unwrap_or_default();
            let admins = opt_strings(&option, "admins")?;
            let members = opt_strings(&option, "members")?;
            Ok(move |req_id| ClientFrame::CreateGroup {
                req_id,
                group_id,
                name,
                admins,
                members,
            })
        });
        self.request(parsed)
    }

    /// Adds members (owner or admin).
    ///
    /// ```js
    /// await gm.addGroupMembers({ groupID: "g1", userIDList: ["erin"] });
    /// ```
    #[wasm_bindgen(js_name = addGroupMembers, unchecked_return_type = "Promise<Group>")]
    pub fn add_group_members(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GroupMembersOption")] option: JsValue,
    ) -> Promise {
        let parsed = members_option(&option).map(|(group_id, members)| {
            move |req_id| ClientFrame::AddGroupMembers {
                req_id,
                group_id,
                members,
            }
        });
        self.request(parsed)
    }

    /// Removes members (the owner: anyone else; an admin: ordinary members; anyone:
    /// themselves).
    ///
    /// ```js
    /// await gm.removeGroupMembers({ groupID: "g1", userIDList: ["erin"] });
    /// ```
    #[wasm_bindgen(js_name = removeGroupMembers, unchecked_return_type = "Promise<Group>")]
    pub fn remove_group_members(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GroupMembersOption")] option: JsValue,
    ) -> Promise {
        let parsed = members_option(&option).map(|(group_id, members)| {
            move |req_id| ClientFrame::RemoveGroupMembers {
                req_id,
                group_id,
                members,
            }
        });
        self.request(parsed)
    }

    /// The groups this user is a member of, as they are now on the server (owner, admins,
    /// members). It also refreshes the roles `canRevoke` reads; a new device needs no call
    /// for that, as the client asks once by itself at its first login.
    ///
    /// ```js
    /// const groups = await gm.getJoinedGroupList();
    /// const admin = groups.filter((g) => g.admins.includes(client.userID));
    /// ```
    #[wasm_bindgen(js_name = getJoinedGroupList, unchecked_return_type = "Promise<Group[]>")]
    pub fn get_joined_group_list(&self) -> Promise {
        self.session
            .request(Shape::Groups, |c, now| Ok(c.joined_groups(now)))
    }

    /// Makes a member an admin (300) or an ordinary member again (200); owner only.
    ///
    /// ```js
    /// await gm.setGroupMemberRole({ groupID: "g1", userID: "bob", role: 300 });
    /// ```
    #[wasm_bindgen(js_name = setGroupMemberRole, unchecked_return_type = "Promise<Group>")]
    pub fn set_group_member_role(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SetGroupMemberRoleOption")] option: JsValue,
    ) -> Promise {
        let parsed = options(&option, "the role option").and_then(|()| {
            let group_id = string(&option, "groupID")?;
            let user_id = string(&option, "userID")?;
            let role = opt_number(&option, "role")?
                .and_then(|n| GroupRole::try_from(n as u16).ok())
                .ok_or_else(|| {
                    ImError::with_desc(Code::InvalidParameters, "role must be 200 or 300")
                })?;
            Ok(move |req_id| ClientFrame::SetGroupMemberRole {
                req_id,
                group_id,
                user_id,
                role,
            })
        });
        self.request(parsed)
    }
}
