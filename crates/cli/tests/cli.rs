//! The `natter` binary as a script would use it: real processes, a real server process,
//! real profile directories.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use natter_tests::proxy::{Mode, Proxy};
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_natter");

struct ServerProcess {
    child: Child,
    url: String,
    data: TempDir,
}

impl ServerProcess {
    fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "server printed {url:?}"
        );
        Self { child, url, data }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cli {
    server: String,
    root: PathBuf,
}

impl Cli {
    fn new(server: &str, root: &Path) -> Self {
        Self {
            server: server.to_string(),
            root: root.to_path_buf(),
        }
    }

    fn command(&self, profile: &str, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--server")
            .arg(&self.server)
            .arg("--profile")
            .arg(self.root.join(profile))
            .args(args)
            .env_remove("NATTER_SERVER")
            .env_remove("NATTER_PROFILE");
        c
    }

    fn run(&self, profile: &str, args: &[&str]) -> Output {
        self.command(profile, args).output().unwrap()
    }

    fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.run(profile, args);
        assert!(
            out.status.success(),
            "natter {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail; returns its one-line error.
    fn fails(&self, profile: &str, args: &[&str]) -> String {
        let out = self.run(profile, args);
        assert!(!out.status.success(), "natter {args:?} should have failed");
        let err = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "one error line, got {err:?}");
        lines[0].to_string()
    }

    fn signup(&self, name: &str) {
        self.ok(
            name,
            &[
                "signup",
                "--username",
                name,
                "--password",
                "hunter2hunter2",
                "--birthdate",
                "1995-03-04",
            ],
        );
    }

    fn messages(&self, profile: &str, with: &str) -> Vec<Value> {
        let out = self.ok(profile, &["messages", "--with", with, "--json"]);
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn texts(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn signup_send_and_read_from_the_command_line() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, dir.path());
    cli.signup("alice");
    cli.signup("bob");

    cli.ok("alice", &["send", "--to", "bob", "--text", "hi bob"]);
    cli.ok(
        "bob",
        &[
            "send",
            "--to",
            "alice",
            "--text",
            "hi alice, line one\nline two",
        ],
    );

    let msgs = cli.messages("bob", "alice");
    assert_eq!(texts(&msgs), ["hi bob", "hi alice, line one\nline two"]);
    for key in ["id", "sender", "text", "sent_at", "seq", "status"] {
        assert!(
            msgs[0].get(key).is_some(),
            "messages --json has {key}: {}",
            msgs[0]
        );
    }
    assert_eq!(msgs[0]["sender"], "alice");
    assert_eq!(msgs[0]["seq"], 1);
    assert_eq!(msgs[0]["status"], "received");
    assert_eq!(msgs[1]["status"], "sent");

    // Bob read alice's message (messages marks it read), so alice sees it as read.
    let alice_view = cli.messages("alice", "bob");
    assert_eq!(alice_view[0]["status"], "read");

    // A new log-in on another profile sees the same history.
    cli.ok(
        "alice2",
        &[
            "login",
            "--username",
            "ALICE",
            "--password",
            "hunter2hunter2",
        ],
    );
    assert_eq!(texts(&cli.messages("alice2", "bob")).len(), 2);
}

#[test]
fn the_server_can_log_one_json_object_per_line() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let cli = Cli::new(url.trim(), data.path());
    cli.fails(
        "p",
        &["login", "--username", "nobody", "--password", "whatever-pw"],
    );
    child.kill().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    child.wait().unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"].as_str() == Some("serving")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l.to_string().contains("invalid_credentials")),
        "the refused log-in is logged with its code: {stderr}"
    );
}

