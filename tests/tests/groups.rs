//! Groups between real clients, read like the attacks they stop: a stranger builds a group
//! around a 17-year-old and sends a photo; someone the teen blocked writes in a group they
//! share; a member leaves. What each app stores and shows is what is checked.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use natter_core::protocol::{ConversationKind, ErrorCode};
use natter_core::{AlbumItemDraft, StageInput};
use natter_tests::{eventually, Harness, TestClient};
use uuid::Uuid;

fn landscape() -> Vec<u8> {
    let img = RgbImage::from_fn(320, 240, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Jpeg).expect("encode");
    bytes.into_inner()
}

/// `who` sends one photo to `conv` and waits until the server has it.
async fn send_photo(who: &TestClient, conv: Uuid) -> Uuid {
    let staged = who
        .client
        .stage_media(
            conv,
            vec![StageInput::Bytes {
                name: "lake.jpg".into(),
                bytes: landscape(),
            }],
            false,
        )
        .await
        .expect("stage");
    let item = staged[0].item.clone().expect("a plain photo stages");
    let sent = who
        .client
        .send_album(
            conv,
            vec![AlbumItemDraft {
                staged_id: item.id,
                edits: Default::default(),
                video: None,
            }],
            "",
            false,
        )
        .await
        .expect("send");
    who.wait_until_accepted(sent.id).await;
    sent.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_builds_a_group_around_a_teen_and_the_photo_waits_for_the_teens_yes() {
    let h = Harness::new().await;
    let stranger = h.user("stranger").await;
    let teen = h.seventeen("teen").await;

    let group = stranger
        .client
        .create_group("fun", &["teen".into()])
        .await
        .expect("a group is only an invitation")
        .id;
    stranger.send(group, "hello there").await;
    let photo = send_photo(&stranger, group).await;

    // The teen has an invitation, beside direct requests: the group's name, who invited, how
    // many are in it. Not a chat in the main list.
    let invitation = eventually("the teen has the invitation", || async {
        let requests = teen.client.requests().await.ok()?;
        requests.into_iter().find(|c| c.id == group)
    })
    .await;
    assert_eq!(invitation.kind, ConversationKind::Group);
    assert_eq!(invitation.title, "fun");
    assert_eq!(invitation.invited_by.as_deref(), Some("stranger"));
    assert_eq!(invitation.admin.as_deref(), Some("stranger"), "its creator");
    assert_eq!(invitation.members.len(), 2);
    assert_eq!(
        stranger.client.conversation(group).await.unwrap().invited,
        ["teen"],
        "the stranger sees the teen is only invited"
    );

    // The text arrives; the photo is neither listed nor stored, nor fetchable.
    teen.wait_for_text(group, "hello there").await;
    teen.client.sync_now().await.expect("sync");
    let shown = teen.messages(group).await;
    assert_eq!(shown.len(), 1, "texts only: {shown:?}");
    assert!(shown.iter().all(|m| m.media.is_empty()));
    assert!(teen.client.message(photo).await.unwrap().is_none());
    // Accepting: the group is a chat like any other, and the photo comes.
    teen.client.accept_request(group).await.expect("accept");
    let album = eventually("the photo arrives after accepting", || async {
        let m = teen.client.message(photo).await.ok()??;
        (!m.media.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(album.media.len(), 1);
    let (path, _) = teen
        .client
        .album_file(album.media[0].media_id)
        .await
        .expect("fetchable once a member");
    assert!(path.exists());
    assert!(teen.client.requests().await.unwrap().is_empty());
    teen.send(group, "hi!").await;
    stranger.wait_for_text(group, "hi!").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_the_teen_blocked_cannot_invite_them_nor_reach_them_in_a_shared_group() {
    let h = Harness::new().await;
    let teen = h.seventeen("teen").await;
    let stranger = h.user("stranger").await;
    let friend = h.user("friend").await;

    teen.client.block("stranger").await.expect("block");
    let err = stranger
        .client
        .create_group("fun", &["teen".into()])
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::CannotInvite);
    assert!(teen.client.requests().await.unwrap().is_empty());

    // A group the friend made with both: the stranger's words arrive as a quiet placeholder.
    let group = friend
        .client
        .create_group("class", &["teen".into(), "stranger".into()])
        .await
        .expect("the friend may invite both")
        .id;
    teen.join(group).await;
    stranger.join(group).await;
    friend.send(group, "welcome").await;
    stranger.send(group, "hey teen").await;
    teen.wait_for_text(group, "welcome").await;
    let placeholder = eventually("the stranger's message is a placeholder", || async {
        teen.messages(group)
            .await
            .into_iter()
            .find(|m| m.sender == "stranger")
    })
    .await;
    assert!(placeholder.blocked_sender);
    assert!(placeholder.text.is_empty(), "{placeholder:?}");
    friend.wait_for_text(group, "hey teen").await;

    // Reporting the stranger from the group carries the group.
    teen.client
        .report("stranger", Some(group), Vec::new(), "won't leave me alone")
        .await
        .expect("report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_leaves_gets_nothing_more_and_the_others_see_it() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let carol = h.carol().await;
    let group = alice
        .client
        .create_group("trip", &["bob".into(), "carol".into()])
        .await
        .unwrap()
        .id;
    bob.join(group).await;
    carol.join(group).await;
    assert_eq!(
        carol
            .client
            .conversation(group)
            .await
            .unwrap()
            .admin
            .as_deref(),
        Some("alice"),
        "every member sees who the admin is"
    );
    alice.send(group, "hello").await;
    bob.wait_for_text(group, "hello").await;

    bob.client.leave_group(group).await.expect("leave");
    assert!(
        bob.client.conversation(group).await.is_err(),
        "gone for bob"
    );
    let line = eventually("carol sees that bob left", || async {
        carol
            .messages(group)
            .await
            .into_iter()
            .find(|m| m.event.is_some())
    })
    .await;
    assert_eq!(
        line.event,
        Some(natter_core::protocol::GroupEvent::Left {
            user_id: line.sender_id,
            username: "bob".into()
        })
    );
    alice.send(group, "after bob").await;
    carol.wait_for_text(group, "after bob").await;
    bob.client.sync_now().await.expect("sync");
    assert!(bob.client.conversation(group).await.is_err());
    assert!(bob.client.conversations().await.unwrap().is_empty());
}
