//! Transactions DynamoDB cancels because they met another one on the same item
//! (`TransactionConflict`): tried again, never reported as a failed condition. ministack runs
//! one request at a time and never answers that, so a scripted client (aws-smithy-mocks) does.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chengguo_aws::dynamo::{CONFLICT_RETRIES, DynamoStore};
use chengguo_domain::Role;
use chengguo_domain::org::User;
use chengguo_domain::ports::{Store, StoreError};
use time::OffsetDateTime;

fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .set_cancellation_reasons(Some(
                codes
                    .iter()
                    .map(|c| CancellationReason::builder().code(*c).build())
                    .collect(),
            ))
            .build(),
    )
}

fn user() -> User {
    User {
        id: "user-1".into(),
        username: "leader1".into(),
        display_name: "张明".into(),
        role: Role::Leader,
        password_hash: "x".into(),
        email: None,
        unit_id: Some("unit-1".into()),
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[tokio::test]
async fn a_write_cancelled_by_a_collision_alone_is_tried_again_and_succeeds() {
    let collided = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled(&["TransactionConflict", "None"]))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&collided]);
    let store = DynamoStore::new(client, "t");
    store
        .create_user(&user())
        .await
        .expect("written on the third try");
    assert_eq!(collided.num_calls(), 3);
}

#[tokio::test]
async fn a_failed_condition_is_answered_at_once_even_beside_a_collision() {
    let taken = mock!(Client::transact_write_items)
        .then_error(|| cancelled(&["TransactionConflict", "ConditionalCheckFailed"]));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&taken]);
    let store = DynamoStore::new(client, "t");
    let err = store.create_user(&user()).await.unwrap_err();
    // The name's condition failed: the name is taken.
    assert!(
        matches!(err, StoreError::AlreadyExists(ref name) if name == "leader1"),
        "{err:?}"
    );
    assert_eq!(taken.num_calls(), 1);
}

#[tokio::test]
async fn collisions_that_go_on_end_as_a_changed_record_after_the_retries() {
    let always = mock!(Client::transact_write_items)
        .then_error(|| cancelled(&["None", "TransactionConflict"]));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&always]);
    let store = DynamoStore::new(client, "t");
    let err = store.create_user(&user()).await.unwrap_err();
    // Still colliding after the retries: answered as a changed record (for an account, as
    // create_user words it, one that exists), which the client reloads and tries again.
    assert!(
        matches!(err, StoreError::AlreadyExists(ref id) if id == "user-1"),
        "{err:?}"
    );
    assert_eq!(always.num_calls(), CONFLICT_RETRIES as usize + 1);
}
