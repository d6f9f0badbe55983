//! Server process sampling from `/proc/PID/stat` (CPU: utime + stime in
//! clock ticks) and `/proc/PID/status` (`VmRSS`). Both include every
//! thread of the process (ringcast's shards, Node's libuv pool).

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// utime + stime in microseconds.
    pub(crate) cpu_us: u64,
    pub(crate) rss_bytes: u64,
}

/// Reads the process, `None` if it does not exist (any more).
pub(crate) fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Sample {
        cpu_us: parse_cpu_ticks(&stat)? * 1_000_000 / clk_tck(),
        rss_bytes: parse_rss_kb(&status)? * 1024,
    })
}

/// The sum of several processes (a cluster's nodes and its Redis); `None`
/// when `pids` is empty or one of them cannot be read.
pub(crate) fn sample_all(pids: &[u32]) -> Option<Sample> {
    let mut total = Sample {
        cpu_us: 0,
        rss_bytes: 0,
    };
    for &pid in pids {
        let s = sample(pid)?;
        total.cpu_us += s.cpu_us;
        total.rss_bytes += s.rss_bytes;
    }
    (!pids.is_empty()).then_some(total)
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
    }
}
