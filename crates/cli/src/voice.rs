//! `natter voice …`: record, encode and inspect voice notes with the same rules as the app.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum VoiceCommand {}

pub async fn run(command: VoiceCommand) -> anyhow::Result<()> {
    match command {}
}
