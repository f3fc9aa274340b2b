// Types of `im-revoke/tencent`: the names of Tencent's web SDK `@tencentcloud/chat` (3.6.x) for
// what this layer supports. Hand-written (the layer is hand-written JavaScript); checked by
// tests/types/tencent.ts.

import type { LocalHub } from "./im_revoke.js";

/** `TencentCloudChat.create(options)`. */
export interface ChatOptions {
  /** The app's SDKAppID (the server checks UserSigs against it). */
  SDKAppID: number;
  /** The im-revoke server's WebSocket endpoint, e.g. "wss://chat.example.com/ws" — the one option Tencent's `create` does not have. */
  url?: string;
  /** Instead of `url`: an embedded `LocalHub` (from `im-revoke`), for demos and tests without a server. */
  hub?: LocalHub;
  /** Where the client keeps what it was shown (default: "indexeddb" with a server, "memory" on a hub). */
  storage?: "indexeddb" | "memory";
}

/** `TencentCloudChat.EVENT`. */
export interface EVENT {
  SDK_READY: "sdkStateReady";
  SDK_NOT_READY: "sdkStateNotReady";
  SDK_DESTROY: "sdkDestroy";
  MESSAGE_RECEIVED: "onMessageReceived";
  MESSAGE_MODIFIED: "onMessageModified";
  MESSAGE_REVOKED: "onMessageRevoked";
  CONVERSATION_LIST_UPDATED: "onConversationListUpdated";
  TOTAL_UNREAD_MESSAGE_COUNT_UPDATED: "onTotalUnreadMessageCountUpdated";
  NET_STATE_CHANGE: "netStateChange";
  KICKED_OUT: "kickedOut";
}

/** `TencentCloudChat.TYPES`. */
export interface TYPES {
  MSG_TEXT: "TIMTextElem";
  MSG_CUSTOM: "TIMCustomElem";
  MSG_IMAGE: "TIMImageElem";
  MSG_FILE: "TIMFileElem";
  CONV_C2C: "C2C";
  CONV_GROUP: "GROUP";
  MSG_PRIORITY_HIGH: "High";
  MSG_PRIORITY_NORMAL: "Normal";
  MSG_PRIORITY_LOW: "Low";
  MSG_PRIORITY_LOWEST: "Lowest";
  NET_STATE_CONNECTED: "connected";
  NET_STATE_CONNECTING: "connecting";
  NET_STATE_DISCONNECTED: "disconnected";
  KICKED_OUT_USERSIG_EXPIRED: "userSigExpired";
}

export type MessageType = TYPES["MSG_TEXT" | "MSG_CUSTOM" | "MSG_IMAGE" | "MSG_FILE"];
export type ConversationType = TYPES["CONV_C2C" | "CONV_GROUP"];
export type MessagePriority = TYPES["MSG_PRIORITY_HIGH" | "MSG_PRIORITY_NORMAL" | "MSG_PRIORITY_LOW" | "MSG_PRIORITY_LOWEST"];
export type NetState = TYPES["NET_STATE_CONNECTED" | "NET_STATE_CONNECTING" | "NET_STATE_DISCONNECTED"];

export interface TextPayload {
  text: string;
}
export interface CustomPayload {
  data: string;
  description: string;
  extension: string;
}
export interface ImageInfo {
  /** 0 original, 1 large, 2 small (the thumbnail). */
  type: 0 | 1 | 2;
  width: number;
  height: number;
  size: number;
  url: string;
  imageUrl: string;
}
export interface ImagePayload {
  uuid: string;
  /** 1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other. */
  imageFormat: number;
  imageInfoArray: ImageInfo[];
}
export interface FilePayload {
  uuid: string;
  fileName: string;
  fileSize: number;
  fileUrl: string;
}

export interface RevokerInfo {
  userID: string;
  nick: string;
  avatar: string;
}

/** The message this one replies to, kept up to date by the server (`abstract` "" once that one is revoked). */
export interface ReplyTo {
  msgID: string;
  sender: string;
  abstract: string;
  isRevoked: boolean;
}

/**
 * A message. The layer keeps one object per `ID` and updates it in place: the object a
 * `MESSAGE_REVOKED` event carries is the one the app already holds (`isRevoked` turns true;
 * for everyone but the sender the payload is emptied).
 */
export interface Message {
  ID: string;
  type: MessageType;
  payload: TextPayload | CustomPayload | ImagePayload | FilePayload;
  /** "C2C<userID>" or "GROUP<groupID>". */
  conversationID: string;
  conversationType: ConversationType;
  /** The receiver's userID (one-to-one) or the groupID. */
  to: string;
  from: string;
  flow: "in" | "out";
  /** Server time in seconds once sent (creation time before). */
  time: number;
  clientTime: number;
  sequence: number;
  status: "unSend" | "success" | "fail";
  isRevoked: boolean;
  revoker: string;
  revokerInfo: RevokerInfo;
  revokeReason: string;
  priority: MessagePriority;
  nick: string;
  avatar: string;
  nameCard: string;
  isPeerRead: boolean;
  isRead: boolean;
  isDeleted: boolean;
  isModified: boolean;
  isResend: boolean;
  isSystemMessage: boolean;
  needReadReceipt: boolean;
  atUserList: string[];
  cloudCustomData: string;
  /** Not in Tencent's Message: the reply's quote as the server keeps it (`null` if not a reply). */
  replyTo: ReplyTo | null;
}

