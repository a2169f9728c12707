//! What cfn-lint cannot check in `infra/template.yaml`: that it deploys this workspace's
//! functions with the configuration they read, that every reference resolves, and that each
//! function's role reaches only its own table, buckets and keys with no wildcard action.
//! SAM's short-form tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`…) are read as tagged values.

use std::collections::{BTreeMap, BTreeSet};

use chengguo_lambda::Function;
use chengguo_lambda::routes::ROUTES;
use chengguo_lambda::wiring::ENV_VARS;
use serde_json::Value as Json;
use serde_yaml::Value;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");
const CARGO_TOML: &str = include_str!("../Cargo.toml");

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("the template is YAML")
}

fn resources(t: &Value) -> &serde_yaml::Mapping {
    t["Resources"].as_mapping().expect("Resources")
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The tag of a tagged value without its `!`, e.g. `Ref`.
fn tag_of(t: &serde_yaml::value::TaggedValue) -> String {
    t.tag.to_string().trim_start_matches('!').to_owned()
}

/// Every function resource: logical id → properties.
fn functions(t: &Value) -> BTreeMap<String, &Value> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (str_of(k).to_owned(), &r["Properties"]))
        .collect()
}

/// The binary a function resource deploys: the folder of its `CodeUri`.
fn binary_of(props: &Value) -> String {
    let uri = str_of(&props["CodeUri"]);
    let name = uri
        .strip_prefix("../target/lambda/")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("CodeUri {uri} is not ../target/lambda/NAME/"));
    name.to_owned()
}

/// The function of a template function resource.
fn function_of(props: &Value) -> Function {
    let bin = binary_of(props);
    Function::from_binary(&bin).unwrap_or_else(|| panic!("no function is built as {bin}"))
}

/// Logical ids and parameters a value refers to: `!Ref X`, `!GetAtt X.Attr`, `${X}` and
/// `${X.Attr}` in `!Sub`, and the long forms.
fn references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Tagged(t) => {
            let tag = tag_of(t);
            match (tag.as_str(), &t.value) {
                ("Ref", Value::String(s)) => {
                    out.insert(s.clone());
                }
                ("GetAtt", Value::String(s)) => {
                    out.insert(s.split('.').next().unwrap_or(s).to_owned());
                }
                ("GetAtt", Value::Sequence(seq)) => {
                    out.insert(str_of(&seq[0]).to_owned());
                }
                ("Sub", Value::String(s)) => sub_references(s, out),
                ("Sub", Value::Sequence(seq)) => {
                    sub_references(str_of(&seq[0]), out);
                    let vars: BTreeSet<String> = seq
                        .get(1)
                        .and_then(Value::as_mapping)
                        .map(|m| m.keys().map(|k| str_of(k).to_owned()).collect())
                        .unwrap_or_default();
                    out.retain(|r| !vars.contains(r));
                    for x in &seq[1..] {
                        references(x, out);
                    }
                }
                _ => references(&t.value, out),
            }
        }
        Value::Mapping(m) => {
            for (k, x) in m {
                match k.as_str() {
                    Some("Ref") => {
                        out.insert(str_of(x).to_owned());
                    }
                    Some("Fn::GetAtt") => {
                        let s = x
                            .as_sequence()
                            .map(|s| str_of(&s[0]))
                            .unwrap_or_else(|| str_of(x));
                        out.insert(s.split('.').next().unwrap_or(s).to_owned());
                    }
                    Some("Fn::Sub") if x.is_string() => sub_references(str_of(x), out),
                    _ => references(x, out),
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn sub_references(s: &str, out: &mut BTreeSet<String>) {
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let end = after.find('}').expect("closed ${");
        let name = &after[..end];
        if !name.starts_with('!') {
            out.insert(name.split('.').next().unwrap_or(name).to_owned());
        }
        rest = &after[end + 1..];
    }
}

/// Conditions used by `!If` and `Condition:`.
fn conditions_used(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Tagged(t) => {
            if tag_of(t) == "If"
                && let Some(first) = t.value.as_sequence().and_then(|s| s.first())
            {
                out.insert(str_of(first).to_owned());
            }
            conditions_used(&t.value, out);
        }
        Value::Mapping(m) => {
            for (k, x) in m {
                if k.as_str() == Some("Condition") && x.is_string() {
                    out.insert(str_of(x).to_owned());
                }
                conditions_used(x, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| conditions_used(x, out)),
        _ => {}
    }
}

/// The `Environment.Variables` names of a piece of template.
fn env_names(v: &Value) -> BTreeSet<String> {
    v["Environment"]["Variables"]
        .as_mapping()
        .map(|m| m.keys().map(|k| str_of(k).to_owned()).collect())
        .unwrap_or_default()
}

/// Every policy statement under a value (role policies, bucket policies).
fn statements(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Mapping(m) => {
            if m.contains_key("Effect") && (m.contains_key("Action") || m.contains_key("NotAction"))
            {
                out.push(v.clone());
            }
            m.values().for_each(|x| statements(x, out));
        }
        Value::Sequence(s) => s.iter().for_each(|x| statements(x, out)),
        Value::Tagged(t) => statements(&t.value, out),
        _ => {}
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().flat_map(strings).collect(),
        other => vec![format!("{other:?}")],
    }
}

/// The role of a function resource, by its `Role: !GetAtt XRole.Arn`.
fn role_of<'a>(t: &'a Value, props: &Value) -> (String, &'a Value) {
    let mut refs = BTreeSet::new();
    references(&props["Role"], &mut refs);
    let name = refs
        .into_iter()
        .next()
        .expect("the function names its role");
    let role = &resources(t)[name.as_str()];
    assert_eq!(role["Type"], "AWS::IAM::Role", "{name}");
    (name, role)
}

#[test]
fn every_function_runs_a_binary_of_the_lambda_crate() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"][0], "arm64");
    let bins: BTreeSet<String> = CARGO_TOML
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            b.lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .map(|n| n.trim_end_matches('"').to_owned())
        })
        .collect();
    let mut deployed = BTreeSet::new();
    for (id, props) in functions(&t) {
        let bin = binary_of(props);
        assert!(
            bins.contains(&bin),
            "{id} deploys `{bin}`, not a [[bin]] of chengguo-lambda"
        );
        let source = format!("{}/src/bin/{bin}.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(std::path::Path::new(&source).exists(), "{source}");
        for key in ["Runtime", "Handler", "Architectures"] {
            assert!(props.get(key).is_none(), "{id} overrides the global {key}");
        }
        assert!(deployed.insert(function_of(props)), "{id}: deployed twice");
    }
    assert_eq!(
        deployed,
        Function::ALL.into_iter().collect(),
        "every function is deployed"
    );
    assert_eq!(bins.len(), Function::ALL.len());
}

