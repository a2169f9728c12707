//! The HTTP API end to end, on the embedded backend and on DynamoDB + S3; modules mirror the
//! routes.

mod attachments;
mod bad_input;
mod concurrency;
mod contention;
mod exports;
mod notifications;
mod objections;
mod projects;
mod scope;
mod security;
mod session;
mod site;
mod workflow;
