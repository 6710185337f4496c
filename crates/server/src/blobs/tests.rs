//! The storage contracts, run against both backends: the local directories always, and a
//! real S3-compatible server when `NATTER_TEST_S3` is set. `eval "$(tests/services/s3.sh)"`
//! starts one and exports `NATTER_TEST_S3=1` with the `AWS_*` variables; `x test` does that
//! before its tests, so they always run there. Without `NATTER_TEST_S3` the S3 tests print
//! that they were skipped and pass.

use axum::body::Bytes;
use object_store::aws::AmazonS3Builder;
use uuid::Uuid;

use super::object::testing::{layout, piece};
use super::object::{connect, S3Url};
use super::*;

/// The bucket `tests/services/s3.sh` creates.
const BUCKET: &str = "natter-test";

/// The `AWS_*` environment of the test S3 server, or `None` (and a notice) when the tests
/// were not asked to use one.
fn s3_env(test: &str) -> Option<AmazonS3Builder> {
    if std::env::var_os("NATTER_TEST_S3").is_none() {
        eprintln!(
            "SKIPPED {test}: NATTER_TEST_S3 is unset (eval \"$(tests/services/s3.sh)\" and set \
             NATTER_TEST_S3=1 to run it against a real S3-compatible server)"
        );
        return None;
    }
    Some(AmazonS3Builder::from_env())
}

/// A fresh prefix in the test bucket, so runs and tests never see each other's keys.
fn fresh_url() -> S3Url {
    S3Url::parse(&format!("s3://{BUCKET}/unit-{}", Uuid::new_v4())).expect("url")
}

