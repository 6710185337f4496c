//! Accounts and groups: created once, cached in the `--state` file so a rerun against the
//! same database skips the sign-ups (two Argon2 hashes each on the server: ~10,000 of them
//! take minutes on two cores).

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use futures_util::{stream, StreamExt as _};
use rand::distributions::{Alphanumeric, DistString as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{Api, Signup};

/// Users are saved after every this many sign-ups, so an interrupted run loses little.
const SAVE_EVERY: usize = 500;
/// Group creations in flight at once (cheap: no hashing).
const GROUP_CONCURRENCY: usize = 16;
/// Attempts at one sign-up or log-in before giving up (a busy server may time out).
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub id: Uuid,
    pub token: String,
}

/// A group of consecutive users: group `i` holds users `i*size .. (i+1)*size`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: Uuid,
    pub members: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Starts every username of this state, so two states never collide in one database.
    pub prefix: String,
    pub password: String,
    pub users: Vec<User>,
    /// The size the groups were made with; another size makes new groups.
    pub group_size: usize,
    pub groups: Vec<Group>,
}

impl State {
    fn fresh(group_size: usize) -> Self {
        let mut rng = rand::thread_rng();
        let tail = Alphanumeric.sample_string(&mut rng, 6).to_lowercase();
        Self {
            prefix: format!("ld{tail}"),
            password: Alphanumeric.sample_string(&mut rng, 20),
            users: Vec::new(),
            group_size,
            groups: Vec::new(),
        }
    }

    fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("reading the state {}", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading the state {}", path.display())),
        }
    }

    /// Writes to a temporary file first, so an interrupted save leaves the old state whole.
    fn save(&self, path: Option<&Path>) -> anyhow::Result<()> {
        let Some(path) = path else { return Ok(()) };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

/// Loads the state (if it still matches the server's database), then signs up and logs in
/// the missing users and creates the missing groups.
pub async fn ensure(
    api: &Api,
    path: Option<&Path>,
    connections: usize,
    group_size: usize,
    signup_concurrency: usize,
) -> anyhow::Result<State> {
    let mut state = match path.map(State::load).transpose()?.flatten() {
        Some(s) if s.users.is_empty() => s,
        Some(s) => {
            // The first and the last user: a wiped database fails both.
            let first = api.token_valid(api.server_of(0), &s.users[0].token).await?;
            let last_index = s.users.len() - 1;
            let last = api
                .token_valid(api.server_of(last_index), &s.users[last_index].token)
                .await?;
            if first && last {
                println!(
                    "state: {} users and {} groups reused from the state file",
                    s.users.len(),
                    s.groups.len()
                );
                s
            } else {
                println!("state: its tokens are not accepted (a new database?): starting afresh");
                State::fresh(group_size)
            }
        }
        None => State::fresh(group_size),
    };
    if state.group_size != group_size {
        state.groups.clear();
        state.group_size = group_size;
    }

    if state.users.len() < connections {
        let missing = connections - state.users.len();
        println!(
            "setup: signing up and logging in {missing} users ({signup_concurrency} at a time)"
        );
        let started = Instant::now();
        while state.users.len() < connections {
            let from = state.users.len();
            let to = connections.min(from + SAVE_EVERY);
            let batch: Vec<anyhow::Result<User>> = stream::iter(from..to)
                .map(|i| {
                    let username = format!("{}_{i}", state.prefix);
                    let password = state.password.clone();
                    async move { new_user(api, api.server_of(i), username, &password).await }
                })
                .buffered(signup_concurrency)
                .collect()
                .await;
            for user in batch {
                state.users.push(user?);
            }
            state.save(path)?;
            let done = state.users.len() - (connections - missing);
            let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
            println!(
                "setup: {}/{connections} users ({rate:.0} a second)",
                state.users.len()
            );
        }
    }

    let wanted = connections / group_size;
    if state.groups.len() < wanted {
        let started = Instant::now();
        let from = state.groups.len();
        let created: Vec<anyhow::Result<Group>> = stream::iter(from..wanted)
            .map(|g| {
                let members: Vec<usize> = (g * group_size..(g + 1) * group_size).collect();
                let creator = members[0];
                let names = members[1..]
                    .iter()
                    .map(|&m| state.users[m].username.clone())
                    .collect();
                let token = state.users[creator].token.clone();
                let invitees: Vec<(usize, String)> = members[1..]
                    .iter()
                    .map(|&m| (m, state.users[m].token.clone()))
                    .collect();
                async move {
                    let conversation = api
                        .create_group(api.server_of(creator), &token, format!("load {g}"), names)
                        .await?;
                    // Being added is an invitation: each member joins, as a person would.
                    for (m, token) in &invitees {
                        api.accept(api.server_of(*m), token, conversation.id)
                            .await?;
                    }
                    anyhow::ensure!(
                        conversation.members.len() == members.len(),
                        "group {g} has {} members, not {}",
                        conversation.members.len(),
                        members.len()
                    );
                    Ok(Group {
                        id: conversation.id,
                        members,
                    })
                }
            })
            .buffered(GROUP_CONCURRENCY)
            .collect()
            .await;
        for group in created {
            state.groups.push(group?);
        }
        state.save(path)?;
        println!(
            "setup: {} groups of {group_size} created in {:.1}s",
            wanted - from,
            started.elapsed().as_secs_f64()
        );
    }
    state.users.truncate(connections);
    state.groups.truncate(wanted);
    Ok(state)
}

/// Signs a user up (or finds it signed up already) and logs in, retrying transient failures.
async fn new_user(
    api: &Api,
    server: &str,
    username: String,
    password: &str,
) -> anyhow::Result<User> {
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        let result = async {
            match api.signup(server, &username, password).await? {
                Signup::Created | Signup::Taken => {}
            }
            api.login(server, &username, password).await
        }
        .await;
        match result {
            Ok(login) => {
                return Ok(User {
                    username,
                    id: login.account.id,
                    token: login.token,
                })
            }
            Err(e) => {
                eprintln!("setup: {username}: attempt {attempt}: {e:#}");
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
}
