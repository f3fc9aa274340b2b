// Compile-only check of the published TypeScript types (never run): uses the API the way an
// app does and checks that mistakes are caught. `npx tsc --noEmit -p tests/types` after a build.
import init, {
  ChatClient,
  LocalHub,
  type AdvancedMsgListener,
  type CanRevokeResult,
  type CustomElem,
  type FileElem,
  type ImageInfo,
  type ConnectionListener,
  type Conversation,
  type ConversationListener,
  type ConversationManager,
  type ConversationPage,
  type ConversationType,
  type Group,
  type HistoryMessageResult,
  type ImError,
  type Message,
  type MessageManager,
  type MessageSearchParam,
  type MessageSearchResult,
  type MessageSearchResultItem,
  type ReplyTo,
  type RevokerInfo,
  type TextMessageOptions,
  type SendMessageOptions,
} from "im-revoke";

export async function usage(userSig: string): Promise<void> {
  await init();
  const hub = new LocalHub({ revokeTimeLimit: 120, adminRevokeTimeLimit: null });
  const defaults = new LocalHub();
  const limit: number = defaults.revokeTimeLimit;
  const alice: ChatClient = await ChatClient.local(hub, "alice");
  const bob: ChatClient = await ChatClient.connect({ url: "ws://127.0.0.1:8080/ws", userID: "bob", userSig });
  const who: string = alice.userID;
  const status: 1 | 2 | 3 = bob.getLoginStatus();
  const serverNow: number = alice.getServerTime();

  const mm: MessageManager = bob.getMessageManager();
  const listener: AdvancedMsgListener = {
    onRecvNewMessage(msg: Message) {
      const text: string | undefined = msg.textElem?.text;
      const self: boolean = msg.isSelf;
      void [text, self, msg.userID ?? msg.groupID, msg.timestamp, msg.seq];
    },
    onRecvMessageRevoked(msgID: string, revokerInfo: RevokerInfo, reason: string) {
      const by: string = revokerInfo.userID;
      const role: "sender" | "owner" | "admin" = revokerInfo.role;
      void [msgID, by, role, reason];
    },
  };
  mm.addAdvancedMsgListener(listener);
  mm.addAdvancedMsgListener({}); // every method is optional
  mm.addAdvancedMsgListener({ onGroupChanged(group: Group) { void group.members.length; } });
  mm.removeAdvancedMsgListener(listener);

  const connection: ConnectionListener = {
    onConnecting() {},
    onConnectSuccess() {},
    onConnectFailed(code: number, desc: string) { void [code, desc]; },
    onUserSigExpired() {},
    onStorageWarning(kind: "unavailable" | "rebuilt" | "readonly" | "writer" | "quota", desc: string) { void [kind, desc]; },
  };
  bob.addConnectionListener(connection);
  bob.removeConnectionListener(connection);

  const amm = alice.getMessageManager();
  const msg: Message = amm.createTextMessage("hi");
  const sent: Message = await amm.sendMessage(msg, "bob", null);
  await amm.sendMessage(amm.createTextMessage("hi all"), null, "g1");
  const check: CanRevokeResult = amm.canRevoke(sent);
  const remaining: number | null = check.remainingMs;
  const why: number | null = check.code;
  const allowed: boolean = amm.canRevoke(sent.msgID).allowed;
  const revoked: void = await amm.revokeMessage(msg, "typo");
  await amm.revokeMessage(sent.msgID);

  const page: HistoryMessageResult = await amm.getHistoryMessageList({ userID: "bob", count: 20 });
  const oldest = page.messageList.at(-1);
  if (oldest && !page.isCompleted) {
    await amm.getHistoryMessageList({ userID: "bob", count: 20, lastMsgSeq: oldest.seq });
  }
  for (const m of await amm.findMessages([msg.msgID])) {
    if (m.status === 6 && m.isRevoked && m.revokerInfo) {
      const reason: string | null = m.revokeReason;
      const at: number | null = m.revokeTimeMs;
      void [m.revokerInfo.userID, reason, at];
    }
  }

  // Rich messages: custom (2), and what image (3) and file (6) messages carry.
  const card: Message = amm.createCustomMessage(JSON.stringify({ card: 7 }), "a card", "");
  await amm.sendMessage(amm.createCustomMessage("only data"), "bob", null);
  await amm.sendMessage(card, "bob", null);
  const custom: CustomElem | null = card.customElem;
  const pictures: ImageInfo[] = card.imageElem?.imageList ?? [];
  const thumb = pictures.find((p) => p.type === 2);
  const file: FileElem | null = card.fileElem;
  void [custom?.data, custom?.desc, custom?.extension, thumb?.url, thumb?.width, file?.fileName, file?.fileSize, file?.url];
  // Image and file messages: created at once from a File or Blob, uploaded by sendMessage.
  const photo: Message = amm.createImageMessage(new Blob([new Uint8Array(8)], { type: "image/png" }));
  const options: SendMessageOptions = { onProgress: (fraction: number) => void fraction };
  const shown: Message = await amm.sendMessage(photo, "bob", null, options);
  const original: ImageInfo | undefined = shown.imageElem?.imageList.find((p) => p.type === 1);
  void [original?.url, original?.width, original?.height, original?.size];
  const doc: Message = amm.createFileMessage(new File(["report"], "report.txt", { type: "text/plain" }));
  await amm.sendMessage(doc, null, "g1", { onProgress(f) { void f; } });
  await amm.sendMessage(doc, null, "g1", {});
  void new LocalHub({ maxUploadBytes: 5 * 1024 * 1024 });

  const gm = alice.getGroupManager();
  const group: Group = await gm.createGroup({ groupID: "g1", name: "team", admins: ["carol"], members: ["bob"] });
  await gm.addGroupMembers({ groupID: group.groupID, userIDList: ["dave"] });
  await gm.removeGroupMembers({ groupID: "g1", userIDList: ["dave"] });
  await gm.setGroupMemberRole({ groupID: "g1", userID: "bob", role: 300 });
  const joined: Group[] = await bob.getGroupManager().getJoinedGroupList();
  const adminOf: string[] = joined.filter((g) => g.admins.includes(bob.userID)).map((g) => g.groupID);

  // Conversations, unread counts, replies, search.
  const cm: ConversationManager = bob.getConversationManager();
  const convListener: ConversationListener = {
    onNewConversation(list: Conversation[]) { void list.map((c) => c.conversationID); },
    onConversationChanged(list: Conversation[]) {
      for (const c of list) {
        const kind: ConversationType = c.type;
        const preview: string | undefined = c.lastMessage?.isRevoked ? "revoked" : c.lastMessage?.textElem?.text;
        void [kind, preview, c.userID ?? c.groupID, c.showName, c.unreadCount, c.orderKey];
      }
    },
    onTotalUnreadMessageCountChanged(total: number) { void total; },
  };
  cm.addConversationListener(convListener);
  cm.addConversationListener({}); // every method is optional
  let convPage: ConversationPage = await cm.getConversationList(0, 50);
  while (!convPage.isFinished) convPage = await cm.getConversationList(convPage.nextSeq, 50);
  const conv: Conversation = await cm.getConversation("c2c_alice");
  const unreadTotal: number = await cm.getTotalUnreadMessageCount();
  const cleaned: void = await cm.cleanConversationUnreadMessageCount(conv.conversationID, 0, 0);
  await cm.cleanConversationUnreadMessageCount("group_g1", 0, 12);
  cm.removeConversationListener(convListener);
  mm.addAdvancedMsgListener({
    onRecvMessageModified(msg: Message) {
      const quote: ReplyTo | null = msg.replyTo;
      if (quote?.isRevoked) void [quote.msgID, quote.sender, quote.abstract];
    },
  });
  const replyOptions: TextMessageOptions = { replyTo: sent, cloudCustomData: JSON.stringify({ mood: 1 }) };
  const reply: Message = await amm.sendMessage(amm.createTextMessage("agreed", replyOptions), "bob", null);
  amm.createTextMessage("by id", { replyTo: sent.msgID });
  const data: string | null = reply.cloudCustomData;
  const param: MessageSearchParam = { keywordList: ["lunch", "noon"], keywordListMatchType: 1, conversationID: "c2c_bob" };
  const found: MessageSearchResult = await amm.searchLocalMessages(param);
  await amm.searchLocalMessages({ keywordList: ["lunch"] });
  const items: MessageSearchResultItem[] = found.messageSearchResultItems;
  void [found.totalCount, items.map((i) => [i.conversationID, i.messageCount, i.messageList.length]), unreadTotal, cleaned, data];

  // Offline and back with the same client: queued requests go out after reconnect().
  const offline: void = await bob.disconnect();
  const queued: Promise<void> = mm.revokeMessage(sent.msgID, "typo");
  const back: void = await bob.reconnect();
  await queued;

  try {
    await amm.revokeMessage("unknown");
  } catch (e) {
    const err = e as ImError;
    const code: number = err.code;
    const desc: string = err.desc;
    const isError: boolean = err instanceof Error;
    void [code, desc, isError, err.message];
  }
  await alice.logout();
  const kept: ChatClient = await ChatClient.connect({ url: "ws://127.0.0.1:8080/ws", userID: "bob", userSig, storage: "indexeddb", cacheSize: 1000, SDKAppID: 1400000000 });
  const where: string = kept.storage;
  const inMemory: ChatClient = await ChatClient.local(hub, "carol", { storage: "memory", cacheSize: 50 });
  await kept.logout({ clear: true });
  await inMemory.logout();
  void where;

  // Mistakes the types catch:
  // @ts-expect-error revokeTimeLimit is a number of seconds
  new LocalHub({ revokeTimeLimit: "120" });
  // @ts-expect-error a listener method has the wrong parameters
  mm.addAdvancedMsgListener({ onRecvMessageRevoked(msgID: number) { void msgID; } });
  // @ts-expect-error revokeMessage takes a message or a msgID
  await amm.revokeMessage(42);
  // @ts-expect-error Message fields are typed
  const wrong: number = sent.msgID;
  // @ts-expect-error the history option has no "conversationID"
  await amm.getHistoryMessageList({ conversationID: "C2Cbob" });
  // @ts-expect-error roles are 200 or 300 (400 is the owner)
  await gm.setGroupMemberRole({ groupID: "g1", userID: "bob", role: "admin" });
  // @ts-expect-error storage is "indexeddb" or "memory"
  await ChatClient.connect({ url: "ws://x", userID: "bob", userSig, storage: "disk" });
  // @ts-expect-error custom data is a string
  amm.createCustomMessage({ card: 7 });
  // @ts-expect-error an image message is made of a File or Blob
  amm.createImageMessage("photo.png");
  // @ts-expect-error onProgress hears a number
  await amm.sendMessage(doc, "bob", null, { onProgress: (f: string) => void f });
  // @ts-expect-error ChatClient has no public constructor
  new ChatClient();
  // @ts-expect-error getJoinedGroupList takes no option
  await gm.getJoinedGroupList({ groupID: "g1" });
  // @ts-expect-error it resolves with groups, not messages
  const notMessages: Message[] = await gm.getJoinedGroupList();
  // @ts-expect-error conversation IDs are strings
  await cm.getConversation(7);
  // @ts-expect-error the total is a number
  const notTotal: string = await cm.getTotalUnreadMessageCount();
  // @ts-expect-error the listener gets a list of conversations
  cm.addConversationListener({ onNewConversation(c: string) { void c; } });
  // @ts-expect-error replyTo is a message or a msgID
  amm.createTextMessage("x", { replyTo: 5 });
  // @ts-expect-error cloudCustomData is a string
  amm.createTextMessage("x", { cloudCustomData: { mood: 1 } });
  // @ts-expect-error keywordList is required
  await amm.searchLocalMessages({ conversationID: "c2c_bob" });

  void [limit, who, status, serverNow, remaining, why, allowed, revoked, wrong, adminOf, offline, back, notMessages, notTotal];
}
