//! Listing cursors: the `(created_at, id)` of the last item of a page, as opaque text.
//!
//! Listings are ordered by that pair, so a cursor is a keyset position: records created while a
//! client pages are neither repeated nor skipped.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use chengguo_domain::ports::{StoreError, StoreResult};

/// The format version, so a future change of the ordering can refuse old cursors.
const FORMAT: u8 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    v: u8,
    /// `created_at` in Unix nanoseconds.
    t: i64,
    id: String,
}

/// The cursor after the item created at `created_at` (Unix nanoseconds) with `id`.
pub(crate) fn encode(created_at: i64, id: &str) -> String {
    let pos = Position {
        v: FORMAT,
        t: created_at,
        id: id.to_owned(),
    };
    // Serialising a struct of plain fields cannot fail.
    let json = serde_json::to_vec(&pos).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The position in a cursor, or [`StoreError::BadCursor`] when this store did not issue it.
pub(crate) fn decode(cursor: &str) -> StoreResult<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let pos: Position = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if pos.v != FORMAT || pos.id.is_empty() {
        return Err(StoreError::BadCursor);
    }
    Ok((pos.t, pos.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let c = encode(-5, "reg-1");
        assert_eq!(decode(&c), Ok((-5, "reg-1".to_owned())));
        for bad in ["", "x", "%%%", "AAAA", "eyJ4IjoxfQ", &encode(1, "")] {
            assert_eq!(decode(bad), Err(StoreError::BadCursor), "{bad:?}");
        }
        let other_version = URL_SAFE_NO_PAD.encode(r#"{"v":2,"t":1,"id":"a"}"#);
        assert_eq!(decode(&other_version), Err(StoreError::BadCursor));
    }
}
