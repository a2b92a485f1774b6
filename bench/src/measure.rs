//! Runs a child process and measures it the way the kernel accounts it:
//! wall time, user + system CPU seconds from `wait4` (the child and any
//! children it waited for), peak resident set size from `/proc`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// What a finished child cost.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User + system CPU time.
    pub cpu: Duration,
    /// Peak resident set size, in bytes.
    pub peak_rss: u64,
    /// Exit status code (-1 when killed by a signal).
    pub status: i32,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error (last 4 KiB).
    pub stderr: String,
}

/// Run `cmd` to completion, capturing its output to files in `dir`.
pub fn run(mut cmd: Command, dir: &std::path::Path, label: &str) -> Result<Usage> {
    std::fs::create_dir_all(dir)?;
    let out_path = dir.join(format!("{label}.stdout"));
    let err_path = dir.join(format!("{label}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?);
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {label}: {cmd:?}"))?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || watch_hwm(pid, &done))
    };
    let waited = wait4(pid);
    done.store(true, Ordering::Relaxed);
    let wall = started.elapsed();
    let polled = watcher.join().unwrap_or(0);
    let (status, cpu, _) = waited?;
    // `ru_maxrss` is not usable here: Linux carries the high-water mark of
    // the address space a child had before `exec` (the bench's own, as std
    // spawns with vfork) into the child's figure. `VmHWM` of the exec'd
    // process, polled, is its own peak (missing at most the last poll
    // interval's growth).
    let peak_rss = polled;
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail = stderr
        .char_indices()
        .rev()
        .nth(4096)
        .map_or(stderr.as_str(), |(i, _)| &stderr[i..])
        .to_string();
    Ok(Usage {
        wall,
        cpu,
        peak_rss,
        status,
        stdout,
        stderr: tail,
    })
}

/// How often the child's peak RSS is read.
const POLL: Duration = Duration::from_millis(5);

/// The last `VmHWM` of `pid` read before it exited, in bytes.
fn watch_hwm(pid: u32, done: &AtomicBool) -> u64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    while !done.load(Ordering::Relaxed) {
        let Ok(status) = std::fs::read_to_string(&path) else {
            break;
        };
        match status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
        {
            Some(kb) => peak = peak.max(kb * 1024),
            // A zombie has no memory left to report.
            None => break,
        }
        std::thread::sleep(POLL);
    }
    peak
}

/// Wait for `pid` and return (exit code, CPU time, `ru_maxrss` in bytes).
#[allow(unsafe_code)]
fn wait4(pid: u32) -> Result<(i32, Duration, u64)> {
    let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills in; zeroed is a
    // valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet waited for (std's `Child`
        // only waits when asked to, and we never ask); both pointers are to
        // live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4({pid}): {err}");
        }
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    // Linux reports ru_maxrss in KiB.
    let peak = (usage.ru_maxrss as u64) * 1024;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, cpu, peak))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child() {
        let dir =
            std::env::temp_dir().join(format!("extract-bench-measure-{}", std::process::id()));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.2; echo hello; exit 3"]);
        let u = run(cmd, &dir, "sh").expect("sh runs");
        assert_eq!(u.status, 3);
        assert_eq!(u.stdout.trim(), "hello");
        assert!(u.peak_rss > 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
