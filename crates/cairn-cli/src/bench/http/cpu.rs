//! CPU time the servers use, read from `/proc` (Linux).
//!
//! Both servers run in this process on a shared runtime, and the load generator runs on the
//! main thread, so the servers' CPU time is the process's minus the main thread's. Divided by
//! the requests of a phase it gives CPU per request, a figure that other work on a shared
//! machine disturbs far less than throughput: a busy neighbour steals time, not instructions.

use std::time::Duration;

/// `/proc` reports CPU time in clock ticks of 1/100 s (`USER_HZ`, fixed by the kernel ABI).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) used so far by every thread of this process except the main
/// one; `None` where `/proc` is not available.
pub fn server_cpu_time() -> Option<Duration> {
    let process = cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let main = format!("/proc/self/task/{}/stat", std::process::id());
    let main = cpu_ticks(&std::fs::read_to_string(main).ok()?)?;
    let ticks = process.checked_sub(main)?;
    Some(Duration::from_millis(ticks * 1_000 / TICKS_PER_SECOND))
}

/// CPU time (user + system) used so far by process `pid` (all its threads); `None` where
/// `/proc` is not available or the process is gone. `cairn bench cluster` sums it over the
/// node processes it started.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let ticks = cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    Some(Duration::from_millis(ticks * 1_000 / TICKS_PER_SECOND))
}

/// `utime + stime` from a `stat` line. The command name (field 2) is parenthesised and may
/// hold spaces, so fields are counted from the last `)`: utime and stime are fields 14 and
/// 15, the 12th and 13th after it.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_read_after_the_command_name() {
        let line = "12546 (a b) c) R 12544 12544 5084 0 -1 4194304 123 0 0 0 7 5 0 0 20 0 1";
        assert_eq!(cpu_ticks(line), Some(12));
        assert_eq!(cpu_ticks("garbage"), None);
    }
}
