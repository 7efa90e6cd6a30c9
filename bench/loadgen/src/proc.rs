//! Reads a process's CPU time and resident memory from `/proc`, to charge
//! the gateway under test with what it spent during the measured window.

/// CPU time (user + system) of `pid` in clock ticks, from `/proc/PID/stat`.
#[expect(
    clippy::disallowed_methods,
    reason = "a /proc read takes microseconds; ten a second do not disturb the load"
)]
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields resume after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3, so utime (14) and stime (15) are the
    // 12th and 13th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of `pid` in KiB, from `/proc/PID/status`.
#[expect(
    clippy::disallowed_methods,
    reason = "a /proc read takes microseconds; ten a second do not disturb the load"
)]
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Clock ticks per second: `getconf CLK_TCK`, which is 100 on Linux.
pub const CLK_TCK: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_some());
        assert!(rss_kib(me).is_some_and(|k| k > 0));
    }
}
