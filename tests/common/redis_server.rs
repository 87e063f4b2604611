//! The Redis server tests use (127.0.0.1:6379; `AUTHGATE_TEST_REDIS`
//! overrides it) and a random key prefix per test, whose keys are deleted
//! on drop.

/// `redis://host:port` of the test server.
pub fn url() -> String {
    std::env::var("AUTHGATE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `host:port` of the test server (for a [`super::pg::CutProxy`]).
pub fn addr() -> String {
    url()
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_string()
}

/// A key prefix of this test's own.
pub struct TempPrefix {
    pub prefix: String,
}

impl TempPrefix {
    pub fn new() -> Self {
        Self {
            prefix: format!("authgate-test-{:016x}:", rand::random::<u64>()),
        }
    }

    /// Keys under the prefix.
    pub fn keys(&self) -> Vec<String> {
        let Ok(client) = redis::Client::open(url()) else {
            return Vec::new();
        };
        let Ok(mut c) = client.get_connection() else {
            return Vec::new();
        };
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut c)
            .unwrap_or_default()
    }
}

impl Drop for TempPrefix {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut c) = redis::Client::open(url()).and_then(|c| c.get_connection()) {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut c);
        }
    }
}
