//! The browser's store of a client: IndexedDB, one database per (server, SDKAppID, userID)
//! (`persist::db_name`). What is kept and how it is checked is `im_revoke_core::persist`; this
//! file only moves records in and out.
//!
//! Layout (schema `persist::SCHEMA_VERSION`, the database's version): object store `meta`,
//! key `"meta"`: `{ schema, user, cursor, outbox: [[reqId, msgID, reason | null], …] }`;
//! object store `msgs`, key path `id`, index `t` (server time; unsent messages sort newest):
//! `{ id, t, j }` with `j` the record text (`persist::encode_message`).
//!
//! - Opening: no IndexedDB (some private windows), a refused open or a read that fails: the
//!   client runs in memory and says so (`onStorageWarning("unavailable", …)`); a store that
//!   does not check (another schema, another user, a corrupt record) is cleared and rebuilt
//!   from the server (`"rebuilt"`).
//! - Tabs: the tab that holds the Web Lock named after the database is its only writer; a tab
//!   opened while another holds it restores from the store but writes nothing (`"readonly"`),
//!   and waits for the lock: when the writer closes, it takes the store over (`"writer"`),
//!   adopts what the closed tab left in the outbox and writes what it holds
//!   (`Client::take_over_store`). Without Web Locks every tab writes (last write wins).
//! - Writes: one readwrite transaction per batch of the session (cursor, outbox and the
//!   messages the batch changed together). A transaction refused for quota deletes the older
//!   half of the stored history, writes the cursor and outbox again (`"quota"`).
//!
//! The JavaScript below calls nothing in wasm synchronously but the warning callback, which
//! the session runs with no borrow held.

use std::cell::RefCell;

use im_revoke_core::persist::{Delta, OutboxEntry, StoredMeta, SCHEMA_VERSION};
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(inline_js = r#"
function tx(db, mode) { return db.transaction(["meta", "msgs"], mode); }
function done(t) { return new Promise((ok, no) => { t.oncomplete = () => ok(); t.onerror = t.onabort = () => no(t.error); }); }
function lock(name) {
  return new Promise((resolve) => {
    const locks = typeof navigator !== "undefined" && navigator.locks;
    if (!locks) return resolve(null);
    locks.request(name, { ifAvailable: true }, (l) => {
      if (!l) { resolve(false); return; }
      return new Promise((release) => resolve(release));
    }).catch(() => resolve(null));
  });
}
function openDb(name, version) {
  return new Promise((resolve) => {
    let old = version, req;
    try {
      if (typeof indexedDB === "undefined" || !indexedDB) return resolve("IndexedDB is not available");
      req = indexedDB.open(name, version);
    } catch (e) { return resolve(String((e && e.name) || e)); }
    req.onupgradeneeded = (ev) => {
      old = ev.oldVersion;
      const db = req.result;
      if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
      if (!db.objectStoreNames.contains("msgs")) db.createObjectStore("msgs", { keyPath: "id" }).createIndex("t", "t");
    };
    req.onerror = () => resolve(String((req.error && req.error.name) || "open failed"));
    req.onsuccess = () => resolve({ db: req.result, old });
  });
}
async function readAll(o, release, limit) {
  const out = { db: o.db, old: o.old, release, writer: release !== false, meta: undefined, recs: [] };
  try {
    const t = tx(o.db, "readonly");
    t.objectStore("meta").get("meta").onsuccess = (e) => { out.meta = e.target.result; };
    const c = t.objectStore("msgs").index("t").openCursor(null, "prev");
    c.onsuccess = () => { const r = c.result; if (r && out.recs.length < limit) { out.recs.push(r.value && r.value.j); r.continue(); } };
    await done(t);
    return out;
  } catch (e) { try { o.db.close(); } catch (_) {} return String((e && e.name) || e); }
}
export async function idbStart(name, version, limit) {
  const o = await openDb(name, version);
  if (typeof o === "string") return o;
  const release = await lock(name);
  const v = await readAll(o, release, limit);
  if (typeof v === "string" && typeof release === "function") release();
  return v;
}
// A tab that reads while another writes waits for the writer's lock; once it has it (the
// writer closed), the store is opened and read again and handed to `got`. Returns the cancel.
export function idbTakeover(name, version, limit, got) {
  const locks = typeof navigator !== "undefined" && navigator.locks;
  const ac = typeof AbortController === "function" ? new AbortController() : null;
  let off = false;
  if (locks) locks.request(name, ac ? { signal: ac.signal } : {}, () => {
    if (off) return;
    return new Promise(async (release) => {
      const o = await openDb(name, version);
      const v = typeof o === "string" ? o : await readAll(o, release, limit);
      if (typeof v === "string" || off) { if (typeof v !== "string") try { v.db.close(); } catch (_) {} release(); return; }
      try { got(v); } catch (_) { try { v.db.close(); } catch (_) {} release(); }
    });
  }).catch(() => {});
  return () => { off = true; try { if (ac) ac.abort(); } catch (_) {} };
}
export function idbClear(db) {
  try { const t = tx(db, "readwrite"); t.objectStore("meta").clear(); t.objectStore("msgs").clear(); } catch (_) {}
}
function shrink(db, meta, drop, warn) {
  try {
    const t = tx(db, "readwrite");
    const ms = t.objectStore("msgs");
    for (const id of drop) ms.delete(id);
    const n = ms.count();
    n.onsuccess = () => {
      let left = Math.floor(n.result / 2);
      const c = ms.index("t").openCursor();
      c.onsuccess = () => { const r = c.result; if (r && left-- > 0) { if (r.value.t < 9007199254740991) r.delete(); r.continue(); } };
    };
    if (meta) t.objectStore("meta").put(meta, "meta");
    const say = (desc) => { if (typeof warn === "function") warn("quota", desc); };
    t.oncomplete = () => say("storage quota exceeded: older history was deleted from the store (outbox and cursor kept)");
    t.onabort = () => say("storage quota exceeded: the store could not be written");
  } catch (_) {}
}
// `m`: null, or `[schema, user, cursor, ...outbox]`; `puts`: `[id, t, j]` triples.
export function idbWrite(db, m, puts, tombs, warn) {
  let t;
  try { t = tx(db, "readwrite"); } catch (_) { return; }
  if (m) {
    const [schema, user, cursor, ...outbox] = m;
    const meta = { schema, user, cursor, outbox };
    db._imMeta = meta;
    t.objectStore("meta").put(meta, "meta");
  }
  const ms = t.objectStore("msgs");
  for (const p of puts) ms.put({ id: p[0], t: p[1], j: p[2] });
  for (const [id, rev, erase] of tombs) {
    const g = ms.get(id);
    g.onsuccess = () => {
      const rec = g.result;
      if (!rec) return;
      try { const m = JSON.parse(rec.j); m.revoke = JSON.parse(rev); if (erase) m.elem = null; rec.j = JSON.stringify(m); ms.put(rec); }
      catch (_) { ms.delete(id); }
    };
  }
  t.onabort = () => {
    // Revoked copies go rather than keep their text.
    if (t.error && t.error.name === "QuotaExceededError") shrink(db, db._imMeta, tombs.map((x) => x[0]), warn);
  };
}
export function idbDelete(db, name, release) {
  try { if (release) release(); } catch (_) {}
  try { if (db) db.close(); } catch (_) {}
  return new Promise((r) => {
    try { const q = indexedDB.deleteDatabase(name); q.onsuccess = q.onerror = q.onblocked = () => r(); } catch (_) { r(); }
  });
}
export function idbClose(db, release) {
  try { if (release) release(); } catch (_) {}
  try { db.close(); } catch (_) {}
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = idbStart)]
    fn idb_start(name: &str, version: u32, limit: u32) -> Promise;
    #[wasm_bindgen(js_name = idbTakeover)]
    fn idb_takeover(name: &str, version: u32, limit: u32, got: &JsValue) -> Function;
    #[wasm_bindgen(js_name = idbClear)]
    fn idb_clear(db: &JsValue);
    #[wasm_bindgen(js_name = idbWrite)]
    fn idb_write(db: &JsValue, meta: &JsValue, puts: &Array, tombs: &Array, warn: &JsValue);
    #[wasm_bindgen(js_name = idbDelete)]
    fn idb_delete(db: &JsValue, name: &str, release: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = idbClose)]
    fn idb_close(db: &JsValue, release: &JsValue);
}

