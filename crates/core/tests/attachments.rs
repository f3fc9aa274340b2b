//! Rich messages through real clients and the hub: custom, image and file elements are sent,
//! delivered and listed like text; once revoked, nobody but the sender sees their content; bad
//! shapes are refused with a code on the client and on the hub; the attachment rules (type by
//! magic numbers, dimensions, keys, URL expiry) as pure functions.

use im_revoke_core::attachment::{
    absolutize, check_dimensions, check_elem, check_expiry, check_key, check_local_upload,
    check_upload, http_origin, sign_frame, signed_payload, upload_error, UrlSigner,
    DEFAULT_ALLOWED,
};
use im_revoke_core::client::{Done, Notification};
use im_revoke_core::model::{ImageInfo, MessageStatus};
use im_revoke_core::sim::World;
use im_revoke_core::{ClientFrame, Code, Config, Elem, ServerFrame};

fn pic(kind: u8, uuid: &str, w: u32, h: u32) -> ImageInfo {
    ImageInfo {
        kind,
        uuid: uuid.into(),
        url: String::new(),
        width: w,
        height: h,
        size: 1234,
    }
}

fn elems() -> Vec<Elem> {
    vec![
        Elem::Custom {
            data: "{\"card\":7}".into(),
            desc: "a card".into(),
            extension: String::new(),
        },
        Elem::Image {
            image_list: vec![pic(1, "up-1", 4000, 3000), pic(2, "up-2", 200, 150)],
        },
        Elem::File {
            uuid: "up-3".into(),
            file_name: "report.pdf".into(),
            file_size: 99,
            url: String::new(),
        },
    ]
}

fn send(w: &mut World, d: usize, elem: Elem, to: &str) -> Result<String, im_revoke_core::ImError> {
    let now = w.now_f();
    let m = w.devices[d].client.create_message(elem);
    let req = w.devices[d].client.send(&m.msg_id, Some(to), None, now)?;
    w.result(d, &req)?;
    Ok(m.msg_id)
}

#[test]
fn every_type_is_delivered_and_revoked_content_is_gone_for_others() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    for key in ["up-1", "up-2", "up-3"] {
        w.hub.store_mut().add_upload(key, "alice");
    }
    for (elem, ty) in elems().into_iter().zip([2u8, 3, 6]) {
        let id = send(&mut w, a, elem.clone(), "bob").expect("sent");
        let got = w.devices[b].notes.iter().rev().find_map(|n| match n {
            Notification::NewMessage(v) if v.msg_id == id => Some(v.clone()),
            _ => None,
        });
        let v = got.expect("bob got it");
        assert_eq!(v.elem_type, ty);
        assert!(v.text_elem.is_none());
        match &elem {
            Elem::Custom { data, .. } => assert_eq!(&v.custom_elem.unwrap().data, data),
            Elem::Image { image_list } => {
                assert_eq!(&v.image_elem.unwrap().image_list, image_list)
            }
            Elem::File { file_name, .. } => {
                assert_eq!(&v.file_elem.unwrap().file_name, file_name)
            }
            Elem::Text { .. } => unreachable!(),
        }
        w.revoke(a, &id, "wrong one").expect("revoked");
        // Bob's live copy, his history and alice's history.
        let now = w.now_f();
        for (d, peer, keeps) in [(b, "alice", false), (a, "bob", true)] {
            let req = w.devices[d]
                .client
                .history(Some(peer), None, None, 1, now)
                .unwrap();
            let Done::Messages(list, _) = w.result(d, &req).unwrap() else {
                panic!()
            };
            let m = &list[0];
            assert_eq!(m.msg_id, id);
            assert_eq!(m.status, MessageStatus::Revoked);
            let has = m.custom_elem.is_some() || m.image_elem.is_some() || m.file_elem.is_some();
            assert_eq!(has, keeps, "content kept only by the sender");
        }
        let found = w.devices[b].client.find(vec![id.clone()], now).unwrap();
        let Done::Messages(list, _) = w.result(b, &found).unwrap() else {
            panic!()
        };
        assert!(list[0].custom_elem.is_none() && list[0].image_elem.is_none());
        assert!(list[0].file_elem.is_none());
    }
}

