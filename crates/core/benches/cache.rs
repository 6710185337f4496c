//! Cache speed: opening a conversation with 100,000 messages cached, and storing a burst of
//! 10,000 incoming messages. Run with `cargo bench -p natter-core --bench cache`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use natter_core::protocol::{Conversation, ConversationKind, Member, Message};
use natter_core::Cache;
use uuid::Uuid;

const CACHED: i64 = 100_000;
const BURST: i64 = 10_000;

fn conversation(me: Uuid, other: Uuid) -> Conversation {
    Conversation {
        id: Uuid::now_v7(),
        kind: ConversationKind::Direct,
        name: None,
        creator_id: me,
        members: vec![
            Member {
                user_id: me,
                username: "me".into(),
                delivered_seq: 0,
                read_seq: 0,
                accepted: true,
                invited_by: None,
            },
            Member {
                user_id: other,
                username: "other".into(),
                delivered_seq: 0,
                read_seq: 0,
                accepted: true,
                invited_by: None,
            },
        ],
        last_seq: 0,
        created_at: 0,
    }
}

fn messages(conv: Uuid, sender: Uuid, from_seq: i64, n: i64) -> Vec<Message> {
    (from_seq..from_seq + n)
        .map(|seq| Message {
            id: Uuid::now_v7(),
            conversation_id: conv,
            seq,
            sender_id: sender,
            sender: "other".into(),
            text: format!("message number {seq}: a typical short chat line, about this long"),
            sent_at: 1_700_000_000_000 + seq * 1000,
            voice: None,
            played_by: Vec::new(),
            media: Vec::new(),
            withheld: None,
            event: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let me = Uuid::now_v7();
    let other = Uuid::now_v7();
    let (cache, conv) = rt.block_on(async {
        let cache = Cache::open(&dir.path().join("bench.db"))
            .await
            .expect("open");
        let conv = conversation(me, other);
        cache
            .upsert_conversations(std::slice::from_ref(&conv))
            .await
            .expect("conv");
        for start in (1..=CACHED).step_by(BURST as usize) {
            cache
                .store_messages(&messages(conv.id, other, start, BURST))
                .await
                .expect("fill");
        }
        (cache, conv.id)
    });

    c.bench_function("open conversation (100k cached) + newest 50", |b| {
        b.to_async(&rt).iter(|| async {
            let view = cache.conversation(me, conv).await.expect("conversation");
            let page = cache.messages(me, conv, None, 50).await.expect("messages");
            assert_eq!(page.len(), 50);
            (view, page)
        })
    });

    let mut group = c.benchmark_group("burst");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let mut next_seq = CACHED + 1;
    let cache = &cache;
    group.bench_function("store 10k incoming messages", |b| {
        b.to_async(&rt).iter_batched(
            || {
                let batch = messages(conv, other, next_seq, BURST);
                next_seq += BURST;
                batch
            },
            |batch| async move {
                let out = cache.store_messages(&batch).await.expect("store");
                assert_eq!(out.stored.len(), 1);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
