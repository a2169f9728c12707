//! Which function answers which route: the one table the HTTP API's routes in
//! `infra/template.yaml` are checked against, and the one each function's router is restricted
//! by, so a function invoked directly (its function URL, `cargo lambda watch`) answers exactly
//! what API Gateway would send it.
//!
//! Route keys are written as API Gateway writes them: `METHOD /path` with `{name}` for one
//! segment, `{name+}` for the rest of the path, `ANY` for every method, and `$default` for
//! whatever no other route matches.

use std::cmp::Ordering;

/// The Lambda functions of the deployment, one binary each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// Create, edit, choose the kind, check and submit registrations; read them and their history.
    Submissions,
    /// The reviews, paper received, the decision and reopening; the next number; resolving
    /// objections.
    Transitions,
    /// Attachments: presigned upload, confirmation, presigned download, removal.
    Uploads,
    /// The xlsx exports.
    Exports,
    /// The applicant and staff pages, the session, administration, projects and mail: and
    /// every path no other function claims.
    Pages,
    /// The public's objections during the website notice (no login).
    Objections,
    /// Rebuilds the public site into its bucket (daily, and after transitions).
    Publisher,
    /// Sends due mail and removes expired uploads (every few minutes).
    Housekeeping,
}

impl Function {
    /// Every function.
    pub const ALL: [Function; 8] = [
        Function::Submissions,
        Function::Transitions,
        Function::Uploads,
        Function::Exports,
        Function::Pages,
        Function::Objections,
        Function::Publisher,
        Function::Housekeeping,
    ];

    /// The functions behind the HTTP API.
    pub const HTTP: [Function; 6] = [
        Function::Submissions,
        Function::Transitions,
        Function::Uploads,
        Function::Exports,
        Function::Pages,
        Function::Objections,
    ];

    /// The name of its binary (`target/lambda/NAME/bootstrap`).
    pub fn binary(self) -> &'static str {
        match self {
            Function::Submissions => "submissions",
            Function::Transitions => "transitions",
            Function::Uploads => "uploads",
            Function::Exports => "exports",
            Function::Pages => "pages",
            Function::Objections => "objections",
            Function::Publisher => "publisher",
            Function::Housekeeping => "housekeeping",
        }
    }

    /// The function of a binary name.
    pub fn from_binary(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.binary() == name)
    }

    /// The API Gateway route keys it serves (none for the event-driven functions).
    pub fn routes(self) -> impl Iterator<Item = &'static str> {
        ROUTES
            .iter()
            .filter(move |(f, _)| *f == self)
            .map(|(_, key)| *key)
    }
}

/// Every route of the HTTP API and its function.
pub const ROUTES: &[(Function, &str)] = &[
    (Function::Submissions, "POST /api/registrations"),
    (Function::Submissions, "GET /api/registrations"),
    (Function::Submissions, "GET /api/registrations/{id}"),
    (Function::Submissions, "PATCH /api/registrations/{id}"),
    (Function::Submissions, "POST /api/registrations/{id}/kind"),
    (Function::Submissions, "GET /api/registrations/{id}/check"),
    (Function::Submissions, "GET /api/registrations/{id}/history"),
    (
        Function::Submissions,
        "POST /api/registrations/{id}/actions/submit",
    ),
    (
        Function::Transitions,
        "POST /api/registrations/{id}/actions/{action}",
    ),
    (
        Function::Transitions,
        "GET /api/registrations/{id}/next-number",
    ),
    (Function::Transitions, "POST /api/objections/{id}/resolve"),
    (Function::Uploads, "GET /api/registrations/{id}/attachments"),
    (
        Function::Uploads,
        "POST /api/registrations/{id}/attachments",
    ),
    (
        Function::Uploads,
        "DELETE /api/registrations/{id}/attachments/{aid}",
    ),
    (
        Function::Uploads,
        "POST /api/registrations/{id}/attachments/{aid}/confirm",
    ),
    (
        Function::Uploads,
        "GET /api/registrations/{id}/attachments/{aid}/download",
    ),
    (Function::Exports, "GET /api/registrations/{id}/notice.xlsx"),
    (Function::Exports, "POST /api/exports/notices"),
    (Function::Exports, "GET /api/exports/registrations.xlsx"),
    (Function::Objections, "POST /api/public/objections"),
    (Function::Pages, "POST /api/session"),
    (Function::Pages, "DELETE /api/session"),
    (Function::Pages, "GET /api/me"),
    (Function::Pages, "GET /api/projects"),
    (Function::Pages, "POST /api/projects/import"),
    (Function::Pages, "POST /api/projects/{id}/acceptance"),
    (Function::Pages, "ANY /api/admin/{proxy+}"),
    (Function::Pages, "GET /api/openapi.json"),
    (Function::Pages, "GET /healthz"),
    (Function::Pages, "$default"),
];

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey<'a> {
    /// `None` for `ANY`.
    pub method: Option<&'a str>,
    /// `None` for `$default`.
    pub segments: Option<Vec<Segment<'a>>>,
}