#[test]
fn bad_shapes_are_refused_on_the_client_and_on_the_hub() {
    let long = "x".repeat(300);
    let cases: Vec<(Elem, Code)> = vec![
        (
            Elem::Custom {
                data: String::new(),
                desc: String::new(),
                extension: String::new(),
            },
            Code::InvalidParameters,
        ),
        (Elem::Image { image_list: vec![] }, Code::InvalidParameters),
        (
            Elem::Image {
                image_list: vec![pic(2, "t", 1, 1)],
            },
            Code::InvalidParameters,
        ),
        (
            Elem::Image {
                image_list: vec![pic(1, "a", 1, 1), pic(2, "b", 1, 1), pic(2, "c", 1, 1)],
            },
            Code::InvalidParameters,
        ),
        (
            Elem::Image {
                image_list: vec![pic(1, "../etc/passwd", 1, 1)],
            },
            Code::InvalidParameters,
        ),
        (
            Elem::Image {
                image_list: vec![pic(1, "bomb", 10_000, 10_000)],
            },
            Code::AttachmentImageTooLarge,
        ),
        (
            Elem::File {
                uuid: "f".into(),
                file_name: long,
                file_size: 1,
                url: String::new(),
            },
            Code::InvalidParameters,
        ),
        (
            Elem::File {
                uuid: "f".into(),
                file_name: "a\nb".into(),
                file_size: 1,
                url: String::new(),
            },
            Code::InvalidParameters,
        ),
        (
            Elem::Custom {
                data: "x".repeat(12 * 1024),
                desc: "y".into(),
                extension: String::new(),
            },
            Code::MsgBodySizeLimit,
        ),
    ];
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    w.device("bob");
    let s = w.devices[a].session.unwrap();
    for (n, (elem, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            check_elem(&elem).err().map(|e| e.code).unwrap_or(want),
            want
        );
        let err = send(&mut w, a, elem.clone(), "bob").expect_err("client refuses");
        assert_eq!(err.code, want, "client, case {n}");
        // Straight to the hub: the same verdict (8001 on the client is 80002 there).
        let hub_want = if want == Code::MsgBodySizeLimit {
            Code::BodySizeLimit
        } else {
            want
        };
        w.hub.handle(
            s,
            ClientFrame::Send {
                req_id: format!("q{n}"),
                msg_id: format!("bad{n}"),
                receiver: Some("bob".into()),
                group_id: None,
                elem,
                reply_to: None,
                cloud_custom_data: None,
            },
            w.now,
        );
        let out = w.hub.commit().unwrap();
        assert!(
            matches!(&out[0].frame, ServerFrame::Error { code, .. } if *code == hub_want),
            "hub, case {n}: {:?}",
            out[0].frame
        );
    }
    assert_eq!(w.hub.store().message_count(), 0, "nothing stored");
}

#[test]
fn upload_rules() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    assert_eq!(
        check_upload("image/png", png, DEFAULT_ALLOWED),
        Ok("image/png")
    );
    assert_eq!(check_upload("", png, DEFAULT_ALLOWED), Ok("image/png"));
    assert_eq!(
        check_upload("application/octet-stream", b"%PDF-1.4", DEFAULT_ALLOWED),
        Ok("application/pdf")
    );
    assert_eq!(
        check_upload("text/plain; charset=utf-8", b"hello", DEFAULT_ALLOWED),
        Ok("text/plain")
    );
    let code = |r: Result<&str, im_revoke_core::ImError>| r.unwrap_err().code;
    // Lying: declared an image, the bytes are a PDF (or an executable).
    assert_eq!(
        code(check_upload("image/png", b"%PDF-1.4", DEFAULT_ALLOWED)),
        Code::AttachmentTypeNotAllowed
    );
    assert_eq!(
        code(check_upload("", b"MZ\x90\0\x03\0", DEFAULT_ALLOWED)),
        Code::AttachmentTypeNotAllowed
    );
    // Not on the allow-list.
    assert_eq!(
        code(check_upload("application/pdf", b"%PDF-1.4", &["image/png"])),
        Code::AttachmentTypeNotAllowed
    );
    assert!(check_dimensions(10_000, 5_000).is_ok());
    assert_eq!(
        check_dimensions(10_001, 1).unwrap_err().code,
        Code::AttachmentImageTooLarge
    );
    assert_eq!(
        check_dimensions(8_000, 8_000).unwrap_err().code,
        Code::AttachmentImageTooLarge
    );
    assert_eq!(
        check_dimensions(0, 5).unwrap_err().code,
        Code::InvalidParameters
    );
    assert!(check_key("Ab_9-z").is_ok());
    for k in ["", "a/b", "..", "a.b", &"k".repeat(65)] {
        assert!(check_key(k).is_err(), "{k}");
    }
    assert_ne!(
        signed_payload("k", "alice", 5),
        signed_payload("k", "alic", 5)
    );
    assert_ne!(signed_payload("k1", "a", 5), signed_payload("k", "1\na", 5));
    assert!(check_expiry(100, 99_999));
    assert!(!check_expiry(100, 100_000));
}

