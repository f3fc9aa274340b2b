// The im-revoke demo: users side by side, each pane its own ChatClient.
//
//   /                      alice and bob over the im-revoke server (dev UserSigs)
//   /?mode=local           the same over an embedded LocalHub (no server; one hub per page)
//   /?user=carol           one pane only: another device or a third party, in a new tab
//   /?users=alice,bob,carol  any set of panes (a userID twice = two devices of that user)
//   /?mode=local&limit=30  the embedded hub's revoke time limit, seconds
//   /?lang=zh              start in Chinese

import init, { LocalHub, ChatClient } from "/pkg/im_revoke.js";
import { t, setLang, getLang } from "./i18n.js";
import { Pane } from "./pane.js";
import { permission, askPermission } from "./notify.js";

const params = new URLSearchParams(location.search);
const LOCAL = params.get("mode") === "local";
const CAST = ["alice", "bob", "carol"];
/** Created on first load: owner alice, admin bob, member carol. */
const GROUP = { groupID: "demo-group", owner: "alice", admins: ["bob"], members: ["bob", "carol"] };

const single = params.get("user");
const initialUsers = single
  ? [single]
  : (params.get("users") || "alice,bob")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);

if (params.get("lang")) setLang(params.get("lang"));
else setLang(getLang());

const panesEl = document.getElementById("panes");
const toolbar = document.getElementById("toolbar");
const panes = [];

// ----- the two back ends ---------------------------------------------------------------------

function localBackend() {
  const limit = Number(params.get("limit"));
  const hub = new LocalHub({ revokeTimeLimit: limit > 0 ? limit : 120 });
  return {
    kind: "local",
    login: (user) => ChatClient.local(hub, user),
  };
}

function serverBackend() {
  const sigs = new Map();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  async function userSig(user) {
    if (sigs.has(user)) return sigs.get(user);
    const res = await fetch(`/dev/usersig?userID=${encodeURIComponent(user)}`, { cache: "no-store" });
    if (!res.ok) {
      const err = new Error(
        res.status === 404
          ? "dev UserSigs are off: start the server with --dev (npm start does), or use ?mode=local"
          : `GET /dev/usersig answered ${res.status}`,
      );
      err.code = res.status === 404 ? 70002 : 70003;
      err.desc = err.message;
      throw err;
    }
    const sig = (await res.json()).userSig;
    sigs.set(user, sig);
    return sig;
  }
  return {
    kind: "server",
    login: async (user) => ChatClient.connect({ url, userID: user, userSig: await userSig(user) }),
  };
}

// ----- the demo group ------------------------------------------------------------------------

let groupSetup = null;

/**
 * Alice (the owner) creates the demo group on first load (or when her pane first connects).
 * When it exists already (the server keeps it across reloads) there is nothing to do: every
 * client learns its groups and roles at its first login, which `canRevoke` needs to offer an
 * admin the revoke button, and each pane reads the roster with `getJoinedGroupList`.
 */
function announceGroup() {
  const owner = panes.find((p) => p.user === GROUP.owner && p.client && p.status === "online");
  if (!owner || groupSetup) return groupSetup;
  const gm = owner.client.getGroupManager();
  groupSetup = (async () => {
    let group;
    try {
      group = await gm.createGroup({
        groupID: GROUP.groupID,
        name: "Demo group",
        admins: GROUP.admins,
        members: GROUP.members,
      });
    } catch (e) {
      if (e.code === 10021) return; // groupID in use: created before
      throw e;
    }
    // The members' clients hear of it (onGroupChanged); the owner's own pane learns it here.
    for (const p of panes) {
      if (p.user === GROUP.owner && p.client) p.listener.onGroupChanged(group);
    }
  })()
    .catch((e) => owner.showError(e))
    .finally(() => {
      groupSetup = null;
    });
  return groupSetup;
}

let started = false;

const app = {
  backend: null,
  group: GROUP,
  cast: CAST,
  onConnected() {
    if (!started) return; // the first logins are followed by one announcement below
    announceGroup();
  },
  onClose(pane) {
    panes.splice(panes.indexOf(pane), 1);
    renderToolbar();
  },
};