export interface LastMessage {
  lastTime: number;
  lastSequence: number;
  fromAccount: string;
  type: MessageType;
  payload: Message["payload"];
  /** The text, "[图片]", "[文件]", "[自定义消息]"; "" once revoked (show your own "revoked" line from `isRevoked`). */
  messageForShow: string;
  isRevoked: boolean;
  revoker: string;
  cloudCustomData: string;
  nick: string;
  nameCard: string;
  isPeerRead: boolean;
  onlineOnlyFlag: boolean;
}

export interface Conversation {
  conversationID: string;
  type: ConversationType;
  subType: string;
  unreadCount: number;
  lastMessage: LastMessage | null;
  userProfile: { userID: string; nick: string; avatar: string } | null;
  groupProfile: { groupID: string; name: string; type: string } | null;
  remark: string;
  isPinned: boolean;
  messageRemindType: string;
  peerReadTime: number;
  groupAtInfoList: unknown[];
  markList: number[];
  customData: string;
  conversationGroupList: string[];
  draftText: string;
}

/** What every promise of the layer resolves with. */
export interface ChatResponse<T> {
  code: 0;
  data: T;
}

/**
 * What every promise of the layer rejects with (and synchronous calls throw): a real `Error`
 * with Tencent's numeric `code` — e.g. 20016 / 10031 revoke time limit, 2105 not a message of
 * this chat, 2999 not ready — and, for a failed send or revoke, `data.message`.
 */
export interface ChatError extends Error {
  code: number;
  data?: { message: Message };
}

/** The `data` of each event. */
export interface EventData {
  sdkStateReady: undefined;
  sdkStateNotReady: undefined;
  sdkDestroy: undefined;
  onMessageReceived: Message[];
  onMessageModified: Message[];
  onMessageRevoked: Message[];
  onConversationListUpdated: Conversation[];
  onTotalUnreadMessageCountUpdated: number;
  netStateChange: { state: NetState };
  kickedOut: { type: TYPES["KICKED_OUT_USERSIG_EXPIRED"] };
}

export interface ChatEvent<K extends keyof EventData> {
  name: K;
  data: EventData[K];
}

export interface CreateMessageOptions<P> {
  to: string;
  conversationType: ConversationType;
  payload: P;
  priority?: MessagePriority;
  cloudCustomData?: string;
}

export interface CreateUploadOptions extends CreateMessageOptions<{ file: File | Blob | HTMLInputElement | { files: ArrayLike<File> } }> {
  /** Upload progress, a fraction from 0 to 1. */
  onProgress?: (fraction: number) => void;
}

/** One `TencentCloudChat.create()` instance. */
export interface ChatSDK {
  on<K extends keyof EventData>(eventName: K, handler: (event: ChatEvent<K>) => void, context?: unknown): void;
  off<K extends keyof EventData>(eventName: K, handler: (event: ChatEvent<K>) => void, context?: unknown): void;
  login(options: { userID: string; userSig?: string }): Promise<ChatResponse<{ repeatLogin: boolean }>>;
  logout(): Promise<ChatResponse<Record<string, never>>>;
  destroy(): Promise<ChatResponse<Record<string, never>>>;
  isReady(): boolean;
  createTextMessage(options: CreateMessageOptions<{ text: string }>): Message;
  createCustomMessage(options: CreateMessageOptions<{ data?: string; description?: string; extension?: string }>): Message;
  createImageMessage(options: CreateUploadOptions): Message;
  createFileMessage(options: CreateUploadOptions): Message;
  sendMessage(message: Message): Promise<ChatResponse<{ message: Message }>>;
  revokeMessage(message: Message): Promise<ChatResponse<{ message: Message }>>;
  getMessageList(options: {
    conversationID: string;
    nextReqMessageID?: string;
    count?: number;
  }): Promise<ChatResponse<{ messageList: Message[]; nextReqMessageID: string; isCompleted: boolean }>>;
  /** A message this chat handed out, while the app holds it or it is among the 5,000 used last; else `null`. */
  findMessage(messageID: string): Message | null;
  getConversationList(conversationIDList?: string[]): Promise<ChatResponse<{ conversationList: Conversation[]; isSyncCompleted: boolean }>>;
  getConversationProfile(conversationID: string): Promise<ChatResponse<{ conversation: Conversation }>>;
  setMessageRead(options: { conversationID: string }): Promise<ChatResponse<Record<string, never>>>;
  getTotalUnreadMessageCount(): number;
}

export interface TencentCloudChatStatic {
  create(options: ChatOptions): ChatSDK;
  readonly EVENT: EVENT;
  readonly TYPES: TYPES;
}

declare const TencentCloudChat: TencentCloudChatStatic;
export declare const EVENT: EVENT;
export declare const TYPES: TYPES;
export { TencentCloudChat };
export default TencentCloudChat;
