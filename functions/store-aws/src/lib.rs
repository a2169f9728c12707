//! The AWS backend: state in one DynamoDB table ([`dynamo`]), attachments in S3 ([`s3`]),
//! notification emails through SES ([`ses`]), and the creation of the table and the bucket when
//! missing ([`setup`]).

pub mod dynamo;
pub mod s3;
pub mod ses;
pub mod setup;
