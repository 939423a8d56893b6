//! `cargo-atomic`: the binary. Argument parsing and rendering live in `cli/`; the work in the
//! `cargo_atomic` library.

mod cli;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal bug: cargo-atomic panicked ({info}).\n\
             Please report it with the command you ran; an interrupted transaction is finished by the next command."
        );
    }));
    // One command, then `exit`: what it built need not be freed first.
    cargo_atomic::ops::exit_after_command();
    let code = cli::run(std::env::args_os().collect());
    std::process::exit(code);
}
