//! Server process sampling: CPU from `/proc/PID/task/*/schedstat` (each
//! thread's time on a CPU, in nanoseconds) with `/proc/PID/stat` (utime +
//! stime, in clock ticks of 10 ms) as the fallback, and `/proc/PID/status`
//! (`VmRSS`). Both CPU sources include every thread of the process
//! (ringcast's shards, Node's libuv pool).
//!
//! Why two sources: a half-second run is only 50 ticks, so tick accounting
//! alone puts ±2 % of quantization on every CPU-per-message figure. The
//! per-thread nanosecond counters have none, but a thread that exits takes
//! its time with it, so [`cpu_delta_us`] uses them only when the same
//! threads were alive at both readings.
//!
//! The server's cores: when the servers are confined to CPUs of their own
//! (one core each: none of them is this generator's), the busy time of
//! those CPUs (`/proc/stat`: user, nice, system, irq and softirq; not idle,
//! iowait or steal) is read too. It counts what the process counters miss:
//! kernel work for the server's sockets that runs at interrupt level while
//! the server sleeps (delayed-ACK timers, softirqs), which lands on a
//! server that sleeps often (an epoll loop) and not on one that stays busy.

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// utime + stime in microseconds (10 ms resolution).
    pub(crate) cpu_us: u64,
    /// The threads' time on a CPU in nanoseconds (`schedstat`), with the
    /// sum of their ids; `None` when a thread could not be read.
    pub(crate) cpu_ns: Option<(u64, u64)>,
    pub(crate) rss_bytes: u64,
    /// Busy time of the servers' own CPUs in microseconds (10 ms
    /// resolution); `None` unless they have CPUs of their own.
    pub(crate) core_us: Option<u64>,
}

/// CPU time between two readings in microseconds: from the nanosecond
/// thread counters when both readings have them and the same threads
/// (the sum of their ids is equal), else from the clock ticks.
pub(crate) fn cpu_delta_us(a: &Sample, b: &Sample) -> u64 {
    match (a.cpu_ns, b.cpu_ns) {
        (Some((na, ta)), Some((nb, tb))) if ta == tb && nb >= na => (nb - na) / 1_000,
        _ => b.cpu_us.saturating_sub(a.cpu_us),
    }
}

/// Sum of every thread's time on a CPU (ns) and of the thread ids.
fn thread_cpu_ns(pid: u32) -> Option<(u64, u64)> {
    let mut ns = 0u64;
    let mut ids = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let entry = entry.ok()?;
        let tid: u64 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        ids = ids.wrapping_add(tid);
    }
    Some((ns, ids))
}

/// Reads the process, `None` if it does not exist (any more).
pub(crate) fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Sample {
        cpu_us: parse_cpu_ticks(&stat)? * 1_000_000 / clk_tck(),
        cpu_ns: thread_cpu_ns(pid),
        rss_bytes: parse_rss_kb(&status)? * 1024,
        core_us: None,
    })
}

/// The sum of several processes (a cluster's nodes and its Redis); `None`
/// when `pids` is empty or one of them cannot be read.
pub(crate) fn sample_all(pids: &[u32]) -> Option<Sample> {
    let mut total = Sample {
        cpu_us: 0,
        cpu_ns: Some((0, 0)),
        rss_bytes: 0,
        core_us: None,
    };
    for &pid in pids {
        let s = sample(pid)?;
        total.cpu_us += s.cpu_us;
        total.cpu_ns = match (total.cpu_ns, s.cpu_ns) {
            (Some((n, t)), Some((n2, t2))) => Some((n + n2, t.wrapping_add(t2))),
            _ => None,
        };
        total.rss_bytes += s.rss_bytes;
    }
    total.core_us = own_cpus(pids).and_then(|cpus| cores_busy_us(&cpus));
    (!pids.is_empty()).then_some(total)
}

/// The CPUs a process may run on (`sched_getaffinity`; 0 is this process).
fn affinity(pid: u32) -> Option<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is valid; the call writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the given size.
    let rc = unsafe {
        libc::sched_getaffinity(pid as libc::pid_t, size_of::<libc::cpu_set_t>(), &mut set)
    };
    if rc != 0 {
        return None;
    }
    Some(
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `i` is below CPU_SETSIZE.
            .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
            .collect(),
    )
}