#[test]
fn every_failure_exits_non_zero_with_one_line() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, dir.path());
    cli.signup("alice");

    let e = cli.fails(
        "x",
        &[
            "login",
            "--username",
            "alice",
            "--password",
            "wrong-password",
        ],
    );
    assert!(e.contains("invalid_credentials"), "{e}");
    let e = cli.fails(
        "alice",
        &["send", "--to", "nobody_here", "--text", "hello?"],
    );
    assert!(e.contains("user_not_found"), "{e}");
    let e = cli.fails("alice", &["send", "--to", "alice", "--text", "me"]);
    assert!(e.contains("cannot_message_self"), "{e}");
    let e = cli.fails(
        "y",
        &[
            "signup",
            "--username",
            "Alice",
            "--password",
            "hunter2hunter2",
            "--birthdate",
            "1990-01-01",
        ],
    );
    assert!(e.contains("username_taken"), "{e}");
    let e = cli.fails(
        "z",
        &[
            "signup",
            "--username",
            "zed",
            "--password",
            "hunter2hunter2",
            "--birthdate",
            "tomorrow",
        ],
    );
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    let e = cli.fails("nobody", &["messages", "--with", "alice", "--json"]);
    assert!(e.contains("not signed in"), "{e}");

    cli.signup("bob");
    let e = cli.fails(
        "alice",
        &["send", "--to", "bob", "--text", &"x".repeat(4001)],
    );
    assert!(e.contains("invalid_text"), "{e}");
    let e = cli.fails("alice", &["send", "--to", "bob", "--text", "   "]);
    assert!(e.contains("invalid_text"), "{e}");

    // A copy of alice's profile keeps working until she logs out, which revokes the token.
    copy_dir(&dir.path().join("alice"), &dir.path().join("stolen"));
    cli.ok("stolen", &["conversations", "--json"]);
    cli.ok("alice", &["logout"]);
    let e = cli.fails(
        "stolen",
        &["send", "--to", "bob", "--text", "with a revoked token"],
    );
    assert!(
        e.contains("unauthenticated") || e.contains("not signed in"),
        "{e}"
    );

    let unreachable = Cli::new("http://127.0.0.1:9", dir.path());
    let e = unreachable.fails(
        "w",
        &[
            "login",
            "--username",
            "alice",
            "--password",
            "hunter2hunter2",
        ],
    );
    assert!(e.contains("network"), "{e}");
}

