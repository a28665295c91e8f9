//! Signals to child processes (`haicheng dev`'s services, the processes of the system tests):
//! the one place outside the test harness that calls into libc.

use std::io;

/// Sends `signal` (`libc::SIGTERM`, `libc::SIGINT`, ...) to the process `pid`.
pub fn signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "process id out of range"))?;
    // SAFETY: kill(2) takes two integers and touches no memory of this process; a process
    // that already ended makes it fail with ESRCH, reported as an error.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(pid, signal) };
    if sent == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_is_signalled_and_an_ended_one_is_an_error() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        super::signal(child.id(), libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // The zombie is reaped: its id names nothing now.
        assert!(super::signal(child.id(), libc::SIGTERM).is_err());
    }
}
