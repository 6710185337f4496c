//! One writer per resumable upload, across every instance of the service.
//!
//! A request that appends to an upload (or the sweeper removing an abandoned one) first claims
//! it in the shared database (`upload_claims`), so two pieces of the same upload sent through
//! two instances can never be written at once: the second is told to ask where the upload
//! stands and go on from there. A claim lasts [`AppState::upload_claim_for`] and is renewed
//! every third of that while its request runs; a claim whose instance died simply runs out,
//! and the client's next piece takes it over. If the claim cannot be renewed for its whole
//! length (the database unreachable), the request stops writing and stores nothing more.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::Result;
use crate::state::{now_ms, AppState};
use crate::store::Store;

/// The claim on one upload, held while one request writes to it.
pub(super) struct Writing {
    store: Arc<dyn Store>,
    id: Uuid,
    holder: Uuid,
    lost: CancellationToken,
    renewing: tokio::task::AbortHandle,
    released: bool,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Writing {
    /// Claims upload `id`; `None` while another request, on any instance, holds it.
    pub(super) async fn take(state: &AppState, id: Uuid) -> Result<Option<Self>> {
        let holder = Uuid::new_v4();
        let claim_for = state.upload_claim_for;
        let now = now_ms();
        if !state
            .store
            .claim_upload(id, holder, now, now.saturating_add(ms(claim_for)))
            .await?
        {
            return Ok(None);
        }
        let lost = CancellationToken::new();
        let renewing = tokio::spawn(renew(
            state.store.clone(),
            id,
            holder,
            claim_for,
            lost.clone(),
        ))
        .abort_handle();
        Ok(Some(Self {
            store: state.store.clone(),
            id,
            holder,
            lost,
            renewing,
            released: false,
        }))
    }

    /// Resolves if the claim was lost: the request must stop writing.
    pub(super) async fn lost(&self) {
        self.lost.cancelled().await;
    }

    pub(super) fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Gives the claim up before the answer goes out, so the client's next piece (sent the
    /// moment it reads the answer) finds the upload free.
    pub(super) async fn release(mut self) {
        self.renewing.abort();
        self.released = true;
        if let Err(e) = self.store.release_upload_claim(self.id, self.holder).await {
            tracing::warn!(id = %self.id, error = %e, "could not release an upload claim; it runs out by itself");
        }
    }
}

impl Drop for Writing {
    /// A request cancelled mid-piece (the client went away) still gives its claim up.
    fn drop(&mut self) {
        self.renewing.abort();
        if self.released {
            return;
        }
        let (store, id, holder) = (self.store.clone(), self.id, self.holder);
        tokio::spawn(async move {
            if let Err(e) = store.release_upload_claim(id, holder).await {
                tracing::warn!(%id, error = %e, "could not release an upload claim; it runs out by itself");
            }
        });
    }
}

async fn renew(
    store: Arc<dyn Store>,
    id: Uuid,
    holder: Uuid,
    claim_for: Duration,
    lost: CancellationToken,
) {
    let mut tick = tokio::time::interval(claim_for / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut held_until = now_ms().saturating_add(ms(claim_for));
    loop {
        tick.tick().await;
        let until = now_ms().saturating_add(ms(claim_for));
        match store.renew_upload_claim(id, holder, until).await {
            Ok(true) => held_until = until,
            Ok(false) => {
                tracing::warn!(%id, "upload claim taken over by another request; stopping");
                lost.cancel();
                return;
            }
            Err(e) if now_ms() >= held_until => {
                tracing::warn!(%id, error = %e, "upload claim ran out while the database was unreachable; stopping");
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not renew an upload claim; trying again")
            }
        }
    }
}
