//! Creating the AWS resources when missing, and building the SDK clients.
//!
//! [`table_definition`] is the single source of truth for the DynamoDB table's keys and global
//! secondary indexes: [`ensure_table`] creates the table from it, [`crate::dynamo`] queries by it,
//! and a test checks that `infra/template.yaml` declares the same.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

/// The table's partition key attribute.
pub const PK: &str = "pk";
/// The table's sort key attribute.
pub const SK: &str = "sk";
/// The attribute DynamoDB's time to live reads (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// A global secondary index: its name and its key attributes (all strings), projecting all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gsi {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Registrations by owning leader, newest first.
pub const BY_OWNER: Gsi = Gsi {
    name: "by_owner",
    pk: "owner_pk",
    sk: "list_sk",
};
/// Registrations by department, newest first.
pub const BY_DEPARTMENT: Gsi = Gsi {
    name: "by_department",
    pk: "department_pk",
    sk: "list_sk",
};
/// Registrations, accounts, departments and projects of a unit (partition `REG#`, `USER#`,
/// `DEPT#`, `PROJ#` + unit id).
pub const BY_UNIT: Gsi = Gsi {
    name: "by_unit",
    pk: "unit_pk",
    sk: "list_sk",
};
/// Registrations addressed to an authority, newest first.
pub const BY_AUTHORITY: Gsi = Gsi {
    name: "by_authority",
    pk: "authority_pk",
    sk: "list_sk",
};
/// Every registration, account or project (partition `REG`, `USER`, `PROJ`); mail jobs by
/// status (partition `MAIL#<status>`), newest first.
pub const BY_ALL: Gsi = Gsi {
    name: "by_all",
    pk: "all_pk",
    sk: "list_sk",
};
/// Registrations of an in-system project (partition `REG#<project>`); mail jobs about a
/// registration (partition `MAIL#<registration>`).
pub const BY_PROJECT: Gsi = Gsi {
    name: "by_project",
    pk: "project_pk",
    sk: "list_sk",
};
/// Sparse: pending attachments by expiry, oldest first.
pub const BY_EXPIRY: Gsi = Gsi {
    name: "by_expiry",
    pk: "expiry_pk",
    sk: "expiry_sk",
};

/// Sparse: pending mail jobs by next attempt, oldest first (partition `MAIL`; the attributes
/// exist only while the job is pending).
pub const BY_DUE: Gsi = Gsi {
    name: "by_due",
    pk: "due_pk",
    sk: "due_sk",
};

/// The table's keys and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub pk: &'static str,
    pub sk: &'static str,
    pub gsis: Vec<Gsi>,
    pub ttl_attribute: &'static str,
}

