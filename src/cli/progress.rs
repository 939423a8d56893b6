//! Progress of long work on stderr: an indicatif bar on a terminal; on anything else at most one
//! plain line per task (no escape codes); nothing under `--quiet` or machine formats.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many items a task is quick: no plain line announces it.
const ANNOUNCE_FROM: u64 = 200;

enum Mode {
    /// A bar on the terminal.
    Bar { color: bool },
    /// A plain line per long task.
    Lines,
    /// Nothing.
    Off,
}

/// The progress display of one command.
pub struct ProgressDisplay {
    mode: Mode,
    /// The task the bar shows.
    bar: Option<(String, ProgressBar)>,
    /// Tasks announced in `Lines` mode.
    announced: Vec<String>,
}

impl ProgressDisplay {
    /// `enabled`: a human format without `--quiet`.
    pub fn new(enabled: bool, color: bool) -> Self {
        let mode = match (enabled, io::stderr().is_terminal()) {
            (false, _) => Mode::Off,
            (true, true) => Mode::Bar { color },
            (true, false) => Mode::Lines,
        };
        ProgressDisplay {
            mode,
            bar: None,
            announced: Vec::new(),
        }
    }

    /// `task` ("validating files") has `done` of `total` (0: unknown) items done. Returns a
    /// plain line to print, if any.
    pub fn update(&mut self, task: &str, done: u64, total: u64) -> Option<String> {
        let (verb, noun) = task.split_once(' ').unwrap_or((task, ""));
        let verb = capitalize(verb);
        let finished = total != 0 && done >= total;
        match self.mode {
            Mode::Off => None,
            Mode::Lines => {
                if finished && done < ANNOUNCE_FROM && total != 0
                    || self.announced.iter().any(|t| t == task)
                {
                    return None;
                }
                if total != 0 && total < ANNOUNCE_FROM {
                    return None;
                }
                self.announced.push(task.to_owned());
                Some(match total {
                    0 => format!("{verb:>12} {noun}...\n"),
                    n => format!("{verb:>12} {n} {noun}\n"),
                })
            }
            Mode::Bar { color } => {
                if finished {
                    self.clear();
                    return None;
                }
                if self.bar.as_ref().is_none_or(|(t, _)| t != task) {
                    self.clear();
                    let bar = if total == 0 {
                        ProgressBar::new_spinner()
                    } else {
                        ProgressBar::new(total)
                    };
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.set_style(style(total == 0, color));
                    bar.set_prefix(verb);
                    bar.set_message(noun.to_owned());
                    bar.enable_steady_tick(Duration::from_millis(100));
                    self.bar = Some((task.to_owned(), bar));
                }
                if let Some((_, bar)) = &self.bar {
                    bar.set_position(done);
                }
                None
            }
        }
    }

    /// Runs `f` (which prints) with the bar hidden, so lines and bar do not mix.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some((_, bar)) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar, if one is shown.
    pub fn clear(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn style(spinner: bool, color: bool) -> ProgressStyle {
    let prefix = if color {
        "{prefix:>12.cyan.bold}"
    } else {
        "{prefix:>12}"
    };
    let template = if spinner {
        format!("{prefix} {{spinner}} {{pos}} {{msg}}")
    } else {
        format!("{prefix} [{{bar:27}}] {{pos}}/{{len}} {{msg}}")
    };
    ProgressStyle::with_template(&template)
        .expect("a valid template")
        .progress_chars("=> ")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
