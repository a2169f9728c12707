//! The reference model: what domain.md §4–§6 say each request must do, written here from the
//! specification and independently of the product's workflow table, scope and numbering code.

use time::Date;

/// The approving authority every record of the model is addressed to (demo `point`'s).
pub const AUTHORITY: &str = "zs-kjj";
/// A second authority with its own point, who must never see the records of the first.
pub const OTHER_AUTHORITY: &str = "zs-other";
/// The code of [`AUTHORITY`]: the first three characters of its registration numbers.
pub const AUTHORITY_CODE: &str = "442";
pub const UNIT: &str = "unit-zs-tech";
pub const UNIT_B: &str = "unit-zs-institute";
pub const DEPARTMENT: &str = "dept-rd";

/// The requestable workflow actions (api.md).
pub const ACTIONS: [&str; 6] = [
    "submit",
    "pass",
    "return",
    "receive_paper",
    "decide",
    "reopen",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Department,
    Unit,
    Point,
    Supervisor,
    Office,
    Admin,
}

/// One account of the demo organisation (plus `point-b`, of another authority).
#[derive(Debug)]
pub struct Account {
    pub username: &'static str,
    pub role: Role,
    pub unit: Option<&'static str>,
    pub department: Option<&'static str>,
    pub authority: Option<&'static str>,
    pub supervises: &'static [&'static str],
}

const fn account(username: &'static str, role: Role) -> Account {
    Account {
        username,
        role,
        unit: None,
        department: None,
        authority: None,
        supervises: &[],
    }
}

/// Every account a step may act as; leaders own the records.
pub const ACCOUNTS: [Account; 11] = [
    account("admin", Role::Admin),
    account("office", Role::Office),
    Account {
        supervises: &[UNIT],
        ..account("supervisor", Role::Supervisor)
    },
    Account {
        authority: Some(AUTHORITY),
        ..account("point", Role::Point)
    },
    Account {
        authority: Some(OTHER_AUTHORITY),
        ..account("point-b", Role::Point)
    },
    Account {
        unit: Some(UNIT),
        ..account("unit", Role::Unit)
    },
    Account {
        unit: Some(UNIT_B),
        ..account("unit-b", Role::Unit)
    },
    Account {
        unit: Some(UNIT),
        department: Some(DEPARTMENT),
        ..account("dept", Role::Department)
    },
    Account {
        unit: Some(UNIT),
        department: Some(DEPARTMENT),
        ..account("leader", Role::Leader)
    },
    Account {
        unit: Some(UNIT),
        ..account("leader-nodept", Role::Leader)
    },
    Account {
        unit: Some(UNIT_B),
        ..account("leader-b", Role::Leader)
    },
];

/// The index of an account by name.
pub fn account_index(username: &str) -> usize {
    ACCOUNTS
        .iter()
        .position(|a| a.username == username)
        .expect("known account")
}

/// The three kinds with their number flags.
pub const KINDS: [(&str, char); 3] = [("applied", 'Y'), ("basic", 'J'), ("soft", 'R')];

/// What the model knows of one registration.
#[derive(Debug, Clone)]
pub struct Rec {
    pub id: String,
    /// Index into [`ACCOUNTS`] of the owning leader.
    pub owner: usize,
    /// Index into [`KINDS`].
    pub kind: usize,
    pub state: &'static str,
    pub version: u64,
    /// The whole form was saved.
    pub filled: bool,
    /// Every required material was uploaded and confirmed.
    pub materials: bool,
    pub number: Option<String>,
    /// Last day of the website notice, once paper was received.
    pub website_to: Option<Date>,
    /// A confirmed 退回到未批复 evidence attachment.
    pub evidence: Option<String>,
    /// Objections filed on the record, with whether each was resolved.
    pub objections: Vec<(String, bool)>,
    /// How many history events the record must have.
    pub events: usize,
    /// The history last read back (checked to be a prefix of the next one).
    pub history: Vec<serde_json::Value>,
    /// `allowed_actions` as last reported to each account.
    pub allowed: Vec<Vec<String>>,
}

impl Rec {
    pub fn unit(&self) -> &'static str {
        ACCOUNTS[self.owner].unit.expect("leaders have a unit")
    }

    pub fn department(&self) -> Option<&'static str> {
        ACCOUNTS[self.owner].department
    }

    pub fn flag(&self) -> char {
        KINDS[self.kind].1
    }

    pub fn editable(&self) -> bool {
        matches!(self.state, "draft" | "returned")
    }
}

