//! The AWS backend: state in one DynamoDB table ([`dynamo`]), attachments in S3 ([`s3`]), and
//! the creation of both when missing ([`setup`]).

pub mod dynamo;
pub mod s3;
pub mod setup;