#[test]
fn every_environment_variable_is_one_the_configuration_reads() {
    let t = template();
    let code = [
        include_str!("../../cli/src/backend.rs"),
        include_str!("../src/wiring.rs"),
        include_str!("../src/jobs.rs"),
    ]
    .concat();
    let globals = env_names(&t["Globals"]["Function"]);
    let mut set = globals.clone();
    for (id, props) in functions(&t) {
        let own = env_names(props);
        assert!(own.is_disjoint(&globals), "{id} repeats a global variable");
        set.extend(own);
    }
    for name in &set {
        assert!(
            ENV_VARS.contains(&name.as_str()),
            "{name} is set but not one the functions read"
        );
        assert!(
            code.contains(&format!("\"{name}\"")),
            "{name} is not read by the configuration code"
        );
    }
    for must in [
        "CHENGGUO_TABLE",
        "CHENGGUO_PUBLIC_URL",
        "CHENGGUO_SECURE_COOKIES",
    ] {
        assert!(set.contains(must), "{must}");
    }
}

#[test]
fn functions_get_the_buckets_and_sender_they_use_and_no_others() {
    let t = template();
    for (id, props) in functions(&t) {
        let f = function_of(props);
        let env = env_names(props);
        let uploads = matches!(
            f,
            Function::Uploads | Function::Pages | Function::Housekeeping | Function::Exports
        );
        let mail = matches!(
            f,
            Function::Transitions | Function::Pages | Function::Housekeeping
        );
        assert_eq!(env.contains("CHENGGUO_UPLOADS_BUCKET"), uploads, "{id}");
        assert_eq!(
            env.contains("CHENGGUO_SITE_BUCKET"),
            f == Function::Publisher,
            "{id}"
        );
        assert_eq!(env.contains("CHENGGUO_MAIL_FROM"), mail, "{id}");
    }
}