/// The embedded hub's memory store keeps the uploads its host registered: a message may claim
/// only its sender's own, once (a retry of the same message again); a revoke hands their keys
/// back to the host to drop, and every copy loses its URLs (the sender keeps the rest).
#[test]
fn memory_store_claims_own_uploads_and_gives_back_revoked_ones() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    w.hub.store_mut().add_upload("mine", "alice");
    w.hub.store_mut().add_upload("bobs", "bob");
    let file = |key: &str| Elem::File {
        uuid: key.into(),
        file_name: "a.txt".into(),
        file_size: 5,
        url: format!("blob:x/{key}"),
    };
    let e = send(&mut w, a, file("bobs"), "bob").unwrap_err();
    assert_eq!(e.code, Code::AttachmentNotOwned, "someone else's upload");
    let e = send(&mut w, a, file("unknown"), "bob").unwrap_err();
    assert_eq!(e.code, Code::AttachmentNotOwned, "an upload never made");
    let id = send(&mut w, a, file("mine"), "bob").expect("own upload");
    let e = send(&mut w, a, file("mine"), "bob").unwrap_err();
    assert_eq!(e.code, Code::AttachmentNotOwned, "used by another message");
    let got = w.devices[b].client.local_message(&id).expect("bob has it");
    assert_eq!(
        got.file_elem.unwrap().url,
        "blob:x/mine",
        "no signer: URL as sent"
    );
    assert!(w.hub.store_mut().take_gone().is_empty());
    w.revoke(a, &id, "wrong file").expect("revoked");
    assert_eq!(w.hub.store_mut().take_gone(), ["mine"]);
    assert!(w.hub.store_mut().take_gone().is_empty(), "told once");
    let mine = w.devices[a].client.local_message(&id).unwrap();
    let f = mine.file_elem.expect("the sender keeps the element");
    assert_eq!((f.file_name.as_str(), f.url.as_str()), ("a.txt", ""));
    assert!(w.devices[b]
        .client
        .local_message(&id)
        .unwrap()
        .file_elem
        .is_none());
    let now = w.now_f();
    let req = w.devices[a].client.find(vec![id.clone()], now).unwrap();
    let Done::Messages(list, _) = w.result(a, &req).unwrap() else {
        panic!()
    };
    assert_eq!(
        list[0].file_elem.as_ref().unwrap().url,
        "",
        "stored without URL"
    );
}

/// An image or file message made before its uploads: `check_attach` says whether it may be
/// sent, `attach` puts the uploaded element in place (same type only), then it is sent.
#[test]
fn attach_fills_the_element_of_an_unsent_message() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    w.device("bob");
    w.hub.store_mut().add_upload("o", "alice");
    w.hub.store_mut().add_upload("t", "alice");
    let c = &mut w.devices[a].client;
    let placeholder = Elem::Image {
        image_list: vec![pic(1, "", 0, 0)],
    };
    let m = c.create_message(placeholder);
    assert!(c.check_attach(&m.msg_id, Some("bob"), None).is_ok());
    assert_eq!(
        c.check_attach(&m.msg_id, None, None).unwrap_err().code,
        Code::InvalidParameters
    );
    let text = c.create_text_message("hi");
    assert!(c.check_attach(&text.msg_id, Some("bob"), None).is_err());
    let file = Elem::File {
        uuid: "o".into(),
        file_name: "f".into(),
        file_size: 1,
        url: String::new(),
    };
    assert!(c.attach(&m.msg_id, file).is_err(), "another type");
    let elem = Elem::Image {
        image_list: vec![pic(1, "o", 640, 480), pic(2, "t", 200, 150)],
    };
    c.attach(&m.msg_id, elem.clone()).unwrap();
    let now = w.now_f();
    let req = w.devices[a]
        .client
        .send(&m.msg_id, Some("bob"), None, now)
        .unwrap();
    let Done::Sent(v) = w.result(a, &req).unwrap() else {
        panic!()
    };
    let Elem::Image { image_list } = elem else {
        unreachable!()
    };
    assert_eq!(v.image_elem.unwrap().image_list, image_list);
    let c = &mut w.devices[a].client;
    assert!(
        c.check_attach(&m.msg_id, Some("bob"), None).is_err(),
        "sent"
    );
}

