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
    /// Take the client's address from `X-Forwarded-For` (behind a proxy, CloudFront or API
    /// Gateway); otherwise from the connection.
    pub trust_forwarded_for: bool,
    /// Objections one address may file per hour.
    pub objections_per_hour: u64,
    /// Objections one address may file per day.
    pub objections_per_day: u64,
    /// The URL people reach the system at, quoted in notification emails.
    pub public_url: String,
    /// Send new mail before answering (Lambda, tests) instead of in a background task.
    pub mail_inline: bool,
    /// Where objections and paper materials go, printed on every 公示 export.
    pub notice_contact: String,
    /// The origin browsers upload attachments to when it is not this server (the S3 bucket's),
    /// allowed by the pages' Content-Security-Policy.
    pub upload_origin: Option<String>,
}

/// The registration point's service desk in Zhongshan, from the city's guidance.
pub const ZHONGSHAN_CONTACT: &str = "中山市生产力促进中心科技服务部（中山市东区东江路中山职业技术学院北门创新楼崇实园1号3楼），联系电话：88333788。网站公示期内，也可通过科技成果登记公示网站的“提出异议”在线提交。";

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
            trust_forwarded_for: false,
            objections_per_hour: 5,
            objections_per_day: 20,
            public_url: "http://127.0.0.1:8080".into(),
            mail_inline: false,
            notice_contact: ZHONGSHAN_CONTACT.into(),
            upload_origin: None,
        }
    }
}
