//! The frame worker on its own (`natter server` runs `natter internal-frame-worker`, the same
//! code): reads a video on stdin, writes its sampled keyframes on stdout. See
//! `natter_server::frames`.

fn main() -> std::process::ExitCode {
    natter_server::frames::worker_main()
}