impl TableDefinition {
    /// Every key attribute of the table and its indexes, once each, in a stable order.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut out = vec![self.pk, self.sk];
        for g in &self.gsis {
            for a in [g.pk, g.sk] {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

/// The single source of truth of the table's shape.
pub fn table_definition() -> TableDefinition {
    TableDefinition {
        pk: PK,
        sk: SK,
        gsis: vec![
            BY_OWNER,
            BY_DEPARTMENT,
            BY_UNIT,
            BY_AUTHORITY,
            BY_ALL,
            BY_PROJECT,
            BY_EXPIRY,
            BY_DUE,
        ],
        ttl_attribute: TTL_ATTRIBUTE,
    }
}

fn key_schema(pk: &str, sk: &str) -> Result<Vec<KeySchemaElement>, String> {
    [(pk, KeyType::Hash), (sk, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn gsi_spec(g: &Gsi) -> Result<GlobalSecondaryIndex, String> {
    GlobalSecondaryIndex::builder()
        .index_name(g.name)
        .set_key_schema(Some(key_schema(g.pk, g.sk)?))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())
}

fn attribute_definitions(names: &[&str]) -> Result<Vec<AttributeDefinition>, String> {
    names
        .iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn sdk_text<E>(e: E) -> String
where
    E: std::error::Error + Send + Sync + 'static,
{
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

/// How long [`ensure_table`] waits for the table and each new index to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(500);

/// Creates the table when missing (on-demand billing, the indexes of [`table_definition`]),
/// adds any missing index to an existing table, waits until everything is active, and turns on
/// time to live on `ttl` where the server supports it. Returns whether the table was created.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<bool, String> {
    let def = table_definition();
    let created = match client.describe_table().table_name(table).send().await {
        Ok(_) => false,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create_table(client, table, &def).await?;
            true
        }
        Err(e) => return Err(sdk_text(e)),
    };
    wait_active(client, table).await?;
    if !created {
        add_missing_indexes(client, table, &def).await?;
    }
    enable_ttl(client, table, def.ttl_attribute).await?;
    Ok(created)
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    def: &TableDefinition,
) -> Result<(), String> {
    let gsis = def
        .gsis
        .iter()
        .map(gsi_spec)
        .collect::<Result<Vec<_>, _>>()?;
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(def.pk, def.sk)?))
        .set_attribute_definitions(Some(attribute_definitions(&def.key_attributes())?))
        .set_global_secondary_indexes(Some(gsis))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // Someone else created it meanwhile: fine, it is waited for next.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_text(e)),
    }
}

/// Adds the indexes an older table lacks, one at a time as DynamoDB requires.
async fn add_missing_indexes(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    def: &TableDefinition,
) -> Result<(), String> {
    let desc = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(sdk_text)?;
    let existing: Vec<String> = desc
        .table()
        .map(|t| {
            t.global_secondary_indexes()
                .iter()
                .filter_map(|g| g.index_name().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for g in def
        .gsis
        .iter()
        .filter(|g| !existing.iter().any(|e| e == g.name))
    {
        let spec = gsi_spec(g)?;
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(spec.index_name())
            .set_key_schema(Some(spec.key_schema().to_vec()))
            .set_projection(spec.projection().cloned())
            .build()
            .map_err(|e| e.to_string())?;
        client
            .update_table()
            .table_name(table)
            .set_attribute_definitions(Some(attribute_definitions(&[g.pk, g.sk])?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(sdk_text)?;
        wait_active(client, table).await?;
    }
    Ok(())
}

/// Waits, at most [`ACTIVE_WAIT`], until the table and all its indexes are active.
async fn wait_active(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    let rounds = ACTIVE_WAIT.as_millis() / POLL.as_millis();
    for _ in 0..rounds {
        let desc = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(sdk_text)?;
        let ready = desc.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|g| g.index_status() == Some(&IndexStatus::Active))
        });
        if ready {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!("table {table} did not become active in time"))
}

/// Turns on time to live; a server without it (some local emulators) is accepted as is.
async fn enable_ttl(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    attribute: &str,
) -> Result<(), String> {
    match client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
    {
        Ok(out) => {
            let on = out.time_to_live_description().is_some_and(|d| {
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
            });
            if on {
                return Ok(());
            }
        }
        Err(e) if unsupported(e.raw_response().map(|r| r.status().as_u16()), e.code()) => {
            return Ok(());
        }
        Err(e) => return Err(sdk_text(e)),
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(|e| e.to_string())?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if unsupported(e.raw_response().map(|r| r.status().as_u16()), e.code()) => Ok(()),
        Err(e) => Err(sdk_text(e)),
    }
}

/// Whether an error says the operation is not implemented by this server.
fn unsupported(status: Option<u16>, code: Option<&str>) -> bool {
    matches!(
        code,
        Some("UnknownOperationException" | "NotImplemented" | "NotImplementedException")
    ) || status == Some(501)
}

trait ErrorCode {
    fn code(&self) -> Option<&str>;
}

impl<E, R> ErrorCode for aws_sdk_dynamodb::error::SdkError<E, R>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    fn code(&self) -> Option<&str> {
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(self)
    }
}

/// Creates the bucket when missing: private (all public access blocked) and encrypted with
/// SSE-S3. Returns whether it was created.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, String> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) => return Err(sdk_text(e)),
    }
    let mut create = client.create_bucket().bucket(bucket);
    let region = client.config().region().map(|r| r.as_ref().to_owned());
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(sdk_text(e)),
    }
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(sdk_text)?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .build();
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(sdk_text)?;
    Ok(true)
}

/// The region used against a local endpoint.
pub const TEST_REGION: &str = "us-east-1";

/// A DynamoDB configuration for a local AWS-compatible server, with fixed test credentials.
/// Tests add interceptors to it before building.
pub fn dynamo_config_for_endpoint(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(TEST_REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "chengguo-test",
        ))
        .endpoint_url(endpoint)
}

