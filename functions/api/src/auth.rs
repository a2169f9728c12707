//! Accounts and sessions: argon2id password hashes, an HttpOnly session cookie whose token is
//! stored only as a hash, the `X-CSRF-Token` header on every state-changing request, and a
//! lock-out after repeated failed logins.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use chengguo_domain::org::{Session, User};
use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "chengguo_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt: [u8; 16] = rand::rng().random();
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(ApiError::internal)?;
    Ok(hash.to_string())
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random token (256 bits, hex).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// The stored key of a session token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session token from the request's cookies.
pub fn session_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// A hash to verify against when the username is unknown, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// Checks credentials and opens a new session: `(user, session, token)`. The session `old`
/// presented with the login, if any, is ended, so a planted cookie never becomes logged in.
/// Wrong credentials count towards the lock-out.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    old: Option<&str>,
) -> ApiResult<(User, Session, String)> {
    let wrong = || ApiError::unauthenticated("用户名或密码错误。");
    let now = state.clock.now();
    let Some(mut user) = state.store.find_user(username.trim()).await? else {
        verify_password(password, dummy_hash());
        return Err(wrong());
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        let local = until.to_offset(chengguo_domain::ports::CHINA);
        return Err(ApiError::Locked(format!(
            "{:02}:{:02}",
            local.hour(),
            local.minute()
        )));
    }
    if !verify_password(password, &user.password_hash) || !user.active {
        // Failures are counted by an atomic counter of the store, so attempts sent at once, to
        // one server or to many, cannot slip past the lock-out. Each successful login starts a
        // new count, and so does an administrator's unlock.
        let since = user
            .last_login_at
            .max(user.unlocked_at)
            .map_or(0, |t| t.unix_timestamp_nanos());
        let key = format!("login-failures:{}:{since}", user.id);
        let failures = state
            .store
            .bump_counter(&key, now, now + state.config.lockout_duration)
            .await?;
        // Only the attempt that reaches the threshold writes the account: a write from an
        // attempt below it, finishing later with an older copy of the account, would otherwise
        // clear the lock another attempt had just set.
        if failures >= u64::from(state.config.lockout_threshold) {
            user.failed_logins = u32::try_from(failures).unwrap_or(u32::MAX);
            user.locked_until = Some(now + state.config.lockout_duration);
            state.store.update_user(&user).await?;
        }
        return Err(wrong());
    }
    user.failed_logins = 0;
    user.locked_until = None;
    user.last_login_at = Some(now);
    state.store.update_user(&user).await?;
    if let Some(old) = old {
        state.store.delete_session(&token_hash(old)).await?;
    }
    let token = random_token();
    let session = Session {
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + state.config.session_ttl,
    };
    state.store.put_session(&session).await?;
    Ok((user, session, token))
}

/// The session of a request, if it carries a live one, with its user.
pub async fn current(state: &AppState, parts: &Parts) -> ApiResult<Option<(User, Session)>> {
    let Some(token) = session_token(parts) else {
        return Ok(None);
    };
    let Some((session, user)) = state
        .store
        .session_with_user(&token_hash(&token))
        .await?
        .filter(|(s, _)| s.expires_at > state.clock.now())
    else {
        return Ok(None);
    };
    Ok(user.filter(|u| u.active).map(|u| (u, session)))
}

/// The logged-in user of a request, with the session it came with.
///
/// Extracting it refuses a missing or expired session (401), and a state-changing method
/// without the session's CSRF token (403).
pub struct CurrentUser {
    pub user: User,
    pub session: Session,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if session_token(parts).is_none() {
            return Err(ApiError::unauthenticated("请先登录。"));
        }
        let (user, session) = current(state, parts)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("登录已过期，请重新登录。"))?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(given, &session.csrf_token) {
                return Err(ApiError::Csrf);
            }
        }
        Ok(CurrentUser { user, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("chengguo-demo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("chengguo-demo", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("chengguo-demo", "not a hash"));
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
