//! `natter safety …`: run the on-device nudity classifier on files, as the app will.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use natter_protocol::ErrorCode;
use natter_safety::{Classification, Classifier, Scores, Verdict};
use serde::Serialize;

#[derive(Subcommand)]
pub enum SafetyCommand {
    /// Classify photos with the embedded nudity model: the five class probabilities and the
    /// verdict (explicit, suggestive or safe) the thresholds give them. Formats are recognised
    /// by content (JPEG, PNG, WebP, GIF). Fails only when no file could be classified.
    Classify {
        /// The photos.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON array, an object per input in order.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: SafetyCommand) -> anyhow::Result<()> {
    match command {
        SafetyCommand::Classify { files, json } => {
            tokio::task::spawn_blocking(move || classify(&files, json))
                .await
                .context("the classifier task failed")?
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item {
    Classified {
        path: PathBuf,
        scores: Scores,
        verdict: Verdict,
    },
    Failed {
        path: PathBuf,
        error: ItemError,
    },
}

#[derive(Serialize)]
struct ItemError {
    code: &'static str,
    message: String,
}

fn classify(files: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let classifier = Classifier::load().context("cannot load the nudity model")?;
    let results = classify_all(&classifier, files);
    let mut items = Vec::with_capacity(files.len());
    for (file, result) in files.iter().zip(results) {
        let item = match result {
            Ok(Classification { scores, verdict }) => Item::Classified {
                path: file.clone(),
                scores,
                verdict,
            },
            Err((code, message)) => Item::Failed {
                path: file.clone(),
                error: ItemError {
                    code: code.as_str(),
                    message,
                },
            },
        };
        if !json {
            println!("{}", human(file, &item));
        }
        items.push(item);
    }
    if json {
        println!("{}", serde_json::to_string(&items)?);
    }
    if !items.iter().any(|i| matches!(i, Item::Classified { .. })) {
        bail!("no file could be classified");
    }
    Ok(())
}

type Outcome = Result<Classification, (ErrorCode, String)>;

/// Reads and classifies every file, spread over the machine's cores; results in input order.
fn classify_all(classifier: &Classifier, files: &[PathBuf]) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len())
        .max(1);
    let one = |file: &Path| -> Outcome {
        let bytes = std::fs::read(file).map_err(|e| {
            (
                ErrorCode::BadRequest,
                format!("cannot read {}: {e}", file.display()),
            )
        })?;
        classifier
            .classify_bytes(&bytes)
            .map_err(|e| (e.code(), e.to_string()))
    };
    let mut results: Vec<(usize, Outcome)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    files
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, f)| (i, one(f)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn human(file: &Path, item: &Item) -> String {
    match item {
        Item::Classified {
            scores, verdict, ..
        } => format!(
            "{}: {} (porn {:.3}, hentai {:.3}, sexy {:.3}, drawing {:.3}, neutral {:.3})",
            file.display(),
            verdict.as_str(),
            scores.porn,
            scores.hentai,
            scores.sexy,
            scores.drawing,
            scores.neutral
        ),
        Item::Failed { error, .. } => format!("{}: error: {}", file.display(), error.message),
    }
}
