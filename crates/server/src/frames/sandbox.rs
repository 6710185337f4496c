//! What the frame worker does to itself before it reads a byte of a video, so that a hostile
//! file that takes over the decoder can do nothing but write garbage to its stdout:
//!
//! - no core dumps (`RLIMIT_CORE` 0);
//! - a network namespace of its own where the kernel allows one (as root, or through a new
//!   user namespace); a defence in depth, since the next step stops networking anyway;
//! - **a system-call filter** (seccomp-BPF, Linux on x86-64 and AArch64, built by the
//!   `seccompiler` crate): it may read descriptor 0, write descriptors 1 and 2, manage its
//!   memory, signal itself and exit. Every other call fails with `EPERM`: no `open`, no
//!   `socket`, no `connect`, no `execve`, no new process or thread, and no read or write on
//!   any other descriptor, so a descriptor the server inherited without close-on-exec is of
//!   no use to it either. Unprivileged: it needs only `no_new_privs`, which `seccompiler` sets.
//!
//! Where the filter cannot be installed (another OS or architecture, a kernel without
//! seccomp), the worker refuses to decode anything: the video is then refused as unchecked,
//! never judged by an unconfined decoder. [`report`] (`--sandbox-check`) shows what a taken-over
//! worker could still do; the server's tests run it.

use std::io::Write as _;
use std::process::ExitCode;

/// Sets up the sandbox; an error means the worker must not go on.
pub(super) fn isolate() -> Result<(), String> {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        // (No file-size limit here: run by hand its stdout may be a file. The server's
        // `prlimit` sets one; there stdio are pipes.)
        let none = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        let _ = setrlimit(Resource::Core, none);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::thread::UnshareFlags;
        // `unshare` is deprecated for `unshare_unsafe` because some flags (CLONE_FILES,
        // CLONE_FS) change what other threads see; a new network (and user) namespace does
        // not, and no other thread exists yet.
        #[allow(deprecated)]
        let unshare = rustix::thread::unshare;
        // Best effort: the filter below is what closes the network.
        let _ = unshare(UnshareFlags::NEWNET).is_ok()
            || unshare(UnshareFlags::NEWUSER | UnshareFlags::NEWNET).is_ok();
    }
    filter::install()
}

/// `--sandbox-check`: tries, from inside the sandbox, what a hostile decoder would try, and
/// prints one line per attempt (`name: denied` when the sandbox stopped it). Exits 0 when
/// everything was denied and the worker's own output still works.
pub(super) fn report() -> ExitCode {
    // A descriptor above stdio, opened before the sandbox: what an inherited one would be.
    let spare = std::fs::OpenOptions::new().write(true).open("/dev/null");
    if let Err(e) = isolate() {
        println!("sandbox: {e}");
        return ExitCode::FAILURE;
    }
    let outcome = |r: std::io::Result<()>| match r {
        Ok(()) => "allowed".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "denied".to_string(),
        Err(e) => format!("failed otherwise ({e})"),
    };
    let attempts: [(&str, std::io::Result<()>); 5] = [
        (
            "write to another descriptor",
            spare.and_then(|mut f| f.write_all(b"x")),
        ),
        (
            "open a file",
            std::fs::File::open("/etc/hostname").map(drop),
        ),
        (
            "connect to the network",
            std::net::TcpStream::connect(("127.0.0.1", 9)).map(drop),
        ),
        (
            "open a socket",
            std::net::UdpSocket::bind(("127.0.0.1", 0)).map(drop),
        ),
        (
            "start a program",
            std::process::Command::new("/bin/true").status().map(drop),
        ),
    ];
    let mut all_denied = true;
    let mut out = std::io::stdout().lock();
    for (name, result) in attempts {
        let verdict = outcome(result);
        all_denied &= verdict == "denied";
        if writeln!(out, "{name}: {verdict}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if all_denied {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod filter {
    use std::collections::BTreeMap;

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    /// Allowed whatever their arguments: memory, signals to itself (a Rust panic or a C
    /// `abort` ends that way), time, randomness (a `HashMap`'s keys) and ending.
    const ANY_ARGUMENTS: &[i64] = &[
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_futex,
        libc::SYS_getrandom,
        libc::SYS_clock_gettime,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_close,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];

    fn first_argument_is(values: &[u64]) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        values
            .iter()
            .map(|&v| {
                SeccompRule::new(vec![SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::Eq,
                    v,
                )?])
            })
            .collect()
    }

    pub(super) fn install() -> Result<(), String> {
        let build = || -> Result<BpfProgram, seccompiler::BackendError> {
            let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ANY_ARGUMENTS
                .iter()
                .map(|&call| (call, Vec::new()))
                .collect();
            rules.insert(libc::SYS_read, first_argument_is(&[0])?);
            rules.insert(libc::SYS_write, first_argument_is(&[1, 2])?);
            rules.insert(libc::SYS_writev, first_argument_is(&[1, 2])?);
            // A signal to itself only (abort raises SIGABRT with tgkill).
            rules.insert(
                libc::SYS_tgkill,
                first_argument_is(&[u64::from(std::process::id())])?,
            );
            let arch = TargetArch::try_from(std::env::consts::ARCH)?;
            SeccompFilter::new(
                rules,
                SeccompAction::Errno(libc::EPERM as u32),
                SeccompAction::Allow,
                arch,
            )?
            .try_into()
        };
        let program = build().map_err(|e| format!("building the system-call filter: {e}"))?;
        seccompiler::apply_filter(&program)
            .map_err(|e| format!("installing the system-call filter: {e}"))
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod filter {
    pub(super) fn install() -> Result<(), String> {
        Err("no system-call filter on this platform: the worker does not decode here".into())
    }
}