/// domain.md §4: who sees a record. Every record of the model is addressed to [`AUTHORITY`].
pub fn sees(a: &Account, r: &Rec) -> bool {
    match a.role {
        Role::Leader => ACCOUNTS[r.owner].username == a.username,
        Role::Department => a.department.is_some() && a.department == r.department(),
        Role::Unit => a.unit == Some(r.unit()),
        Role::Point => a.authority == Some(AUTHORITY),
        Role::Supervisor => a.supervises.contains(&r.unit()),
        Role::Office | Role::Admin => true,
    }
}

/// domain.md §5: whether a role ever performs an action.
pub fn performs(role: Role, action: &str) -> bool {
    match role {
        Role::Leader => action == "submit",
        Role::Department | Role::Unit => matches!(action, "pass" | "return"),
        Role::Point => matches!(
            action,
            "pass" | "return" | "receive_paper" | "decide" | "reopen"
        ),
        Role::Supervisor | Role::Office | Role::Admin => false,
    }
}

/// domain.md §5: the state an action of a role leads to from `state`, if it is one of the rules.
pub fn next_state(
    state: &str,
    action: &str,
    role: Role,
    has_department: bool,
) -> Option<&'static str> {
    use Role::*;
    Some(match (state, action, role) {
        ("draft" | "returned", "submit", Leader) if has_department => "dept_review",
        ("draft" | "returned", "submit", Leader) => "unit_review",
        ("dept_review", "pass", Department) => "unit_review",
        ("unit_review", "pass", Unit) => "point_review",
        ("point_review", "pass", Point) => "paper_pending",
        ("dept_review", "return", Department)
        | ("unit_review", "return", Unit)
        | ("point_review" | "paper_pending", "return", Point) => "returned",
        ("paper_pending", "receive_paper", Point) => "decision_pending",
        ("decision_pending", "decide", Point) => "decided",
        ("decided", "reopen", Point) => "decision_pending",
        _ => return None,
    })
}

/// The actions `a` may take on `r` now (guards aside), sorted.
pub fn allowed(a: &Account, r: &Rec) -> Vec<String> {
    if !sees(a, r) {
        return Vec::new();
    }
    let mut v: Vec<String> = ACTIONS
        .iter()
        .filter(|act| next_state(r.state, act, a.role, r.department().is_some()).is_some())
        .map(|s| (*s).to_owned())
        .collect();
    v.sort();
    v
}

/// domain.md §6: a well-formed number of [`AUTHORITY_CODE`] for a kind's flag.
pub fn number_is_valid(n: &str, flag: char) -> bool {
    let b = n.as_bytes();
    n.len() == 12
        && n.is_ascii()
        && n.starts_with(AUTHORITY_CODE)
        && b[..7].iter().all(u8::is_ascii_digit)
        && b[7] == flag as u8
        && b[8..].iter().all(u8::is_ascii_digit)
        && &n[8..] != "0000"
}

/// The number proposed for a record of `flag` in `year`: the highest serial held plus one.
pub fn proposed(recs: &[Rec], year: i32, flag: char) -> String {
    let prefix = format!("{AUTHORITY_CODE}{year:04}{flag}");
    let max = recs
        .iter()
        .filter_map(|r| r.number.as_deref())
        .filter(|n| n.starts_with(&prefix) && n.len() == 12)
        .filter_map(|n| n[8..].parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("{prefix}{:04}", max + 1)
}

/// What a request must answer: a status and, for errors, the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub code: &'static str,
}

pub const fn ok(status: u16) -> Answer {
    Answer { status, code: "" }
}

pub const NOT_FOUND: Answer = Answer {
    status: 404,
    code: "not_found",
};
pub const FORBIDDEN: Answer = Answer {
    status: 403,
    code: "forbidden",
};
pub const STALE: Answer = Answer {
    status: 409,
    code: "stale_version",
};
pub const INVALID_STATE: Answer = Answer {
    status: 409,
    code: "invalid_state",
};
pub const VALIDATION: Answer = Answer {
    status: 422,
    code: "validation",
};
pub const NOTICE_OPEN: Answer = Answer {
    status: 422,
    code: "notice_open",
};
pub const NUMBER_TAKEN: Answer = Answer {
    status: 422,
    code: "number_taken",
};
pub const OPEN_OBJECTIONS: Answer = Answer {
    status: 422,
    code: "open_objections",
};
pub const RATE_LIMITED: Answer = Answer {
    status: 429,
    code: "rate_limited",
};

