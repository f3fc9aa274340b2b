// The packed im-revoke module in a Vite app: wasm-pack's `--target web` output needs no
// plugin — import it, call `init()` once (Vite emits the .wasm as an asset), use the API.
//
// By default both users live on an embedded LocalHub. With
// `?ws=ws://127.0.0.1:8080/ws&aliceSig=…&bobSig=…` they log in to a server instead (the
// userIDs are then "vite-alice" and "vite-bob"; get the UserSigs from your backend, or from a
// dev server's /dev/usersig).
//
// Against a server the app loads `im-revoke/client`, the entry without the embedded hub (a
// smaller wasm); the LocalHub run loads `im-revoke`. Vite builds both as separate chunks.

const steps = document.getElementById("steps");
const outcome = document.getElementById("outcome");

function step(text) {
  const li = document.createElement("li");
  li.textContent = text; // never innerHTML
  steps.append(li);
}

function within(ms, promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)),
  ]);
}

async function login() {
  const q = new URLSearchParams(location.search);
  const url = q.get("ws");
  if (url) {
    const { default: init, ChatClient } = await import("im-revoke/client");
    await init();
    step("module initialised (im-revoke/client)");
    const alice = await ChatClient.connect({ url, userID: "vite-alice", userSig: q.get("aliceSig") });
    const bob = await ChatClient.connect({ url, userID: "vite-bob", userSig: q.get("bobSig") });
    return { mode: "server", alice, bob };
  }
  const { default: init, ChatClient, LocalHub } = await import("im-revoke");
  await init();
  step("module initialised (im-revoke)");
  const hub = new LocalHub({ revokeTimeLimit: 120 });
  const alice = await ChatClient.local(hub, "vite-alice");
  const bob = await ChatClient.local(hub, "vite-bob");
  return { mode: "local", alice, bob };
}

async function main() {
  const { mode, alice, bob } = await login();
  step(`logged in (${mode}) as ${alice.userID} and ${bob.userID}`);

  const received = new Promise((resolve) => {
    const revoked = new Promise((resolveRevoked) => {
      bob.getMessageManager().addAdvancedMsgListener({
        onRecvNewMessage: (msg) => resolve({ msg, revoked }),
        onRecvMessageRevoked: (msgID, revokerInfo, reason) => resolveRevoked({ msgID, revokerInfo, reason }),
      });
    });
  });

  const mm = alice.getMessageManager();
  const msg = mm.createTextMessage("hello from Vite");
  const sent = await mm.sendMessage(msg, "vite-bob", null);
  step(`alice sent ${sent.msgID} (status ${sent.status})`);

  const got = await within(5000, received, "bob's onRecvNewMessage");
  step(`bob received "${got.msg.textElem.text}"`);

  const can = mm.canRevoke(sent);
  step(`alice canRevoke: ${can.allowed}, ${Math.round(can.remainingMs / 1000)} s left`);
  await mm.revokeMessage(sent, "changed my mind");
  step("alice revoked it");

  const rev = await within(5000, got.revoked, "bob's onRecvMessageRevoked");
  step(`bob heard the revoke of ${rev.msgID} by ${rev.revokerInfo.userID} (${rev.revokerInfo.role}): "${rev.reason}"`);

  const [found] = await bob.getMessageManager().findMessages([sent.msgID]);
  step(`bob's copy: status ${found.status}, isRevoked ${found.isRevoked}, text ${found.textElem === null ? "gone" : "still there"}`);

  const ok =
    rev.msgID === sent.msgID &&
    rev.revokerInfo.userID === "vite-alice" &&
    rev.revokerInfo.role === "sender" &&
    rev.reason === "changed my mind" &&
    found.status === 6 &&
    found.isRevoked === true &&
    found.textElem === null;
  await alice.logout();
  await bob.logout();
  outcome.textContent = ok ? `pass (${mode})` : `fail (${mode}): unexpected revoke state`;
  outcome.dataset.status = ok ? "pass" : "fail";
}

main().catch((e) => {
  outcome.textContent = `fail: ${e.code ? `${e.code} ` : ""}${e.desc || e.message || e}`;
  outcome.dataset.status = "fail";
  console.error(e);
});
