//! Keras's progress output: `verbose=1` a live bar per epoch, `verbose=2` one line per epoch.

use super::Logs;
use std::io::Write;
use std::time::Instant;

pub(crate) struct Progress {
    verbose: u8,
    /// Live updates only on a terminal; logs and pipes get the end-of-epoch line alone, as
    /// Keras's progress bar does when output is not interactive.
    live: bool,
    steps: usize,
    start: Instant,
}

fn fmt_logs(logs: &Logs) -> String {
    logs.iter().map(|(k, v)| format!(" - {k}: {v:.4}")).collect()
}

fn fmt_time(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{}s", secs.round() as u64)
    } else {
        format!("{}ms", (secs * 1e3).round() as u64)
    }
}

impl Progress {
    pub(crate) fn new(verbose: u8, epoch: usize, epochs: usize, steps: usize) -> Progress {
        if verbose > 0 {
            println!("Epoch {}/{}", epoch + 1, epochs);
        }
        use std::io::IsTerminal;
        Progress {
            verbose,
            live: std::io::stdout().is_terminal(),
            steps,
            start: Instant::now(),
        }
    }

    /// After batch `step` (1-based).
    pub(crate) fn update(&mut self, step: usize, logs: &Logs) {
        if self.verbose != 1 || !self.live {
            return;
        }
        let width = 20;
        let done = width * step / self.steps.max(1);
        let bar = format!("{}{}", "━".repeat(done), " ".repeat(width - done));
        let el = self.start.elapsed().as_secs_f64();
        let per = el / step as f64;
        print!(
            "\r{step:>w$}/{} {bar} {} {}/step{}",
            self.steps,
            fmt_time(el),
            fmt_time(per),
            fmt_logs(logs),
            w = self.steps.to_string().len()
        );
        let _ = std::io::stdout().flush();
    }

    /// At the end of the epoch (validation logs included).
    pub(crate) fn finish(&mut self, logs: &Logs) {
        let el = self.start.elapsed().as_secs_f64();
        let per = el / self.steps.max(1) as f64;
        match self.verbose {
            1 => {
                let bar = "━".repeat(20);
                println!(
                    "{}{}/{} {bar} {} {}/step{}",
                    if self.live { "\r\x1b[2K" } else { "" },
                    self.steps,
                    self.steps,
                    fmt_time(el),
                    fmt_time(per),
                    fmt_logs(logs)
                );
            }
            2 => println!(
                "{}/{} - {} - {}/step{}",
                self.steps,
                self.steps,
                fmt_time(el),
                fmt_time(per),
                fmt_logs(logs)
            ),
            _ => {}
        }
    }
}