/// An S3 configuration for a local AWS-compatible server: test credentials, path-style URLs.
pub fn s3_config_for_endpoint(endpoint: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(TEST_REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "chengguo-test",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
}

/// Clients for a local AWS-compatible server at `endpoint` (tests, local runs).
pub async fn client_for_endpoint(endpoint: &str) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    (
        aws_sdk_dynamodb::Client::from_conf(dynamo_config_for_endpoint(endpoint).build()),
        aws_sdk_s3::Client::from_conf(s3_config_for_endpoint(endpoint).build()),
    )
}

/// Clients from the SDK's standard configuration (`AWS_REGION`, credentials chain,
/// `AWS_ENDPOINT_URL`…). With a custom S3 endpoint, S3 URLs are path-style, which local
/// servers need.
pub async fn from_env() -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let conf = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let custom_endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    let s3 = aws_sdk_s3::config::Builder::from(&conf)
        .force_path_style(custom_endpoint)
        .build();
    (
        aws_sdk_dynamodb::Client::new(&conf),
        aws_sdk_s3::Client::from_conf(s3),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

    /// The text of the table resource: from its header to the next resource at the same depth.
    fn table_resource() -> String {
        let lines: Vec<&str> = TEMPLATE.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim_end() == "  Table:")
            .expect("template declares a resource named Table");
        let body = lines[start + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.starts_with("   "))
            .copied()
            .collect::<Vec<_>>();
        body.join("\n")
    }

    /// Key schema entries `(attribute, HASH|RANGE)` found in a piece of template, in order.
    fn key_entries(text: &str) -> Vec<(String, String)> {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let Some(name) = l.trim_start_matches("- ").strip_prefix("AttributeName: ") else {
                continue;
            };
            if let Some(kind) = lines.get(i + 1).and_then(|n| n.strip_prefix("KeyType: ")) {
                out.push((name.trim().to_owned(), kind.trim().to_owned()));
            }
        }
        out
    }

    fn hash_range(pk: &str, sk: &str) -> Vec<(String, String)> {
        vec![(pk.into(), "HASH".into()), (sk.into(), "RANGE".into())]
    }

    #[test]
    fn template_table_has_the_keys_and_indexes_of_the_code() {
        let table = table_resource();
        let def = table_definition();
        assert!(table.contains("Type: AWS::DynamoDB::Table"));
        assert!(table.contains("BillingMode: PAY_PER_REQUEST"));
        assert!(table.contains(&format!("AttributeName: {}", def.ttl_attribute)));

        let (head, indexes) = table
            .split_once("GlobalSecondaryIndexes:")
            .expect("the table declares its indexes");
        let table_keys = head.split_once("KeySchema:").expect("table key schema").1;
        assert_eq!(
            key_entries(table_keys)[..2].to_vec(),
            hash_range(def.pk, def.sk)
        );

        let declared_types = head.matches("AttributeType: S").count();
        assert_eq!(declared_types, def.key_attributes().len());
        for attr in def.key_attributes() {
            assert!(
                head.contains(&format!("AttributeName: {attr}\n")),
                "attribute definition of {attr} missing from the template"
            );
        }

        let blocks: Vec<&str> = indexes.split("- IndexName: ").skip(1).collect();
        assert_eq!(blocks.len(), def.gsis.len(), "number of indexes");
        for g in &def.gsis {
            let block = blocks
                .iter()
                .find(|b| b.lines().next().map(str::trim) == Some(g.name))
                .unwrap_or_else(|| panic!("index {} missing from the template", g.name));
            assert_eq!(
                key_entries(block),
                hash_range(g.pk, g.sk),
                "keys of {}",
                g.name
            );
            assert!(
                block.contains("ProjectionType: ALL"),
                "projection of {}",
                g.name
            );
        }
    }

    #[test]
    fn key_attributes_are_listed_once() {
        let attrs = table_definition().key_attributes();
        let mut dedup = attrs.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(attrs.len(), dedup.len());
        assert!(attrs.contains(&"list_sk") && attrs.contains(&"expiry_sk"));
    }

    #[test]
    fn index_names_are_valid_for_dynamodb() {
        for g in table_definition().gsis {
            assert!(g.name.len() >= 3);
            assert!(
                g.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            );
        }
    }
}
