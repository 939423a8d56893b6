//! Prints the config its build script merged and validated.

/// `config/base.yaml` + `config/prod.toml`, merged and validated at build time.
const CONFIG: &str = include_str!(concat!(env!("OUT_DIR"), "/config/rendered/app.json"));

fn main() {
    print!("{CONFIG}");
}

#[cfg(test)]
mod tests {
    /// The committed copy of the rendered config (for readers of the repository) is fresh.
    #[test]
    fn committed_render_is_fresh() {
        cargo_atomic::build::ensure_fresh(env!("CARGO_MANIFEST_DIR"));
    }
}