#[test]
fn every_reference_resolves() {
    let t = template();
    let mut known: BTreeSet<String> = resources(&t).keys().map(|k| str_of(k).to_owned()).collect();
    known.extend(
        t["Parameters"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| str_of(k).to_owned()),
    );
    let mut refs = BTreeSet::new();
    for section in ["Globals", "Resources", "Outputs", "Conditions"] {
        references(&t[section], &mut refs);
    }
    assert!(refs.contains("Table") && refs.contains("HttpApi"));
    for r in &refs {
        assert!(
            known.contains(r) || r.starts_with("AWS::"),
            "`{r}` is referred to but is no resource or parameter"
        );
    }
    let pseudo = [
        "AWS::AccountId",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    for r in refs.iter().filter(|r| r.starts_with("AWS::")) {
        assert!(pseudo.contains(&r.as_str()), "unknown pseudo parameter {r}");
    }
    let declared: BTreeSet<String> = t["Conditions"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| str_of(k).to_owned())
        .collect();
    let mut used = BTreeSet::new();
    for section in ["Globals", "Resources", "Outputs"] {
        conditions_used(&t[section], &mut used);
    }
    assert_eq!(used, declared, "conditions declared and used");
    // Every parameter is used.
    for p in t["Parameters"].as_mapping().unwrap().keys() {
        assert!(
            refs.contains(str_of(p)),
            "parameter {} is unused",
            str_of(p)
        );
    }
}

#[test]
fn no_policy_allows_a_wildcard_action() {
    let t = template();
    let mut all = Vec::new();
    statements(&t, &mut all);
    assert!(all.len() > 20, "the statements are found");
    for s in &all {
        assert!(s.get("NotAction").is_none(), "NotAction: {s:?}");
        assert!(s.get("NotResource").is_none(), "NotResource: {s:?}");
        for action in strings(&s["Action"]) {
            assert!(!action.contains('*'), "wildcard action {action}");
            assert!(action.contains(':'), "action {action} names its service");
        }
        if s.get("Resource").is_some() {
            for r in strings(&s["Resource"]) {
                assert_ne!(r, "*", "a statement on every resource: {s:?}");
            }
        }
    }
    for (id, props) in functions(&t) {
        assert!(
            props.get("Policies").is_none(),
            "{id}: SAM policies beside its own role"
        );
    }
}

/// What each function may reach.
fn allowed(f: Function) -> (&'static [&'static str], &'static [&'static str]) {
    const READ: &[&str] = &[
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
    ];
    const WRITE: &[&str] = &[
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ];
    match f {
        Function::Submissions | Function::Objections => (&["Table"], WRITE),
        Function::Transitions => (&["Table", "MailIdentity"], WRITE),
        Function::Uploads => (&["Table", "UploadsBucket"], WRITE),
        Function::Exports => (&["Table", "UploadsBucket"], READ),
        Function::Pages | Function::Housekeeping => {
            (&["Table", "UploadsBucket", "MailIdentity"], WRITE)
        }
        Function::Publisher => (&["Table", "SiteBucket"], READ),
    }
}