/// Objections one address may file in an hour (the clock of the model stays at one hour of
/// each day, so this is also the day's limit).
pub const OBJECTIONS_PER_HOUR: usize = 5;

/// domain.md §7: the answer to a public objection on `r`, given how many filings already
/// reached the rate limit today.
pub fn object(r: &Rec, today: Date, anonymous: bool, filed_today: usize) -> Answer {
    if anonymous {
        return VALIDATION;
    }
    let Some(last) = r.website_to else {
        // Never announced: unknown to the public.
        return NOT_FOUND;
    };
    let first = last - time::Duration::days(29);
    if !(first <= today && today <= last && r.state == "decision_pending") {
        return INVALID_STATE;
    }
    if filed_today >= OBJECTIONS_PER_HOUR {
        return RATE_LIMITED;
    }
    ok(201)
}

/// The answer to the point's (or anyone's) resolution of an objection of `r`.
pub fn resolve(r: &Rec, who: &Account, resolved: bool, blank: bool) -> Answer {
    if !sees(who, r) {
        NOT_FOUND
    } else if who.role != Role::Point {
        FORBIDDEN
    } else if resolved {
        INVALID_STATE
    } else if blank {
        VALIDATION
    } else {
        ok(200)
    }
}

/// An action request as the model sees it.
#[derive(Debug, Clone)]
pub struct ActRequest<'a> {
    pub action: &'a str,
    pub version: u64,
    pub opinion: Option<&'a str>,
    /// `decide`'s `result` as sent (`None`: left out).
    pub result: Option<&'a str>,
    pub number: Option<String>,
    pub evidence: Option<String>,
}

/// The answer to an action and, when it succeeds, the record afterwards.
pub fn act(
    recs: &[Rec],
    today: Date,
    who: &Account,
    index: usize,
    req: &ActRequest,
) -> (Answer, Option<Rec>) {
    let r = &recs[index];
    let refuse = |a: Answer| (a, None);
    if !ACTIONS.contains(&req.action) {
        return refuse(NOT_FOUND);
    }
    if req
        .result
        .is_some_and(|v| !matches!(v, "registered" | "rejected"))
    {
        return refuse(VALIDATION);
    }
    if !sees(who, r) {
        return refuse(NOT_FOUND);
    }
    if !performs(who.role, req.action) {
        return refuse(FORBIDDEN);
    }
    if req.version != r.version {
        return refuse(STALE);
    }
    let Some(to) = next_state(r.state, req.action, who.role, r.department().is_some()) else {
        return refuse(INVALID_STATE);
    };
    let opinion = req.opinion.map(str::trim).filter(|o| !o.is_empty());
    let mut next = r.clone();
    match req.action {
        "submit" if !(r.filled && r.materials) => return refuse(VALIDATION),
        "return" if opinion.is_none() => return refuse(VALIDATION),
        "receive_paper" => {
            next.website_to = Some(today + time::Duration::days(29));
        }
        "decide" => {
            if opinion.is_none() || req.result.is_none() {
                return refuse(VALIDATION);
            }
            if req.result == Some("registered") {
                let number = req
                    .number
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .or_else(|| r.number.clone())
                    .unwrap_or_else(|| proposed(recs, today.year(), r.flag()));
                if !number_is_valid(&number, r.flag()) {
                    return refuse(VALIDATION);
                }
                if r.website_to.is_none_or(|last| today <= last) {
                    return refuse(NOTICE_OPEN);
                }
                if r.objections.iter().any(|(_, resolved)| !resolved) {
                    return refuse(OPEN_OBJECTIONS);
                }
                if recs
                    .iter()
                    .any(|o| o.id != r.id && o.number.as_deref() == Some(number.as_str()))
                {
                    return refuse(NUMBER_TAKEN);
                }
                next.number = Some(number);
            } else {
                next.number = None;
            }
        }
        "reopen" if opinion.is_none() || req.evidence.is_none() || req.evidence != r.evidence => {
            return refuse(VALIDATION);
        }
        _ => {}
    }
    next.state = to;
    next.version += 1;
    next.events += 1;
    (ok(200), Some(next))
}

/// The answer to a change of the form or of the leader's materials by `who`.
pub fn edit(r: &Rec, who: &Account, version: Option<u64>) -> Answer {
    if !sees(who, r) {
        NOT_FOUND
    } else if who.role != Role::Leader || ACCOUNTS[r.owner].username != who.username {
        FORBIDDEN
    } else if !r.editable() {
        INVALID_STATE
    } else if version.is_some_and(|v| v != r.version) {
        STALE
    } else {
        ok(200)
    }
}