/// Opens (and locks, and reads) the database `name`: resolves with what [`Store::opened`]
/// reads, or a string saying why not.
pub(crate) fn start(name: &str, limit: usize) -> Promise {
    idb_start(name, SCHEMA_VERSION, limit.min(u32::MAX as usize) as u32)
}

/// For a tab that reads the store another tab writes: waits for the writer's lock and calls
/// `got` with the store, opened and read again, as [`start`] resolves (never synchronously).
/// Returns the function that stops waiting (`logout`).
pub(crate) fn takeover(name: &str, limit: usize, got: &JsValue) -> Function {
    idb_takeover(
        name,
        SCHEMA_VERSION,
        limit.min(u32::MAX as usize) as u32,
        got,
    )
}

/// Gives back a store [`takeover`] handed over that nobody will use (its client is gone).
pub(crate) fn release(v: &JsValue) {
    idb_close(&get(v, "db"), &get(v, "release"));
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

/// An open store.
pub(crate) struct Store {
    db: JsValue,
    name: String,
    user: String,
    release: JsValue,
    writer: bool,
    /// `onStorageWarning(kind, desc)`, for warnings found while writing.
    pub(crate) warn: RefCell<Option<Function>>,
}

/// What an opening found: the store (if any), what to restore from, and the records.
pub(crate) struct Opened {
    pub(crate) store: Option<Store>,
    pub(crate) meta: Option<StoredMeta>,
    pub(crate) records: Vec<String>,
    /// A warning for the connection listeners (`kind`, `desc`).
    pub(crate) warning: Option<(&'static str, String)>,
}

impl Store {
    /// Reads what `start` resolved with. A corrupt record is reported as a record that cannot
    /// be decoded (the core then refuses the whole store).
    pub(crate) fn opened(v: &JsValue, name: &str, user: &str) -> Opened {
        if let Some(why) = v.as_string() {
            return Opened {
                store: None,
                meta: None,
                records: Vec::new(),
                warning: Some(("unavailable", {
                    let mut d = String::from("IndexedDB unavailable (");
                    d.push_str(&why);
                    d.push_str("): kept in memory only");
                    d
                })),
            };
        }
        let writer = get(v, "writer").as_bool().unwrap_or(false);
        let old = get(v, "old").as_f64().unwrap_or(0.0) as u32;
        let store = Store {
            db: get(v, "db"),
            name: name.to_string(),
            user: user.to_string(),
            release: get(v, "release"),
            writer,
            warn: RefCell::new(None),
        };
        let kept = old == 0 || im_revoke_core::persist::migrate(old);
        let m = get(v, "meta");
        let meta = (kept && !m.is_undefined()).then(|| StoredMeta {
            schema: get(&m, "schema").as_f64(),
            user: get(&m, "user").as_string(),
            cursor: {
                let c = get(&m, "cursor");
                if c.is_null() {
                    None
                } else {
                    Some(c.as_f64().unwrap_or(-1.0))
                }
            },
            outbox: outbox_of(&get(&m, "outbox")),
        });
        let records: Vec<String> = if kept {
            Array::from(&get(v, "recs"))
                .iter()
                .map(|r| r.as_string().unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        };
        let warning = (!writer).then(|| {
            (
                "readonly",
                "another tab of this user writes the store: this one reads it only".to_string(),
            )
        });
        Opened {
            store: Some(store),
            meta,
            records,
            warning,
        }
    }

    /// Whether this tab writes the store.
    pub(crate) fn writer(&self) -> bool {
        self.writer
    }

    /// Empties the store (it did not check: rebuilt from the server).
    pub(crate) fn clear(&self) {
        if self.writer {
            idb_clear(&self.db);
        }
    }

    /// Writes a delta in one transaction (nothing from a tab that does not write).
    pub(crate) fn write(&self, d: Delta) {
        if !self.writer {
            return;
        }
        // The core hands the meta record whole (cursor and outbox) when either changed.
        let meta = match &d.outbox {
            Some(outbox) => self.meta_value(&d.cursor, outbox),
            None => JsValue::NULL,
        };
        // Arrays, made objects by `idbWrite` (no property set from here).
        let puts = Array::new();
        for r in d.put {
            puts.push(&Array::of3(
                &JsValue::from_str(&r.id),
                &JsValue::from_f64(r.time_ms as f64),
                &JsValue::from_str(&r.text),
            ));
        }
        let tombs = Array::new();
        for t in d.tombstones {
            tombs.push(&Array::of3(
                &JsValue::from_str(&t.id),
                &JsValue::from_str(&t.revoke),
                &JsValue::from_bool(t.erase),
            ));
        }
        // `undefined` until the session set it (the glue then tells no one).
        let warn = self
            .warn
            .borrow()
            .clone()
            .map_or(JsValue::UNDEFINED, JsValue::from);
        idb_write(&self.db, &meta, &puts, &tombs, &warn);
    }

    /// The meta record as `idbWrite` takes it: `[schema, user, cursor, ...outbox]`.
    fn meta_value(&self, cursor: &Option<u64>, outbox: &[OutboxEntry]) -> JsValue {
        let list = Array::new();
        list.push(&JsValue::from(SCHEMA_VERSION));
        list.push(&JsValue::from_str(&self.user));
        list.push(&cursor.map_or(JsValue::NULL, |c| JsValue::from_f64(c as f64)));
        for e in outbox {
            let reason = e.revoke.as_deref().map_or(JsValue::NULL, JsValue::from_str);
            list.push(&Array::of3(
                &JsValue::from_str(&e.req_id),
                &JsValue::from_str(&e.msg_id),
                &reason,
            ));
        }
        list.into()
    }

    /// Closes the store, releasing the writer's lock.
    pub(crate) fn close(self) {
        idb_close(&self.db, &self.release);
    }

    /// Deletes the database (`logout({ clear: true })`).
    pub(crate) fn delete(self) -> Promise {
        idb_delete(&self.db, &self.name, &self.release)
    }
}

/// The outbox entries of a meta record; a malformed entry becomes one the core refuses.
fn outbox_of(v: &JsValue) -> Vec<OutboxEntry> {
    let Some(list) = v.dyn_ref::<Array>() else {
        return vec![OutboxEntry {
            req_id: String::new(),
            msg_id: String::new(),
            revoke: None,
        }];
    };
    // A malformed entry keeps an empty request id, which the core refuses.
    list.iter()
        .map(|e| {
            let s = |i| Reflect::get_u32(&e, i).ok().and_then(|v| v.as_string());
            let reason = Reflect::get_u32(&e, 2).unwrap_or(JsValue::NULL);
            let revoke = reason.as_string();
            let ok = reason.is_null() || revoke.is_some();
            OutboxEntry {
                req_id: s(0).filter(|_| ok).unwrap_or_default(),
                msg_id: s(1).unwrap_or_default(),
                revoke,
            }
        })
        .collect()
}