#[test]
fn each_function_reaches_only_its_own_table_buckets_and_keys() {
    let t = template();
    let mut roles = BTreeSet::new();
    for (id, props) in functions(&t) {
        let f = function_of(props);
        let (role_name, role) = role_of(&t, props);
        assert!(roles.insert(role_name.clone()), "{role_name} is shared");
        let trust = strings(
            &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        );
        assert_eq!(trust, ["lambda.amazonaws.com"]);
        let mut stmts = Vec::new();
        statements(&role["Properties"]["Policies"], &mut stmts);
        let (reach, table_actions) = allowed(f);
        let own_logs = format!("{}Logs", id.trim_end_matches("Function"));
        let mut reached = BTreeSet::new();
        for s in &stmts {
            assert_eq!(s["Effect"], "Allow");
            let mut refs = BTreeSet::new();
            references(&s["Resource"], &mut refs);
            assert!(!refs.is_empty(), "{id}: a statement on no named resource");
            let actions = strings(&s["Action"]);
            for r in &refs {
                if *r == own_logs {
                    assert!(actions.iter().all(|a| a.starts_with("logs:")), "{id}");
                    continue;
                }
                assert!(
                    reach.contains(&r.as_str()) || r.starts_with("AWS::"),
                    "{id} reaches {r}, which is not its own"
                );
                if !r.starts_with("AWS::") {
                    reached.insert(r.clone());
                }
                match r.as_str() {
                    "Table" => {
                        for a in &actions {
                            let stream = f == Function::Publisher
                                && matches!(
                                    a.as_str(),
                                    "dynamodb:DescribeStream"
                                        | "dynamodb:GetRecords"
                                        | "dynamodb:GetShardIterator"
                                        | "dynamodb:ListStreams"
                                );
                            assert!(
                                table_actions.contains(&a.as_str()) || stream,
                                "{id} may not {a} on the table"
                            );
                        }
                    }
                    "UploadsBucket" | "SiteBucket" => {
                        for a in &actions {
                            assert!(a.starts_with("s3:"), "{id}: {a} on {r}");
                        }
                        if f == Function::Housekeeping {
                            assert_eq!(actions, ["s3:DeleteObject"], "{id}");
                        }
                        if f == Function::Exports {
                            // Only its own prefix, never the attachments.
                            assert_eq!(actions, ["s3:PutObject", "s3:GetObject"], "{id}");
                            let resource = format!("{:?}", s["Resource"]);
                            assert!(
                                resource.contains("${UploadsBucket.Arn}/exports/*")
                                    && !resource.contains("${UploadsBucket.Arn}/*"),
                                "{id}: {resource}"
                            );
                        }
                    }
                    "MailIdentity" => assert_eq!(actions, ["ses:SendEmail"], "{id}"),
                    _ => {}
                }
            }
        }
        let reach: BTreeSet<String> = reach.iter().map(|s| s.to_string()).collect();
        assert_eq!(reached, reach, "{id} reaches what it uses");
        // Its own log group only.
        let logs = &props["LoggingConfig"]["LogGroup"];
        let mut refs = BTreeSet::new();
        references(logs, &mut refs);
        assert_eq!(refs, [own_logs].into_iter().collect(), "{id} logs");
    }
}

#[test]
fn the_http_api_maps_each_route_to_its_function() {
    let t = template();
    let mut mapped: BTreeSet<(Function, String)> = BTreeSet::new();
    for (id, props) in functions(&t) {
        let f = function_of(props);
        let events = props["Events"].as_mapping().expect("events");
        for (name, e) in events {
            if e["Type"] != "HttpApi" {
                continue;
            }
            let p = &e["Properties"];
            let mut refs = BTreeSet::new();
            references(&p["ApiId"], &mut refs);
            assert_eq!(refs, ["HttpApi".to_owned()].into_iter().collect());
            let key = match (p.get("Method"), p.get("Path")) {
                (Some(m), Some(path)) => format!("{} {}", str_of(m), str_of(path)),
                (None, None) => "$default".to_owned(),
                _ => panic!("{id}.{:?}: Method and Path go together", name),
            };
            assert!(mapped.insert((f, key.clone())), "{key} mapped twice");
        }
    }
    let expected: BTreeSet<(Function, String)> =
        ROUTES.iter().map(|(f, k)| (*f, (*k).to_owned())).collect();
    assert_eq!(mapped, expected);
}

/// Lambda's event filter as the template writes it, applied to a stream record: each key of
/// the pattern must match (`[values]` or `[{"prefix": p}]` at the leaves).
fn filter_matches(pattern: &Json, record: &Json) -> bool {
    match pattern {
        Json::Object(m) => m
            .iter()
            .all(|(k, p)| record.get(k).is_some_and(|r| filter_matches(p, r))),
        Json::Array(options) => options.iter().any(|o| match o {
            Json::Object(rule) => rule
                .get("prefix")
                .and_then(Json::as_str)
                .is_some_and(|p| record.as_str().is_some_and(|s| s.starts_with(p))),
            value => value == record,
        }),
        _ => false,
    }
}