#[test]
fn urls_between_the_server_and_the_browser() {
    assert_eq!(
        http_origin("ws://127.0.0.1:8080/ws").as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        http_origin("wss://chat.example.com/ws?x=1").as_deref(),
        Some("https://chat.example.com")
    );
    assert_eq!(http_origin("http://h/ws"), None);
    assert_eq!(http_origin("ws:///ws"), None);
    let msg = |revoked: bool| {
        let mut m = im_revoke_core::model::Message {
            msg_id: "m".into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1,
            seq: 1,
            elem: Some(Elem::File {
                uuid: "k1".into(),
                file_name: "f".into(),
                file_size: 1,
                url: String::new(),
            }),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        };
        if revoked {
            m.revoke = Some(im_revoke_core::model::RevokeInfo {
                user_id: "alice".into(),
                role: im_revoke_core::model::RevokerRole::Sender,
                reason: String::new(),
                time_ms: 2,
                req_id: "r".into(),
            });
        }
        m
    };
    let sign: UrlSigner = Box::new(|key, user| format!("/file/{key}?u={user}"));
    let mut f = ServerFrame::Messages {
        req_id: "q".into(),
        server_time: 3,
        messages: vec![msg(false), msg(true)],
        is_completed: true,
    };
    sign_frame(&mut f, "bob", &sign);
    absolutize(&mut f, "http://h:1");
    let ServerFrame::Messages { messages, .. } = f else {
        unreachable!()
    };
    let url = |m: &im_revoke_core::model::Message| match &m.elem {
        Some(Elem::File { url, .. }) => url.clone(),
        _ => unreachable!(),
    };
    assert_eq!(url(&messages[0]), "http://h:1/file/k1?u=bob");
    assert_eq!(url(&messages[1]), "", "a revoked message gets no URL");
}

#[test]
fn upload_refusals_and_local_uploads() {
    assert_eq!(upload_error(413, None, None).code, Code::AttachmentTooLarge);
    assert_eq!(
        upload_error(415, None, None).code,
        Code::AttachmentTypeNotAllowed
    );
    assert_eq!(upload_error(0, None, None).code, Code::NetDisconnect);
    let e = upload_error(401, Some(70001), Some("expired".into()));
    assert_eq!((e.code.num(), e.desc.as_str()), (70001, "expired"));
    assert_eq!(upload_error(500, Some(1), None).code, Code::InternalError);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    assert_eq!(
        check_local_upload("image/png", 10, png, 10),
        Ok("image/png")
    );
    let code = |r: Result<&str, im_revoke_core::ImError>| r.unwrap_err().code;
    assert_eq!(
        code(check_local_upload("", 11, png, 10)),
        Code::AttachmentTooLarge
    );
    assert_eq!(
        code(check_local_upload("", 0, b"", 10)),
        Code::InvalidParameters
    );
    assert_eq!(
        code(check_local_upload("image/png", 8, b"%PDF-1.4", 10)),
        Code::AttachmentTypeNotAllowed
    );
}

/// Revoked while its uploads are under way: the message never left this device, so the revoke
/// resolves at once, the send is cancelled (8021 when the uploads end), nobody is told anything,
/// and the message cannot be sent again. A failed upload only ends the uploading state.
#[test]
fn revoke_during_the_upload_cancels_the_send() {
    let mut w = World::new(Config::default());
    let a = w.device("alice");
    let b = w.device("bob");
    w.hub.store_mut().add_upload("o", "alice");
    w.hub.store_mut().add_upload("t", "alice");
    let placeholder = Elem::Image {
        image_list: vec![pic(1, "", 0, 0)],
    };
    let m = w.devices[a].client.create_message(placeholder.clone());
    w.devices[a]
        .client
        .check_attach(&m.msg_id, Some("bob"), None)
        .unwrap();
    assert_eq!(
        w.devices[a]
            .client
            .check_attach(&m.msg_id, Some("bob"), None)
            .unwrap_err()
            .code,
        Code::InProgress,
        "one upload at a time"
    );
    let now = w.now_f();
    let req = w.devices[a]
        .client
        .revoke(&m.msg_id, "wrong photo", now)
        .unwrap();
    let Done::Revoked(v) = w.result(a, &req).unwrap() else {
        panic!("revoked at once")
    };
    assert_eq!(v.status, MessageStatus::Revoked);
    let elem = Elem::Image {
        image_list: vec![pic(1, "o", 640, 480), pic(2, "t", 200, 150)],
    };
    assert_eq!(
        w.devices[a]
            .client
            .attach(&m.msg_id, elem)
            .unwrap_err()
            .code,
        Code::SendCancelled
    );
    assert_eq!(
        w.devices[a]
            .client
            .check_attach(&m.msg_id, Some("bob"), None)
            .unwrap_err()
            .code,
        Code::SendCancelled,
        "a revoked message is not sent again"
    );
    let now = w.now_f();
    assert_eq!(
        w.devices[a]
            .client
            .send(&m.msg_id, Some("bob"), None, now)
            .unwrap_err()
            .code,
        Code::SendCancelled
    );
    w.settle();
    assert!(w.new_notes(b).is_empty(), "bob never hears of it");
    assert!(w.revoked_notes(b).is_empty());

    // A failed upload: not uploading any more, so it may be tried again.
    let m2 = w.devices[a].client.create_message(placeholder);
    let c = &mut w.devices[a].client;
    c.check_attach(&m2.msg_id, Some("bob"), None).unwrap();
    c.abort_attach(&m2.msg_id);
    c.check_attach(&m2.msg_id, Some("bob"), None).unwrap();
}
