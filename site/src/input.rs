//! What a build reads: the public-relevant records, the names they refer to, and the date.

use chengguo_domain::org::Authority;
use chengguo_domain::project::Project;
use chengguo_domain::record::Registration;
use time::Date;

/// Where the objection form posts (the API's public route).
pub const OBJECTION_ENDPOINT: &str = "/api/public/objections";

/// How to reach the registration point besides the online form, from the city's guidance.
pub const DEFAULT_NOTICE_CONTACT: &str = "中山市生产力促进中心科技服务部（地址：中山市东区东江路中山职业技术学院北门创新楼崇实园1号3楼；联系电话：88333788）";

/// Everything a page may depend on. Two builds of equal inputs give identical pages.
#[derive(Debug, Clone)]
pub struct SiteInput {
    /// Records in `decision_pending` (with a notice) and `decided`; others are ignored.
    pub registrations: Vec<Registration>,
    /// Names of the approving authorities (批准登记单位) the records refer to.
    pub authorities: Vec<Authority>,
    /// In-system projects, for the project name and plan of provincial-plan records.
    pub projects: Vec<Project>,
    /// The build date (China): which notices are open and how many days remain.
    pub today: Date,
    /// The site's public origin without a trailing slash, e.g. `https://kj.example.gov.cn`, for
    /// the feed, the sitemap and canonical links; empty for root-relative links only. The site
    /// is served at the root of that origin.
    pub base_url: String,
    /// How objections reach the registration point offline (address, phone), shown on every
    /// announcement; also what a visitor without JavaScript reads instead of the form.
    pub notice_contact: String,
    /// The URL the objection form posts JSON to.
    pub objection_endpoint: String,
}

impl SiteInput {
    /// An input with no records, dated `today`, with the default contact and endpoint.
    pub fn new(today: Date) -> SiteInput {
        SiteInput {
            registrations: Vec::new(),
            authorities: Vec::new(),
            projects: Vec::new(),
            today,
            base_url: String::new(),
            notice_contact: DEFAULT_NOTICE_CONTACT.to_owned(),
            objection_endpoint: OBJECTION_ENDPOINT.to_owned(),
        }
    }
}