#[test]
fn the_publisher_runs_daily_and_on_new_history_events() {
    let t = template();
    let fns = functions(&t);
    let props = fns
        .values()
        .find(|p| function_of(p) == Function::Publisher)
        .unwrap();
    assert_eq!(props["ReservedConcurrentExecutions"], 1);
    let events = props["Events"].as_mapping().unwrap();
    let schedule = events
        .values()
        .find(|e| e["Type"] == "Schedule")
        .expect("a schedule");
    assert_eq!(schedule["Properties"]["Schedule"], "cron(5 16 * * ? *)");
    let stream = events
        .values()
        .find(|e| e["Type"] == "DynamoDB")
        .expect("the table's stream");
    let mut refs = BTreeSet::new();
    references(&stream["Properties"]["Stream"], &mut refs);
    assert_eq!(refs, ["Table".to_owned()].into_iter().collect());
    let pattern: Json = serde_json::from_str(str_of(
        &stream["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"],
    ))
    .expect("the filter is JSON");

    // New history events start it; edits of the record itself do not.
    let fixture: Json = serde_json::from_str(include_str!(
        "../../../tests/fixtures/lambda/dynamodb_stream_event_insert.json"
    ))
    .unwrap();
    let event = &fixture["Records"][0];
    assert!(filter_matches(&pattern, event));
    let mut edit = event.clone();
    edit["eventName"] = "MODIFY".into();
    edit["dynamodb"]["Keys"]["sk"]["S"] = "REG".into();
    assert!(!filter_matches(&pattern, &edit));
    let mut insert_reg = event.clone();
    insert_reg["dynamodb"]["Keys"]["sk"]["S"] = "REG".into();
    assert!(!filter_matches(&pattern, &insert_reg));
    // The store writes history events under that sort key.
    assert!(include_str!("../../store-aws/src/dynamo.rs").contains("format!(\"EVENT#{seq:020}\")"));

    let table = &resources(&t)["Table"]["Properties"];
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "KEYS_ONLY");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["DeletionProtectionEnabled"], true);
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn every_function_has_error_and_throttle_alarms() {
    let t = template();
    for (id, _) in functions(&t) {
        for metric in ["Errors", "Throttles"] {
            let found = resources(&t).values().any(|r| {
                let mut refs = BTreeSet::new();
                references(&r["Properties"]["Dimensions"], &mut refs);
                r["Type"] == "AWS::CloudWatch::Alarm"
                    && r["Properties"]["MetricName"] == metric
                    && refs.contains(&id)
            });
            assert!(found, "{id} has no {metric} alarm");
        }
    }
}

#[test]
fn buckets_are_private_and_uploads_come_from_the_public_origin_only() {
    let t = template();
    let res = resources(&t);
    for b in ["UploadsBucket", "SiteBucket"] {
        let p = &res[b]["Properties"];
        for k in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][k], true, "{b} {k}");
        }
        assert!(p["BucketEncryption"].is_mapping(), "{b} encryption");
    }
    let cors = format!(
        "{:?}",
        res["UploadsBucket"]["Properties"]["CorsConfiguration"]
    );
    assert!(cors.contains("PublicUrl") && cors.contains("PUT"), "{cors}");
    assert!(!cors.contains("\"*\""), "{cors}");
    // Only CloudFront of this distribution reads the site bucket.
    let policy = format!("{:?}", res["SiteBucketPolicy"]["Properties"]);
    assert!(policy.contains("cloudfront.amazonaws.com") && policy.contains("Distribution"));
    let dist = &res["Distribution"]["Properties"]["DistributionConfig"];
    assert!(matches!(
        dist["Origins"][0]["OriginAccessControlId"],
        Value::Tagged(_)
    ));
}

#[test]
fn cloudfront_sends_every_api_and_page_route_to_the_api() {
    let t = template();
    let behaviors =
        t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]
            .as_sequence()
            .unwrap();
    let patterns: Vec<String> = behaviors
        .iter()
        .filter(|b| b["TargetOriginId"] == "api")
        .map(|b| str_of(&b["PathPattern"]).to_owned())
        .collect();
    let covered = |path: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        })
    };
    for (_, key) in ROUTES {
        if let Some((_, path)) = key.split_once(' ') {
            assert!(covered(path), "{key} is not sent to the API");
        }
    }
    for page in [
        "/login",
        "/logout",
        "/app",
        "/app/",
        "/admin/",
        "/assets/app.css",
        "/print/r1",
    ] {
        assert!(covered(page), "{page}");
    }
    // The public site's own paths stay with the bucket.
    for site in [
        "/",
        "/index.html",
        "/notices/",
        "/registry/index.json",
        "/guide/",
        "/feed.xml",
    ] {
        assert!(!covered(site), "{site} would go to the API");
    }
}