async fn s3_storage(env: AmazonS3Builder, url: &S3Url) -> (ObjectBlobs, ObjectPartials) {
    let store = connect(url, env)
        .await
        .expect("the test bucket is reachable");
    (
        ObjectBlobs::new(store.clone(), &url.prefix),
        ObjectPartials::new(store, &url.prefix),
    )
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// Put, get, put again, missing names.
async fn blob_contract(blobs: &dyn BlobStore) {
    let bytes = Bytes::from_static(b"an opus file, say");
    let key = sha(&bytes);
    assert_eq!(blobs.get(key).await.expect("get missing"), None);
    blobs.put(key, bytes.clone()).await.expect("put");
    assert_eq!(
        blobs.get(key).await.expect("get").as_deref(),
        Some(&bytes[..])
    );
    // Storing the same content again is a no-op, not an error.
    blobs.put(key, bytes.clone()).await.expect("put again");
    assert_eq!(
        blobs.get(key).await.expect("get").as_deref(),
        Some(&bytes[..])
    );
    let other = Bytes::from(vec![7u8; 300_000]);
    blobs.put(sha(&other), other.clone()).await.expect("put");
    assert_eq!(blobs.get(sha(&other)).await.expect("get"), Some(other));
    assert_eq!(blobs.get(sha(b"never stored")).await.expect("get"), None);
}

/// Writes one piece of `id` at `offset`, in `frames`.
async fn piece_of(partials: &dyn Partials, id: Uuid, offset: u64, frames: &[&'static [u8]]) {
    let mut w = partials.writer(id, offset).await.expect("writer");
    for frame in frames {
        w.write(Bytes::from_static(frame)).await.expect("write");
    }
    w.finish().await.expect("finish");
}

/// Pieces appended, bytes past the durable offset dropped, read, remove; as the upload route
/// uses them.
async fn partials_contract(partials: &dyn Partials) {
    let id = Uuid::now_v7();
    piece_of(partials, id, 0, &[b"hello", b" "]).await;
    piece_of(partials, id, 6, &[b"wor", b"ld"]).await;
    assert_eq!(
        &partials.read(id, 11).await.expect("read")[..],
        b"hello world"
    );
    assert_eq!(&partials.read(id, 5).await.expect("read")[..], b"hello");

    // A piece stored but never recorded (the server stopped before the database write):
    // the next piece at the same offset replaces it.
    piece_of(partials, id, 11, &[b"XXXXXXXX"]).await;
    piece_of(partials, id, 11, &[b"!"]).await;
    assert_eq!(
        &partials.read(id, 12).await.expect("read")[..],
        b"hello world!"
    );
    // Stored past the durable offset and then an empty piece (the client went away before
    // sending anything): the stale bytes are gone all the same.
    piece_of(partials, id, 12, &[b"stale"]).await;
    piece_of(partials, id, 12, &[]).await;
    assert!(partials.read(id, 13).await.is_err(), "read stale bytes");
    piece_of(partials, id, 12, &[b"?"]).await;
    assert_eq!(
        &partials.read(id, 13).await.expect("read")[..],
        b"hello world!?"
    );

    // More recorded than stored: an error, never made-up bytes.
    assert!(
        partials.read(id, 14).await.is_err(),
        "read past what is stored"
    );
    assert!(
        partials.writer(id, 20).await.is_err(),
        "a writer past what is stored"
    );

    // Uploads do not mix.
    let other = Uuid::now_v7();
    piece_of(partials, other, 0, &[b"other"]).await;
    assert_eq!(&partials.read(other, 5).await.expect("read")[..], b"other");
    assert_eq!(
        &partials.read(id, 13).await.expect("read")[..],
        b"hello world!?"
    );

    partials.remove(id).await;
    assert!(partials.read(id, 1).await.is_err(), "removed upload read");
    assert_eq!(&partials.read(other, 5).await.expect("read")[..], b"other");
    partials.remove(other).await;
    // Removing what is not there is quiet.
    partials.remove(Uuid::now_v7()).await;

    // A big piece, streamed in many frames, as the route does.
    let id = Uuid::now_v7();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = partials.writer(id, 0).await.expect("writer");
    for frame in big[..2_000_000].chunks(16 * 1024) {
        w.write(Bytes::copy_from_slice(frame)).await.expect("write");
    }
    w.finish().await.expect("finish");
    let mut w = partials.writer(id, 2_000_000).await.expect("writer");
    w.write(Bytes::copy_from_slice(&big[2_000_000..]))
        .await
        .expect("write");
    w.finish().await.expect("finish");
    assert!(partials.read(id, 3_000_000).await.expect("read") == big);
    partials.remove(id).await;
}

#[tokio::test]
async fn local_blobs_keep_content_by_hash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = LocalBlobs::open(dir.path().join("media"))
        .await
        .expect("open");
    blob_contract(&blobs).await;
}

#[tokio::test]
async fn local_partials_append_cut_read_and_remove() {
    let dir = tempfile::tempdir().expect("temp dir");
    let partials = LocalPartials::open(dir.path().join("uploads"))
        .await
        .expect("open");
    partials_contract(&partials).await;
}

#[tokio::test]
async fn s3_blobs_keep_content_by_hash() {
    let Some(env) = s3_env("s3_blobs_keep_content_by_hash") else {
        return;
    };
    let url = fresh_url();
    let (blobs, _) = s3_storage(env, &url).await;
    blob_contract(&blobs).await;
}

#[tokio::test]
async fn s3_partials_append_cut_read_and_remove() {
    let Some(env) = s3_env("s3_partials_append_cut_read_and_remove") else {
        return;
    };
    let url = fresh_url();
    let (_, partials) = s3_storage(env, &url).await;
    partials_contract(&partials).await;
}

/// What sharing the bucket is for: an upload begun through one instance goes on and
/// completes through another, and each serves what the other stored.
#[tokio::test]
async fn s3_storage_is_shared_between_instances() {
    let Some(env) = s3_env("s3_storage_is_shared_between_instances") else {
        return;
    };
    let url = fresh_url();
    let (blobs_a, partials_a) = s3_storage(env.clone(), &url).await;
    let (blobs_b, partials_b) = s3_storage(env, &url).await;
    let id = Uuid::now_v7();
    piece_of(&partials_a, id, 0, &[b"begun on A, "]).await;
    piece_of(&partials_b, id, 12, &[b"finished on B"]).await;
    let whole = partials_b.read(id, 25).await.expect("read on B");
    assert_eq!(&whole[..], b"begun on A, finished on B");
    blobs_b
        .put(sha(&whole), whole.clone())
        .await
        .expect("put on B");
    partials_b.remove(id).await;
    assert!(partials_a.read(id, 1).await.is_err(), "removed for A too");
    assert_eq!(
        blobs_a.get(sha(&whole)).await.expect("get on A"),
        Some(whole)
    );
}

/// The keys follow the documented layout under the URL's prefix (operators browse and
/// lifecycle-rule them).
#[tokio::test]
async fn s3_keys_live_under_the_prefix() {
    let Some(env) = s3_env("s3_keys_live_under_the_prefix") else {
        return;
    };
    use futures_util::TryStreamExt as _;
    let url = fresh_url();
    let store = connect(&url, env).await.expect("connect");
    let blobs = ObjectBlobs::new(store.clone(), &url.prefix);
    let partials = ObjectPartials::new(store.clone(), &url.prefix);
    let id = Uuid::now_v7();
    piece_of(&partials, id, 0, &[b"abc"]).await;
    piece_of(&partials, id, 3, &[b"def"]).await;
    blobs
        .put(sha(b"abc"), Bytes::from_static(b"abc"))
        .await
        .expect("put");
    let mut keys: Vec<String> = store
        .list(Some(&url.prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list");
    keys.sort();
    let p = &url.prefix;
    assert_eq!(
        keys,
        [
            format!("{p}/media/{}", hex(&sha(b"abc"))),
            format!("{p}/uploads/{id}/00000000000000000000"),
            format!("{p}/uploads/{id}/00000000000000000003"),
        ]
    );
}

#[tokio::test]
async fn s3_misconfiguration_fails_at_startup_with_a_readable_error() {
    let Some(env) = s3_env("s3_misconfiguration_fails_at_startup_with_a_readable_error") else {
        return;
    };
    let missing = S3Url::parse("s3://natter-no-such-bucket/x").expect("url");
    let e = connect(&missing, env.clone())
        .await
        .expect_err("a missing bucket is refused");
    let text = format!("{e:#}");
    assert!(text.contains("natter-no-such-bucket"), "{text}");
    assert!(text.contains("cannot list bucket"), "{text}");

    // Nothing listens on port 1: refused quickly, not after minutes of retries.
    let start = std::time::Instant::now();
    let e = connect(&fresh_url(), env.with_endpoint("http://127.0.0.1:1"))
        .await
        .expect_err("an endpoint that does not answer is refused");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(25),
        "{e:#}"
    );
    assert!(format!("{e:#}").contains("natter-test"), "{e:#}");
}

#[tokio::test]
async fn open_picks_the_backend_from_the_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (blobs, partials) = open(None, dir.path()).await.expect("local");
    blob_contract(blobs.as_ref()).await;
    partials_contract(partials.as_ref()).await;
    assert!(dir.path().join("media").is_dir() && dir.path().join("uploads").is_dir());
    for bad in [
        "file:///tmp/media",
        "https://example.com/b",
        "s3://",
        "s3:///x",
    ] {
        let e = open(Some(bad), dir.path())
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(format!("{e:#}").contains(bad), "{bad}: {e:#}");
    }
    if s3_env("open_picks_the_backend_from_the_url (s3 part)").is_some() {
        let url = fresh_url().to_string();
        let (blobs, partials) = open(Some(&url), dir.path()).await.expect("s3");
        blob_contract(blobs.as_ref()).await;
        partials_contract(partials.as_ref()).await;
    }
}

#[test]
fn s3_urls_parse() {
    let url = S3Url::parse("s3://natter-media").expect("bucket only");
    assert_eq!(url.bucket, "natter-media");
    assert_eq!(url.prefix.as_ref(), "");
    assert_eq!(url.to_string(), "s3://natter-media");
    let url = S3Url::parse("s3://natter-media/prod/eu/").expect("with prefix");
    assert_eq!(url.bucket, "natter-media");
    assert_eq!(url.prefix.as_ref(), "prod/eu");
    assert_eq!(url.to_string(), "s3://natter-media/prod/eu");
    assert_eq!(S3Url::parse("s3://b/").expect("slash").prefix.as_ref(), "");
    for bad in [
        "",
        "natter-media",
        "s3:/b",
        "s3://",
        "s3://b?x/p",
        "s3://b/a//c",
        "s3://b/a/../c",
    ] {
        assert!(S3Url::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn pieces_make_up_the_durable_bytes() {
    // Contiguous pieces; the last counts only up to the length asked for.
    assert_eq!(
        layout(&[piece(0, 5), piece(5, 3)], 8).expect("whole"),
        [(0, 5), (1, 3)]
    );
    assert_eq!(
        layout(&[piece(0, 5), piece(5, 3)], 6).expect("part"),
        [(0, 5), (1, 1)]
    );
    // Pieces at or past the length are not needed.
    assert_eq!(
        layout(&[piece(0, 5), piece(5, 3)], 5).expect("first"),
        [(0, 5)]
    );
    assert_eq!(layout(&[piece(0, 5)], 0).expect("none"), []);
    assert_eq!(layout(&[], 0).expect("empty"), []);
    // A piece counts up to where the next starts.
    assert_eq!(
        layout(&[piece(0, 9), piece(4, 4)], 8).expect("overlap"),
        [(0, 4), (1, 4)]
    );
    // Gaps, a missing start, a shortfall.
    assert!(layout(&[piece(0, 4), piece(5, 3)], 8).is_err());
    assert!(layout(&[piece(1, 4)], 5).is_err());
    assert!(layout(&[piece(0, 4)], 5).is_err());
    assert!(layout(&[], 1).is_err());
}

#[test]
fn hex_names_content() {
    assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    assert_eq!(hex(&sha(b"")).len(), 64);
}