/// The union of the servers' CPUs when none of them is this process's:
/// the cores whose whole busy time is the servers' doing.
fn own_cpus(pids: &[u32]) -> Option<Vec<usize>> {
    let mine = affinity(0)?;
    let mut theirs: Vec<usize> = Vec::new();
    for &pid in pids {
        theirs.extend(affinity(pid)?);
    }
    theirs.sort_unstable();
    theirs.dedup();
    (!theirs.is_empty() && theirs.iter().all(|c| !mine.contains(c))).then_some(theirs)
}

/// Busy time of `cpus` in microseconds, from `/proc/stat`.
fn cores_busy_us(cpus: &[usize]) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut ticks = 0u64;
    for &cpu in cpus {
        ticks += parse_busy_ticks(&stat, cpu)?;
    }
    Some(ticks * 1_000_000 / clk_tck())
}

/// user + nice + system + irq + softirq of `cpuN` in `/proc/stat`.
fn parse_busy_ticks(stat: &str, cpu: usize) -> Option<u64> {
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    Some(f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)?)
}

/// Busy time of the servers' own cores between two readings, in µs.
pub(crate) fn core_delta_us(a: &Sample, b: &Sample) -> Option<u64> {
    Some(b.core_us?.saturating_sub(a.core_us?))
}

fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// utime (field 14) + stime (field 15); the command name (field 2) may
/// contain spaces and parentheses, so fields are counted after the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // rest starts at field 3 (state): utime is the 12th item, stime the 13th.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (my (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_rss_kb("Name:\tx\nVmRSS:\t   12345 kB\n"), Some(12345));
        let me = sample(std::process::id()).unwrap();
        assert!(me.rss_bytes > 0);
        let me = std::process::id();
        let two = sample_all(&[me, me]).unwrap();
        assert!(two.rss_bytes >= 2 * sample(me).unwrap().rss_bytes / 2);
        assert!(sample_all(&[]).is_none());
        // This process shares its CPUs with itself: no cores of its own.
        assert_eq!(own_cpus(&[me]), None);
    }

    #[test]
    fn parses_the_busy_time_of_one_cpu() {
        let stat = "cpu  10 20 30 40 50 60 70 80 0 0\n\
                    cpu0 1 2 3 400 500 6 7 800 0 0\n\
                    cpu1 10 20 30 40 50 60 70 80 0 0\n\
                    cpu10 9 9 9 9 9 9 9 9 0 0\n";
        assert_eq!(parse_busy_ticks(stat, 0), Some(1 + 2 + 3 + 6 + 7));
        assert_eq!(parse_busy_ticks(stat, 1), Some(10 + 20 + 30 + 60 + 70));
        assert_eq!(parse_busy_ticks(stat, 10), Some(45));
        assert_eq!(parse_busy_ticks(stat, 2), None);
        let a = Sample {
            cpu_us: 0,
            cpu_ns: None,
            rss_bytes: 0,
            core_us: Some(10_000),
        };
        let b = Sample {
            core_us: Some(30_000),
            ..a
        };
        assert_eq!(core_delta_us(&a, &b), Some(20_000));
        assert_eq!(core_delta_us(&a, &Sample { core_us: None, ..a }), None);
    }

    #[test]
    fn cpu_delta_prefers_thread_counters_of_the_same_threads() {
        let at = |cpu_us, cpu_ns| Sample {
            cpu_us,
            cpu_ns,
            rss_bytes: 0,
            core_us: None,
        };
        // Same threads: nanosecond counters (1.234 ms), not the ticks (10 ms).
        let a = at(10_000, Some((5_000_000, 7)));
        let b = at(20_000, Some((6_234_000, 7)));
        assert_eq!(cpu_delta_us(&a, &b), 1_234);
        // A thread came or went: its time is unknown, the ticks count.
        assert_eq!(cpu_delta_us(&a, &at(20_000, Some((6_234_000, 8)))), 10_000);
        assert_eq!(cpu_delta_us(&a, &at(20_000, None)), 10_000);
        // This busy thread's counters move.
        let me = std::process::id();
        let s1 = sample(me).unwrap();
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        let s2 = sample(me).unwrap();
        // (Other tests' threads may come and go meanwhile: compare only
        // readings of the same threads.)
        if let (Some(a), Some(b)) = (s1.cpu_ns, s2.cpu_ns) {
            if a.1 == b.1 {
                assert!(b.0 >= a.0 + 20_000_000, "{a:?} {b:?}");
            }
        }
    }
}
