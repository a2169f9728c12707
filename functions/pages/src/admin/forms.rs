//! Reading submitted forms: url-encoded (repeated names kept, e.g. checkboxes) or
//! `multipart/form-data` (file uploads), into one shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

/// One uploaded file of a multipart form.
#[derive(Debug, Clone, Default)]
pub struct FilePart {
    pub name: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Bytes,
}

/// The fields of a submitted form, in order, and its files.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FilePart>,
}

impl FormData {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name` as given (not trimmed), if any.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The non-empty value of `name`, trimmed.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// The uploaded file of `name` that has content.
    pub fn file(&self, name: &str) -> Option<&FilePart> {
        self.files
            .iter()
            .find(|f| f.name == name && !f.bytes.is_empty())
    }
}

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    TooLarge,
    Malformed,
}

impl FormError {
    /// The Chinese explanation.
    pub fn message(&self, limit: usize) -> String {
        match self {
            FormError::TooLarge => format!(
                "提交的内容过大（上限 {}）。",
                chengguo_api::extract::human_size(limit)
            ),
            FormError::Malformed => "无法读取提交的表单，请返回重试。".to_owned(),
        }
    }
}

/// Reads a url-encoded or multipart form of at most `limit` bytes.
pub async fn read_form<S: Send + Sync>(
    req: Request,
    state: &S,
    limit: usize,
) -> Result<FormData, FormError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = boundary(&content_type).ok_or(FormError::Malformed)?;
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| FormError::TooLarge)?;
        parse_multipart(&body, &boundary).ok_or(FormError::Malformed)
    } else {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| FormError::TooLarge)?;
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|_| FormError::Malformed)?;
        Ok(FormData {
            fields,
            files: Vec::new(),
        })
    }
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The value of `key="..."` in a header line such as Content-Disposition.
fn param(line: &str, key: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let pat = format!("{key}=");
    let mut search = 0;
    while let Some(pos) = lower[search..].find(&pat) {
        let at = search + pos;
        // A whole parameter name: preceded by `;` or whitespace (so `name` is not `filename`).
        let before = lower[..at].chars().last();
        if matches!(before, Some(';') | Some(' ') | Some('\t')) {
            let rest = &line[at + pat.len()..];
            return Some(if let Some(r) = rest.strip_prefix('"') {
                r.split('"').next().unwrap_or("").to_owned()
            } else {
                rest.split(';').next().unwrap_or("").trim().to_owned()
            });
        }
        search = at + pat.len();
    }
    None
}

/// Parses a multipart body: the parts between `--boundary` lines, each with its headers.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Option<FormData> {
    let delim = format!("--{boundary}").into_bytes();
    let mut out = FormData::default();
    let mut pos = find(body, &delim, 0)? + delim.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(out);
        }
        // Skip the line break after the delimiter.
        if body.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        } else {
            return None;
        }
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&body[pos..head_end]).ok()?;
        let content_start = head_end + 4;
        let mut next_delim = Vec::with_capacity(delim.len() + 2);
        next_delim.extend_from_slice(b"\r\n");
        next_delim.extend_from_slice(&delim);
        let content_end = find(body, &next_delim, content_start)?;
        let content = &body[content_start..content_end];
        let mut name = None;
        let mut filename = None;
        let mut content_type = String::new();
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name");
                filename = param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = v.trim().to_owned();
            }
        }
        let name = name?;
        match filename {
            Some(filename) => out.files.push(FilePart {
                name,
                filename,
                content_type,
                bytes: Bytes::copy_from_slice(content),
            }),
            None => out
                .fields
                .push((name, String::from_utf8_lossy(content).into_owned())),
        }
        pos = content_end + next_delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields_and_files_are_read() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n\
a,b\r\n1,2\r\n--XyZ--\r\n";
        let f = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(f.get("csrf"), "tok");
        let file = f.file("file").unwrap();
        assert_eq!(file.filename, "a.csv");
        assert_eq!(file.content_type, "text/csv");
        assert_eq!(&file.bytes[..], b"a,b\r\n1,2");
    }

    #[test]
    fn boundary_is_taken_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----abc").as_deref(),
            Some("----abc")
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"q\"").as_deref(),
            Some("q")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn malformed_multipart_is_refused() {
        assert!(parse_multipart(b"garbage", "XyZ").is_none());
        assert!(parse_multipart(b"--XyZ\r\nno end", "XyZ").is_none());
    }
}
