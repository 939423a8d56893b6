fn main() {
    // Validates config/*, renders config/rendered/app.json into OUT_DIR (only when its bytes
    // change) and prints cargo::rerun-if-changed for every file it read.
    if let Err(e) = cargo_atomic::build::build() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