#[test]
fn watch_prints_one_json_event_per_line() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, dir.path());
    cli.signup("alice");
    cli.signup("bob");
    cli.ok("alice", &["send", "--to", "bob", "--text", "first"]);

    let mut watch = cli
        .command("bob", &["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let v: Value = serde_json::from_str(&line).expect("each line is one JSON object");
                if pred(&v) {
                    return v;
                }
            }
        }
        panic!("watch never printed the expected event");
    };
    wait_for(&|v| v["type"] == "connection" && v["state"] == "online");
    cli.ok("alice", &["send", "--to", "bob", "--text", "live one"]);
    let ev = wait_for(&|v| v["type"] == "message" && v["message"]["text"] == "live one");
    assert_eq!(ev["message"]["sender"], "alice");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn killed_mid_send_then_restarted_delivers_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = ServerProcess::start();
    let upstream = server.url.trim_start_matches("http://").parse().unwrap();
    let proxy = rt.block_on(Proxy::start(upstream));
    let dir = tempfile::tempdir().unwrap();
    let direct = Cli::new(&server.url, dir.path());
    let via_proxy = Cli::new(&proxy.url(), dir.path());
    via_proxy.signup("alice");
    direct.signup("bob");
    via_proxy.ok("alice", &["send", "--to", "bob", "--text", "warm-up"]);

    // The request reaches the server, the answer is lost, and the process is killed while it
    // is still retrying.
    proxy.set(Mode::LoseAnswers);
    let mut sender = via_proxy
        .command(
            "alice",
            &[
                "send",
                "--to",
                "bob",
                "--text",
                "exactly once",
                "--timeout",
                "60",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = texts(&direct.messages("bob", "alice"));
        if got.contains(&"exactly once".to_string()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never got the message"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        sender.try_wait().unwrap().is_none(),
        "still waiting for its acknowledgement"
    );
    sender.kill().unwrap();
    sender.wait().unwrap();

    proxy.set(Mode::Pass);
    // The next command on alice's profile delivers what the outbox kept.
    let alice_view = via_proxy.messages("alice", "bob");
    let mine = alice_view
        .iter()
        .find(|m| m["text"] == "exactly once")
        .unwrap();
    assert_ne!(mine["status"], "sending", "acknowledged after the restart");
    assert_eq!(
        texts(&direct.messages("bob", "alice")),
        ["warm-up", "exactly once"],
        "exactly once on the other side"
    );
    drop(proxy);
    drop(rt);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs an audio tool; fails the test with the tool's own words if it cannot.
fn tool<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(program: &str, args: I) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (./x test installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn send_voice_takes_any_encoders_note_up_to_a_minute_and_says_why_otherwise() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, dir.path());
    cli.signup("alice");
    cli.signup("bob");
    cli.signup("carol");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // Speech, and a 61-second tone, as WAVs.
    let speech = path("speech.wav");
    tool(
        "espeak-ng",
        ["-w", &speech, "A voice note from the command line."],
    );
    let long = path("long.wav");
    tool(
        "sox",
        [
            "-n", "-r", "48000", "-c", "1", "-b", "16", &long, "synth", "61", "sine", "300",
        ],
    );

    // Made by Natter's own encoder, and by opusenc at two bitrates: all accepted.
    let ours = path("ours.ogg");
    tool(BIN, ["voice", "encode", &speech, "--out", &ours]);
    let opusenc = path("opusenc.opus");
    tool("opusenc", ["--quiet", &speech, &opusenc]);
    let opusenc_low = path("opusenc16.opus");
    tool(
        "opusenc",
        ["--quiet", "--bitrate", "16", &speech, &opusenc_low],
    );
    // Media never opens a conversation; once bob has written, alice may send notes.
    let err = cli.fails("carol", &["send", "--to", "bob", "--voice", &ours]);
    assert!(err.contains("media_not_allowed_first_message"), "{err}");
    cli.ok(
        "bob",
        &["send", "--to", "alice", "--text", "send me a voice note"],
    );
    for note in [&ours, &opusenc, &opusenc_low] {
        let sent: Value = serde_json::from_str(
            &cli.ok("alice", &["send", "--to", "bob", "--voice", note, "--json"]),
        )
        .unwrap();
        assert!(sent["seq"].as_i64().is_some(), "{sent}");
        assert!(
            sent["voice"]["duration_ms"].as_u64().unwrap() > 1000,
            "{sent}"
        );
    }
    let got = cli.messages("bob", "alice");
    assert_eq!(
        got.iter().filter(|m| !m["voice"].is_null()).count(),
        3,
        "bob has the three notes"
    );

    // Too long, not Opus, not audio: a non-zero exit naming the code.
    let too_long = path("long.opus");
    tool("opusenc", ["--quiet", &long, &too_long]);
    let vorbis = path("vorbis.ogg");
    tool("sox", [&speech, &vorbis]);
    for (file, code) in [
        (&too_long, "voice_too_long"),
        (&vorbis, "invalid_voice"),
        (&speech, "invalid_voice"),
    ] {
        let err = cli.fails("alice", &["send", "--to", "bob", "--voice", file]);
        assert!(err.contains(code), "{file}: {err}");
    }
    assert_eq!(
        cli.messages("bob", "alice").len(),
        4,
        "nothing else arrived"
    );
}

#[test]
fn requests_accept_block_report_and_settings_from_the_command_line() {
    let server = ServerProcess::start();
    let root = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, root.path());
    for name in ["alice", "bob", "carol"] {
        cli.signup(name);
    }
    cli.ok("alice", &["send", "--to", "bob", "--text", "hi bob"]);
    let requests: Value = serde_json::from_str(&cli.ok("bob", &["requests", "--json"])).unwrap();
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["title"], "alice");
    assert_eq!(requests[0]["request"], true);
    // not in the main list
    let main: Value = serde_json::from_str(&cli.ok("bob", &["conversations", "--json"])).unwrap();
    assert!(main.as_array().unwrap().is_empty(), "{main}");

    let err = cli.fails("bob", &["accept", "--from", "carol"]);
    assert!(err.contains("conversation_not_found"), "{err}");
    cli.ok("bob", &["accept", "--from", "alice"]);
    let requests: Value = serde_json::from_str(&cli.ok("bob", &["requests", "--json"])).unwrap();
    assert!(requests.as_array().unwrap().is_empty());
    let main: Value = serde_json::from_str(&cli.ok("bob", &["conversations", "--json"])).unwrap();
    assert_eq!(main.as_array().unwrap().len(), 1);

    // carol writes, bob reports her and blocks her; her next message is refused
    cli.ok("carol", &["send", "--to", "bob", "--text", "send me money"]);
    cli.ok("bob", &["report", "--user", "carol", "--reason", "scam"]);
    cli.ok("bob", &["block", "carol"]);
    let err = cli.fails(
        "carol",
        &["send", "--to", "bob", "--text", "hello??", "--timeout", "5"],
    );
    assert!(err.contains("blocked"), "{err}");

    let out = Command::new(BIN)
        .args(["admin", "--data"])
        .arg(server.data.path())
        .args(["reports", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["reporter"], "bob");
    assert_eq!(reports[0]["reported"], "carol");
    assert_eq!(reports[0]["reason"], "scam");
    assert_eq!(reports[0]["messages"][0]["text"], "send me money");

    let err = cli.fails("bob", &["report", "--user", "carol", "--reason", " "]);
    assert!(err.contains("invalid_report"), "{err}");
    assert!(cli
        .ok("alice", &["settings", "--nudity-filter", "on"])
        .contains("nudity filter: on"));
    assert!(cli
        .ok("alice", &["settings", "--nudity-filter", "off"])
        .contains("nudity filter: off"));
}

