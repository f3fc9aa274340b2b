// Compile-only check of `im-revoke/tencent`'s types (never run): Tencent web SDK code as an app
// writes it, and the mistakes the types catch. `npx tsc --noEmit -p tests/types` after a build.
import TencentCloudChat, { type ChatError, type ChatSDK, type Conversation, type Message } from "im-revoke/tencent";
import { LocalHub } from "im-revoke";

export async function tencentUsage(userSig: string, input: HTMLInputElement): Promise<void> {
  const chat: ChatSDK = TencentCloudChat.create({ SDKAppID: 1400000000, url: "ws://127.0.0.1:8080/ws" });
  const local: ChatSDK = TencentCloudChat.create({ SDKAppID: 1400000000, hub: new LocalHub(), storage: "memory" });

  chat.on(TencentCloudChat.EVENT.SDK_READY, () => {});
  const onRevoked = (event: { data: Message[] }) => {
    for (const m of event.data) {
      const who: string = m.revoker;
      const gone: boolean = m.isRevoked;
      void [who, gone, m.revokerInfo.userID, m.revokeReason, m.conversationID];
    }
  };
  chat.on(TencentCloudChat.EVENT.MESSAGE_REVOKED, onRevoked);
  chat.off(TencentCloudChat.EVENT.MESSAGE_REVOKED, onRevoked);
  chat.on(TencentCloudChat.EVENT.MESSAGE_RECEIVED, ({ data }) => {
    for (const m of data) if (m.type === TencentCloudChat.TYPES.MSG_TEXT && "text" in m.payload) void m.payload.text;
  });
  chat.on(TencentCloudChat.EVENT.CONVERSATION_LIST_UPDATED, ({ data }) => {
    const list: Conversation[] = data;
    void list.map((c) => [c.conversationID, c.unreadCount, c.lastMessage?.messageForShow, c.lastMessage?.isRevoked]);
  });
  chat.on(TencentCloudChat.EVENT.TOTAL_UNREAD_MESSAGE_COUNT_UPDATED, ({ data }) => {
    const total: number = data;
    void total;
  });
  chat.on(TencentCloudChat.EVENT.NET_STATE_CHANGE, ({ data }) => {
    if (data.state === TencentCloudChat.TYPES.NET_STATE_DISCONNECTED) void 0;
  });
  chat.on(TencentCloudChat.EVENT.KICKED_OUT, ({ data }) => void data.type);

  const { data: login } = await chat.login({ userID: "alice", userSig });
  const repeat: boolean = login.repeatLogin;
  await local.login({ userID: "alice" });

  const message: Message = chat.createTextMessage({ to: "bob", conversationType: TencentCloudChat.TYPES.CONV_C2C, payload: { text: "hi" } });
  const res = await chat.sendMessage(message);
  const sent: Message = res.data.message;
  const zero: 0 = res.code;
  chat.createCustomMessage({ to: "g1", conversationType: TencentCloudChat.TYPES.CONV_GROUP, payload: { data: "{}", description: "card" } });
  chat.createImageMessage({ to: "bob", conversationType: "C2C", payload: { file: input }, onProgress: (p: number) => void p });
  chat.createFileMessage({ to: "bob", conversationType: "C2C", payload: { file: new Blob(["x"]) } });
  try {
    await chat.revokeMessage(sent);
  } catch (e) {
    const err = e as ChatError;
    if (err.code === 20016 || err.code === 10031) void err.data?.message.ID;
  }
  const page = await chat.getMessageList({ conversationID: "C2Cbob", nextReqMessageID: "", count: 15 });
  const oldestFirst: Message[] = page.data.messageList;
  const next: string = page.data.nextReqMessageID;
  const done: boolean = page.data.isCompleted;
  const found: Message | null = chat.findMessage(sent.ID);
  const { data: convs } = await chat.getConversationList();
  await chat.getConversationList(["C2Cbob"]);
  const { data: profile } = await chat.getConversationProfile("C2Cbob");
  await chat.setMessageRead({ conversationID: profile.conversation.conversationID });
  const total: number = chat.getTotalUnreadMessageCount();
  const ready: boolean = chat.isReady();
  await chat.logout();
  await chat.destroy();

  // Mistakes the types catch:
  // @ts-expect-error SDKAppID is a number
  TencentCloudChat.create({ SDKAppID: "1400000000", url: "ws://x" });
  // @ts-expect-error conversationType is "C2C" or "GROUP"
  chat.createTextMessage({ to: "bob", conversationType: "P2P", payload: { text: "hi" } });
  // @ts-expect-error the text payload is { text }
  chat.createTextMessage({ to: "bob", conversationType: "C2C", payload: "hi" });
  // @ts-expect-error sendMessage takes a Message, not an ID
  await chat.sendMessage(sent.ID);
  // @ts-expect-error unknown event names are refused
  chat.on("onMessageRecalled", () => {});
  // @ts-expect-error MESSAGE_REVOKED's data is a Message[]
  chat.on(TencentCloudChat.EVENT.MESSAGE_REVOKED, ({ data }: { data: string }) => void data);
  // @ts-expect-error findMessage may find nothing
  const sure: Message = chat.findMessage("x");

  void [repeat, zero, oldestFirst, next, done, found, convs.conversationList, total, ready, sure];
}
