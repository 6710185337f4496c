// Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the directories
// `migrations/sqlite` and `migrations/postgres`. Cargo watches a directory recursively.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