// ----- page chrome ---------------------------------------------------------------------------

function link(href, text, label) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (label) a.setAttribute("aria-label", label);
  return a;
}

function urlWith(changes) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) u.searchParams.delete(k);
    else u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

function renderToolbar() {
  document.title = t("title");
  document.getElementById("title").textContent = t("title");
  document.getElementById("subtitle").textContent = t("subtitle");
  const mode = document.getElementById("mode");
  mode.textContent = LOCAL ? t("modeLocal") : t("modeServer");
  mode.title = LOCAL ? t("modeLocalTitle") : t("modeServerTitle");
  mode.dataset.mode = LOCAL ? "local" : "server";

  const langBtn = document.getElementById("lang");
  langBtn.textContent = t("language");
  langBtn.setAttribute("aria-label", t("languageLabel"));

  toolbar.replaceChildren();
  const open = document.createElement("div");
  open.className = "group";
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = t("openAs");
  open.append(label);
  for (const u of CAST) {
    const a = link(urlWith({ user: u, users: null }), u, t("openAsLabel")(u));
    a.target = "_blank";
    a.rel = "noopener";
    a.className = "chip";
    open.append(a);
  }
  toolbar.append(open);

  if (!single) {
    const shown = new Set(panes.map((p) => p.user));
    const add = document.createElement("div");
    add.className = "group";
    for (const u of CAST.filter((u) => !shown.has(u))) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip add";
      b.textContent = t("addPane")(u);
      b.setAttribute("aria-label", t("addPaneLabel")(u));
      b.onclick = () => addPane(u, true);
      add.append(b);
    }
    if (add.childElementCount) toolbar.append(add);
  }

  // System notifications while the tab is hidden: the permission is asked from this click.
  const perm = permission();
  if (perm !== "unsupported") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip notify";
    b.dataset.permission = perm;
    b.textContent = perm === "granted" ? t("notifyOn") : perm === "denied" ? t("notifyBlocked") : t("notifyAsk");
    b.setAttribute("aria-label", perm === "granted" ? t("notifyOnLabel") : t("notifyAskLabel"));
    b.setAttribute("aria-pressed", String(perm === "granted"));
    b.disabled = perm !== "default";
    b.onclick = () => askPermission().then(renderToolbar);
    toolbar.append(b);
  }

  const modeLink = link(urlWith({ mode: LOCAL ? null : "local", limit: null }), t("switchMode")(LOCAL));
  modeLink.className = "chip mode-switch";
  toolbar.append(modeLink);
}

function addPane(user, connectNow) {
  const pane = new Pane(app, user, { closable: !single });
  panes.push(pane);
  panesEl.append(pane.root);
  panesEl.dataset.count = String(panes.length);
  renderToolbar();
  if (connectNow) pane.connect();
  return pane;
}

// Back to the tab: what is open is read now (and the other devices' badges clear).
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") for (const p of panes) p.markRead(p.active);
});

document.getElementById("lang").addEventListener("click", () => {
  setLang(getLang() === "en" ? "zh" : "en");
  renderToolbar();
  for (const p of panes) p.relabel();
});

// ----- start ---------------------------------------------------------------------------------

async function main() {
  renderToolbar();
  const status = document.getElementById("boot");
  status.textContent = t("loading");
  await init();
  app.backend = LOCAL ? localBackend() : serverBackend();
  status.remove();
  for (const u of initialUsers) addPane(u, false);
  // Everyone logs in first, so that the group's creation reaches all of them live.
  await Promise.all(panes.map((p) => p.connect()));
  started = true;
  await announceGroup();
  setInterval(() => {
    for (const p of panes) p.tick();
  }, 250);
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  const status = document.getElementById("boot") || document.body.appendChild(document.createElement("p"));
  status.className = "boot-error";
  status.setAttribute("role", "alert");
  status.textContent = `${t("startFailed")}: ${e && e.code ? `${e.code} ` : ""}${(e && (e.desc || e.message)) || e}`;
  console.error(e);
});

// For poking around in devtools: window.demo.panes[0].mm
window.demo = { panes, app };