/// One segment of a route's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Literal(&'a str),
    /// `{name}`: one segment.
    Variable(&'a str),
    /// `{name+}`: one or more segments, last only.
    Greedy(&'a str),
}

impl<'a> RouteKey<'a> {
    /// Parses `METHOD /path` or `$default`.
    pub fn parse(key: &'a str) -> Result<RouteKey<'a>, String> {
        if key == "$default" {
            return Ok(RouteKey {
                method: None,
                segments: None,
            });
        }
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| format!("route key `{key}` is not `METHOD /path`"))?;
        if !matches!(
            method,
            "ANY" | "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
        ) {
            return Err(format!("route key `{key}`: unknown method `{method}`"));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| format!("route key `{key}`: the path must start with `/`"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let seg = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) if i + 1 == parts.len() => Segment::Greedy(name),
                    Some(_) => {
                        return Err(format!("route key `{key}`: `{{name+}}` must come last"));
                    }
                    None => Segment::Variable(name),
                },
                None if part.is_empty() && parts.len() > 1 => {
                    return Err(format!("route key `{key}`: empty segment"));
                }
                None => Segment::Literal(part),
            };
            segments.push(seg);
        }
        Ok(RouteKey {
            method: (method != "ANY").then_some(method),
            segments: Some(segments),
        })
    }

    /// How specifically this route matches `method` and `path`, or `None` when it does not.
    fn matches(&self, method: &str, path: &str) -> Option<Specificity> {
        let Some(segments) = &self.segments else {
            return Some(Specificity::default());
        };
        if self.method.is_some_and(|m| m != method) {
            return None;
        }
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut kinds = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i) != Some(l) {
                        return None;
                    }
                    kinds.push(2);
                }
                Segment::Variable(_) => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return None;
                    }
                    kinds.push(1);
                }
                Segment::Greedy(_) => {
                    if parts.len() <= i || parts[i..].iter().all(|p| p.is_empty()) {
                        return None;
                    }
                    return Some(Specificity {
                        route: true,
                        exact: false,
                        segments: kinds,
                        method: self.method.is_some(),
                    });
                }
            }
        }
        (parts.len() == segments.len()).then_some(Specificity {
            route: true,
            exact: true,
            segments: kinds,
            method: self.method.is_some(),
        })
    }
}

/// API Gateway's order of precedence: any route before `$default`, a route without a greedy
/// variable before one with it, literal segments before variables, a method before `ANY`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Specificity {
    route: bool,
    exact: bool,
    segments: Vec<u8>,
    method: bool,
}

impl PartialOrd for Specificity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Specificity {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.route, self.exact, &self.segments, self.method).cmp(&(
            other.route,
            other.exact,
            &other.segments,
            other.method,
        ))
    }
}

/// The function API Gateway sends `method path` to, and the route key it matched.
pub fn select(method: &str, path: &str) -> (Function, &'static str) {
    let mut best: Option<(Specificity, Function, &'static str)> = None;
    for (function, key) in ROUTES {
        let Ok(route) = RouteKey::parse(key) else {
            continue;
        };
        if let Some(s) = route.matches(method, path)
            && best.as_ref().is_none_or(|(b, _, _)| s > *b)
        {
            best = Some((s, *function, key));
        }
    }
    best.map(|(_, f, k)| (f, k))
        .unwrap_or((Function::Pages, "$default"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_key_parses() {
        for (_, key) in ROUTES {
            RouteKey::parse(key).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn no_route_key_is_listed_twice() {
        let mut keys: Vec<&str> = ROUTES.iter().map(|(_, k)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len());
    }

    #[test]
    fn submit_goes_to_submissions_and_other_actions_to_transitions() {
        assert_eq!(
            select("POST", "/api/registrations/r1/actions/submit").0,
            Function::Submissions
        );
        assert_eq!(
            select("POST", "/api/registrations/r1/actions/decide").0,
            Function::Transitions
        );
    }

    #[test]
    fn literal_segments_win_over_variables() {
        assert_eq!(
            select("GET", "/api/registrations/r1/notice.xlsx"),
            (Function::Exports, "GET /api/registrations/{id}/notice.xlsx")
        );
        assert_eq!(
            select("GET", "/api/registrations/r1/check").0,
            Function::Submissions
        );
    }

    #[test]
    fn greedy_routes_take_the_rest_of_the_path() {
        assert_eq!(
            select("PATCH", "/api/admin/users/u1"),
            (Function::Pages, "ANY /api/admin/{proxy+}")
        );
        assert_eq!(select("GET", "/api/admin/").1, "$default");
    }

    #[test]
    fn unmatched_paths_and_methods_fall_to_the_default_route() {
        assert_eq!(select("GET", "/app/r/r1"), (Function::Pages, "$default"));
        assert_eq!(select("PUT", "/api/registrations").1, "$default");
        assert_eq!(select("GET", "/api/nothing").1, "$default");
    }

    #[test]
    fn a_greedy_variable_must_come_last() {
        assert!(RouteKey::parse("GET /a/{p+}/b").is_err());
        assert!(RouteKey::parse("FETCH /a").is_err());
        assert!(RouteKey::parse("GET a").is_err());
    }
}
