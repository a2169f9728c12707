//! Settings of the API that do not depend on the backend.

use time::Duration;

/// API settings, loaded once at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Days of the unit's internal notice (`CHENGGUO_UNIT_NOTICE_DAYS`, default 7).
    pub unit_notice_days: u16,
    /// Days of the website notice (`CHENGGUO_WEBSITE_NOTICE_DAYS`, default 30).
    pub website_notice_days: u16,
    /// Lifetime of a login session.
    pub session_ttl: Duration,
    /// Lifetime of an upload URL; an upload not confirmed soon after is removed.
    pub upload_ttl: Duration,
    /// Lifetime of a download URL.
    pub download_ttl: Duration,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Largest JSON body accepted.
    pub max_json_body: usize,
    /// Largest import file accepted.
    pub max_import_body: usize,
    /// Failed logins in a row that lock an account.
    pub lockout_threshold: u32,
    /// How long a locked account stays locked.
    pub lockout_duration: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            unit_notice_days: 7,
            website_notice_days: 30,
            session_ttl: Duration::hours(12),
            upload_ttl: Duration::minutes(15),
            download_ttl: Duration::minutes(5),
            secure_cookies: false,
            max_json_body: 1024 * 1024,
            max_import_body: 10 * 1024 * 1024,
            lockout_threshold: 5,
            lockout_duration: Duration::minutes(15),
        }
    }
}
