// System notifications of new messages while the tab is hidden, one per message (tag = msgID),
// closed again when that message is revoked. Permission is asked only from a click
// (`askPermission`), as browsers require.

/** msgID -> the Notification shown for it. */
const shown = new Map();

/** "unsupported" | "default" | "granted" | "denied". */
export function permission() {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** Asks for the permission (call it from a user action); resolves with `permission()`. */
export async function askPermission() {
  if (permission() !== "default") return permission();
  try {
    await Notification.requestPermission();
  } catch {
    // an old callback-only API or a refusal: the permission says what happened
  }
  return permission();
}

/**
 * Shows a notification for `msgID` while the page is hidden and the user allowed it; a second
 * call for the same message (another pane of the same user) shows nothing new.
 * `onClick` runs when the person clicks it.
 */
export function notify(msgID, title, body, onClick) {
  if (document.visibilityState !== "hidden" || permission() !== "granted" || shown.has(msgID)) return;
  let n;
  try {
    n = new Notification(title, { body, tag: msgID });
  } catch (e) {
    console.warn("notification not shown", e);
    return;
  }
  shown.set(msgID, n);
  n.onclick = () => {
    window.focus();
    onClick?.();
    close(msgID);
  };
  n.onclose = () => {
    if (shown.get(msgID) === n) shown.delete(msgID);
  };
}

/** Closes the notification of `msgID`, if one is on screen (the message was revoked or read). */
export function close(msgID) {
  const n = shown.get(msgID);
  if (!n) return;
  shown.delete(msgID);
  try {
    n.close();
  } catch {
    // already gone
  }
}
