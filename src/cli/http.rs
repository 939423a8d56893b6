//! The HTTP client `fetch` downloads with: ureq (blocking, small, rustls, maintained), only in
//! the binary. Each GET has a timeout, a size cap and up to three attempts with backoff;
//! proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (ureq's `Proxy::try_from_env`).
//! Redirects are followed (at most 5) but never from https to http.

use std::io::Read;
use std::time::Duration;

use cargo_atomic::ops::Http;
use cargo_atomic::ops::pins::MAX_BODY;

/// Attempts per URL, and the first pause between them (doubled each time).
const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(250);

/// The ureq agent.
pub struct Client {
    agent: ureq::Agent,
    /// The most a body may weigh.
    max_bytes: u64,
}

impl Client {
    /// A client whose requests time out after `CARGO_ATOMIC_HTTP_TIMEOUT` seconds (default 30)
    /// and refuse a body over `CARGO_ATOMIC_HTTP_MAX_BYTES` (default and most: [`MAX_BODY`]).
    pub fn new() -> Self {
        let number = |key: &str| {
            std::env::var(key)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
        };
        let secs = number("CARGO_ATOMIC_HTTP_TIMEOUT").unwrap_or(30.0);
        let max_bytes =
            number("CARGO_ATOMIC_HTTP_MAX_BYTES").map_or(MAX_BODY, |n| (n as u64).min(MAX_BODY));
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(secs)))
            .max_redirects(5)
            .http_status_as_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(concat!("cargo-atomic/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            max_bytes,
        }
    }

    fn once(&self, url: &str) -> Result<Vec<u8>, (String, bool)> {
        let response = self
            .agent
            .get(url)
            .config()
            .https_only(url.starts_with("https://"))
            .build()
            .call()
            .map_err(|e| (format!("cannot fetch `{url}`: {e}"), true))?;
        let status = response.status().as_u16();
        if status != 200 {
            // A server error may pass; a 404 will not.
            return Err((
                format!("cannot fetch `{url}`: HTTP {status}"),
                status >= 500,
            ));
        }
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(self.max_bytes + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                (
                    format!("cannot fetch `{url}`: the body was cut off: {e}"),
                    true,
                )
            })?;
        if body.len() as u64 > self.max_bytes {
            return Err((
                format!(
                    "cannot fetch `{url}`: the body is larger than {} bytes",
                    self.max_bytes
                ),
                false,
            ));
        }
        Ok(body)
    }
}

impl Http for Client {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut pause = BACKOFF;
        let mut attempt = 1;
        loop {
            match self.once(url) {
                Ok(body) => return Ok(body),
                Err((message, retry)) if retry && attempt < ATTEMPTS => {
                    let _ = message;
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
                Err((message, _)) => return Err(message),
            }
        }
    }
}

/// `fetch --offline` and `--frozen`: a client that refuses everything (the cache answers first).
pub struct Offline;

impl Http for Offline {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!(
            "`{url}` is not in the schema cache, and --offline forbids fetching it"
        ))
    }
}