#[test]
fn group_invitations_leaving_removing_renaming_and_reports_from_the_command_line() {
    let server = ServerProcess::start();
    let root = tempfile::tempdir().unwrap();
    let cli = Cli::new(&server.url, root.path());
    for name in ["stranger", "teen", "carol"] {
        cli.signup(name);
    }
    let json = |out: String| serde_json::from_str::<Value>(&out).unwrap();
    let group = json(cli.ok(
        "stranger",
        &[
            "group-create",
            "--name",
            "fun",
            "--members",
            "teen,carol",
            "--json",
        ],
    ));
    let id = group["id"].as_str().unwrap().to_string();
    cli.ok(
        "stranger",
        &["send", "--conversation", &id, "--text", "hello there"],
    );

    // An invitation sits with the requests, saying what it is.
    let requests = json(cli.ok("teen", &["requests", "--json"]));
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["kind"], "group");
    assert_eq!(requests[0]["name"], "fun");
    assert_eq!(requests[0]["inviter"], "stranger");
    assert_eq!(requests[0]["member_count"], 3);
    let listed = json(cli.ok("teen", &["messages", "--conversation", &id, "--json"]));
    assert_eq!(texts(listed.as_array().unwrap()), ["hello there"]);
    // An invitee cannot write yet.
    let err = cli.fails(
        "teen",
        &[
            "send",
            "--conversation",
            &id,
            "--text",
            "hi",
            "--timeout",
            "5",
        ],
    );
    assert!(err.contains("invitation_pending"), "{err}");

    // carol declines: out, and the group is not in her lists any more.
    cli.ok("carol", &["delete-request", "--conversation", &id]);
    assert!(json(cli.ok("carol", &["requests", "--json"]))
        .as_array()
        .unwrap()
        .is_empty());
    // teen accepts, then the admin renames, and only the admin may remove.
    cli.ok("teen", &["accept", "--conversation", &id]);
    let main = json(cli.ok("teen", &["conversations", "--json"]));
    assert_eq!(main.as_array().unwrap().len(), 1);
    assert!(cli
        .ok(
            "stranger",
            &["group-rename", "--conversation", &id, "--name", "fun 2"]
        )
        .contains("fun 2"));
    let err = cli.fails(
        "teen",
        &[
            "group-remove",
            "--conversation",
            &id,
            "--username",
            "stranger",
        ],
    );
    assert!(err.contains("not_group_creator"), "{err}");
    let human = cli.ok("teen", &["messages", "--conversation", &id]);
    assert!(human.contains("renamed the group to \"fun 2\""), "{human}");

    // A report from the group names it for the moderators.
    cli.ok(
        "teen",
        &[
            "report",
            "--user",
            "stranger",
            "--conversation",
            &id,
            "--reason",
            "creepy",
        ],
    );
    let out = Command::new(BIN)
        .args(["admin", "--data"])
        .arg(server.data.path())
        .args(["reports", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["conversation_kind"], "group");
    assert_eq!(reports[0]["conversation_name"], "fun 2");
    assert_eq!(reports[0]["messages"][0]["text"], "hello there");

    // teen leaves: gone from the lists; the stranger sees the line.
    cli.ok("teen", &["group-leave", "--conversation", &id]);
    assert!(json(cli.ok("teen", &["conversations", "--json"]))
        .as_array()
        .unwrap()
        .is_empty());
    let seen = cli.ok("stranger", &["messages", "--conversation", &id]);
    assert!(seen.contains("teen left"), "{seen}");
    let left = cli.fails(
        "stranger",
        &["group-remove", "--conversation", &id, "--username", "teen"],
    );
    assert!(left.contains("user_not_found"), "{left}");
}
