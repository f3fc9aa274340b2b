// The demo's words, in English and Chinese. Every string here is inserted with textContent
// (never innerHTML), so user names and message text can never become markup.

const STRINGS = {
  en: {
    title: "im-revoke demo",
    subtitle: "Send a message, then take it back: every party sees it turn into a notice at once.",
    modeServer: "server",
    modeLocal: "embedded hub",
    modeServerTitle: "Each pane is a ChatClient connected over WebSocket to the im-revoke server",
    modeLocalTitle: "Each pane is a ChatClient on one LocalHub inside this page (no server)",
    language: "中文",
    languageLabel: "Switch the language to Chinese",
    openAs: "Open a tab as",
    openAsLabel: (u) => `Open a new tab as ${u}`,
    addPane: (u) => `+ ${u}`,
    addPaneLabel: (u) => `Add a pane for ${u}`,
    switchMode: (local) => (local ? "Use the server" : "Use the embedded hub"),
    online: "online",
    connecting: "connecting…",
    offline: "offline",
    goOffline: "Go offline",
    goOnline: "Go online",
    goOfflineLabel: (u) => `Take ${u} offline`,
    goOnlineLabel: (u) => `Bring ${u} back online`,
    closePane: (u) => `Close ${u}'s pane`,
    conversations: (u) => `${u}'s conversations`,
    groupName: "Demo group",
    groupRoster: (owner, admins) =>
      `owner ${owner}` + (admins.length ? ` · admin ${admins.join(", ")}` : ""),
    empty: "No messages yet. Say hello!",
    placeholder: (peer) => `Message ${peer}`,
    placeholderOffline: "Offline: what you send now goes out when you are back",
    totalUnread: (n) => `${n} unread`,
    convLabel: (title, preview, n) => `${title}${preview ? `: ${preview}` : ""}${n ? `, ${n} unread` : ""}`,
    previewImage: "[Image]",
    previewFile: (name) => `[File] ${name}`,
    previewCustom: "[Custom message]",
    reply: "Reply",
    replyLabel: "Reply to this message",
    replyingTo: (sender) => `Replying to ${sender}`,
    cancelReply: "Cancel the reply",
    quoteRevoked: "Original message revoked",
    quoteLabel: (sender) => `Quoted message from ${sender}: show it`,
    searchPlaceholder: "Search messages",
    searchLabel: (u) => `Search ${u}'s messages`,
    searchResults: (u) => `${u}'s search results`,
    searchCount: (n, q) => `${n} ${n === 1 ? "message" : "messages"} with “${q}”`,
    searchNone: (q) => `No messages with “${q}”`,
    searchClose: "Close the search",
    attach: "Attach",
    attachLabel: "Attach an image or a file",
    dropHint: (peer) => `Drop to send to ${peer}`,
    imageAlt: (sender) => `Image from ${sender}`,
    openOriginal: "Open the original image",
    download: "Download",
    downloadLabel: (name) => `Download ${name}`,
    uploading: (pct) => `uploading ${pct}%`,
    notifyAsk: "Notify me",
    notifyAskLabel: "Show a system notification for new messages while this tab is hidden",
    notifyOn: "Notifications on",
    notifyOnLabel: "System notifications are on while this tab is hidden",
    notifyBlocked: "Notifications blocked",
    notifyTitle: (sender, where) => (where ? `${sender} in ${where}` : sender),
    inputLabel: (peer) => `Message to ${peer}`,
    send: "Send",
    sendLabel: (u) => `Send as ${u}`,
    sending: "sending…",
    failed: "not sent",
    revoke: "Revoke",
    revokeLabel: (left) => (left ? `Revoke this message (${left} left)` : "Revoke this message"),
    reasonLabel: "Reason (optional)",
    reasonPlaceholder: "Reason (optional)",
    confirmRevoke: "Confirm revoke",
    cancel: "Cancel",
    reedit: "Re-edit",
    reeditLabel: "Put the revoked text back into the input",
    reason: (r) => `Reason: ${r}`,
    you: "You",
    error: (code) => `Error ${code}`,
    dismiss: "Dismiss",
    dismissLabel: "Dismiss this error",
    loading: "Loading the module…",
    startFailed: "Could not start",
    notices: {
      // You revoked your own message.
      selfSelf: () => "You revoked a message",
      // You (owner/admin) revoked someone else's message.
      selfOther: (sender) => `You revoked ${sender}'s message`,
      // Someone revoked their own message.
      otherOwn: (revoker) => `${revoker} revoked a message`,
      // An owner or admin revoked your message.
      otherMine: (revoker, role) => `${revoker} (${role}) revoked your message`,
      // An owner or admin revoked a third person's message.
      otherOther: (revoker, role, sender) => `${revoker} (${role}) revoked ${sender}'s message`,
    },
  },
  zh: {
    title: "im-revoke 演示",
    subtitle: "发送一条消息，再把它撤回：所有人都会立刻看到它变成提示。",
    modeServer: "服务器",
    modeLocal: "内嵌 Hub",
    modeServerTitle: "每个窗格都是一个通过 WebSocket 连接 im-revoke 服务器的 ChatClient",
    modeLocalTitle: "每个窗格都是本页内同一个 LocalHub 上的 ChatClient（无服务器）",
    language: "English",
    languageLabel: "切换为英文",
    openAs: "新标签页打开",
    openAsLabel: (u) => `以 ${u} 的身份打开新标签页`,
    addPane: (u) => `+ ${u}`,
    addPaneLabel: (u) => `添加 ${u} 的窗格`,
    switchMode: (local) => (local ? "使用服务器" : "使用内嵌 Hub"),
    online: "在线",
    connecting: "连接中…",
    offline: "离线",
    goOffline: "下线",
    goOnline: "上线",
    goOfflineLabel: (u) => `让 ${u} 下线`,
    goOnlineLabel: (u) => `让 ${u} 重新上线`,
    closePane: (u) => `关闭 ${u} 的窗格`,
    conversations: (u) => `${u} 的会话`,
    groupName: "演示群",
    groupRoster: (owner, admins) =>
      `群主 ${owner}` + (admins.length ? ` · 管理员 ${admins.join("、")}` : ""),
    empty: "还没有消息，打个招呼吧！",
    placeholder: (peer) => `发消息给 ${peer}`,
    placeholderOffline: "离线中：现在发送的消息会在重新上线后发出",
    totalUnread: (n) => `${n} 条未读`,
    convLabel: (title, preview, n) => `${title}${preview ? `：${preview}` : ""}${n ? `，${n} 条未读` : ""}`,
    previewImage: "[图片]",
    previewFile: (name) => `[文件] ${name}`,
    previewCustom: "[自定义消息]",
    reply: "回复",
    replyLabel: "回复这条消息",
    replyingTo: (sender) => `回复 ${sender}`,
    cancelReply: "取消回复",
    quoteRevoked: "原消息已撤回",
    quoteLabel: (sender) => `引用 ${sender} 的消息：查看原消息`,
    searchPlaceholder: "搜索消息",
    searchLabel: (u) => `搜索 ${u} 的消息`,
    searchResults: (u) => `${u} 的搜索结果`,
    searchCount: (n, q) => `${n} 条消息包含“${q}”`,
    searchNone: (q) => `没有包含“${q}”的消息`,
    searchClose: "关闭搜索",
    attach: "附件",
    attachLabel: "添加图片或文件",
    dropHint: (peer) => `松开即发送给 ${peer}`,
    imageAlt: (sender) => `${sender} 发送的图片`,
    openOriginal: "查看原图",
    download: "下载",
    downloadLabel: (name) => `下载 ${name}`,
    uploading: (pct) => `上传中 ${pct}%`,
    notifyAsk: "开启通知",
    notifyAskLabel: "本页在后台时，用系统通知提示新消息",
    notifyOn: "通知已开启",
    notifyOnLabel: "本页在后台时会显示系统通知",
    notifyBlocked: "通知已被阻止",
    notifyTitle: (sender, where) => (where ? `${sender}（${where}）` : sender),
    inputLabel: (peer) => `发给 ${peer} 的消息`,
    send: "发送",
    sendLabel: (u) => `以 ${u} 的身份发送`,
    sending: "发送中…",
    failed: "发送失败",
    revoke: "撤回",
    revokeLabel: (left) => (left ? `撤回这条消息（剩余 ${left}）` : "撤回这条消息"),
    reasonLabel: "原因（可选）",
    reasonPlaceholder: "原因（可选）",
    confirmRevoke: "确认撤回",
    cancel: "取消",
    reedit: "重新编辑",
    reeditLabel: "把撤回的内容放回输入框",
    reason: (r) => `原因：${r}`,
    you: "你",
    error: (code) => `错误 ${code}`,
    dismiss: "关闭",
    dismissLabel: "关闭这条错误",
    loading: "正在加载模块…",
    startFailed: "无法启动",
    notices: {
      selfSelf: () => "你撤回了一条消息",
      selfOther: (sender) => `你撤回了成员 ${sender} 的一条消息`,
      // C2C: "the other party"; in a group the revoker's name.
      otherOwn: (revoker, _role, _sender, isGroup) =>
        isGroup ? `${revoker} 撤回了一条消息` : "对方撤回了一条消息",
      otherMine: (revoker, role) => `${roleZh(role)} ${revoker} 撤回了你的一条消息`,
      otherOther: (revoker, role, sender) =>
        `${roleZh(role)} ${revoker} 撤回了成员 ${sender} 的一条消息`,
    },
  },
};

function roleZh(role) {
  return role === "owner" ? "群主" : "管理员";
}

const LANG_KEY = "im-revoke-demo-lang";

let lang = "en";
try {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "zh") lang = saved;
} catch {
  // storage may be unavailable (private mode); English then.
}

/** The current language: "en" or "zh". */
export function getLang() {
  return lang;
}

/** Switches the language (and remembers it). */
export function setLang(l) {
  lang = l === "zh" ? "zh" : "en";
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // not remembered; fine.
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The string (or string-making function) `key` in the current language. */
export function t(key) {
  return STRINGS[lang][key];
}

/**
 * The notice that replaces a revoked bubble, as seen by `me`.
 * `msg` is a message object (sender, groupID); `info` its revokerInfo ({ userID, role }).
 */
export function revokeNotice(me, msg, info) {
  const n = t("notices");
  const revoker = info ? info.userID : msg.sender;
  const role = info ? info.role : "sender";
  const isGroup = !!msg.groupID;
  if (revoker === me) {
    return msg.sender === me ? n.selfSelf() : n.selfOther(msg.sender);
  }
  if (role === "sender" || revoker === msg.sender) {
    return n.otherOwn(revoker, role, msg.sender, isGroup);
  }
  if (msg.sender === me) return n.otherMine(revoker, role, msg.sender, isGroup);
  return n.otherOther(revoker, role, msg.sender, isGroup);
}

/** 83_000 ms -> "01:23". */
export function mmss(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}
