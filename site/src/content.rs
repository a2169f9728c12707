//! The pages of `content/`: TOML-like front matter between `+++` lines, then Markdown.
//!
//! ```text
//! +++
//! title = "提交材料"
//! order = 4
//! description = "各类成果登记须提交的材料。"
//! +++
//! ## 应用技术成果
//! {{ materials(kind="applied") }}
//! ```
//!
//! A line holding only `{{ name(key="value", …) }}` is a shortcode: the site renders it with the
//! template `shortcodes/<name>.html` (and data such as the materials checklist or the flow
//! diagram) in place of the line. `_index.md` is the home page's introduction.

use std::collections::BTreeMap;

use pulldown_cmark::{Options, Parser, html};

/// Why a content file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ContentError {
    pub file: String,
    pub message: String,
}

/// The front matter of a content page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontMatter {
    pub title: String,
    /// Position in the guidance menu, lowest first.
    pub order: i64,
    pub description: String,
}

/// One parsed content file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentPage {
    /// The file name without `.md`; the page's URL is `/guide/<slug>/`.
    pub slug: String,
    pub front: FrontMatter,
    /// The Markdown after the front matter.
    pub markdown: String,
}

/// A shortcode call found in Markdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Shortcode {
    pub name: String,
    pub args: BTreeMap<String, String>,
}

fn err(file: &str, message: impl Into<String>) -> ContentError {
    ContentError {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// Parses `"…"` with `\"`, `\\` and `\n` escapes.
fn parse_string(file: &str, raw: &str) -> Result<String, ContentError> {
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| err(file, format!("expected a quoted string, found `{raw}`")))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(err(file, format!("unknown escape `\\{other:?}`"))),
            },
            '"' => return Err(err(file, "unescaped quote inside a string")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Parses a content file: front matter (`title` required; `order`, `description`) and body.
pub fn parse_page(file: &str, text: &str) -> Result<ContentPage, ContentError> {
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| err(file, "a content file starts with a `+++` front matter line"))?;
    let (front_text, body) = rest
        .split_once("\n+++\n")
        .or_else(|| rest.strip_suffix("\n+++").map(|f| (f, "")))
        .ok_or_else(|| err(file, "the front matter has no closing `+++` line"))?;
    let mut front = FrontMatter::default();
    let mut has_title = false;
    for line in front_text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err(file, format!("expected `key = value`, found `{line}`")))?;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "title" => {
                front.title = parse_string(file, value)?;
                has_title = true;
            }
            "description" => front.description = parse_string(file, value)?,
            "order" => {
                front.order = value
                    .parse()
                    .map_err(|_| err(file, format!("`order` must be an integer, not `{value}`")))?
            }
            other => return Err(err(file, format!("unknown front matter key `{other}`"))),
        }
    }
    if !has_title || front.title.trim().is_empty() {
        return Err(err(file, "the front matter needs a `title`"));
    }
    let slug = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".md")
        .to_owned();
    Ok(ContentPage {
        slug,
        front,
        markdown: body.to_owned(),
    })
}

/// Parses `name(key="value", …)`.
fn parse_shortcode(file: &str, call: &str) -> Result<Shortcode, ContentError> {
    let (name, rest) = call
        .split_once('(')
        .ok_or_else(|| err(file, format!("shortcode `{call}` lacks `(`")))?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(file, format!("bad shortcode name `{name}`")));
    }
    let args_text = rest
        .strip_suffix(')')
        .ok_or_else(|| err(file, format!("shortcode `{call}` lacks `)`")))?;
    let mut args = BTreeMap::new();
    for part in args_text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            err(
                file,
                format!("shortcode argument `{part}` is not `key=\"value\"`"),
            )
        })?;
        args.insert(k.trim().to_owned(), parse_string(file, v.trim())?);
    }
    Ok(Shortcode {
        name: name.to_owned(),
        args,
    })
}

/// The placeholder paragraph that stands for shortcode `i` while Markdown is rendered.
fn placeholder(i: usize) -> String {
    format!("CHENGGUOSHORTCODE{i}X")
}

/// Renders Markdown to HTML, with each shortcode line replaced by `render(shortcode)`.
pub fn render_markdown(
    file: &str,
    markdown: &str,
    mut render: impl FnMut(&Shortcode) -> Result<String, ContentError>,
) -> Result<String, ContentError> {
    let mut shortcodes = Vec::new();
    let mut source = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let t = line.trim();
        if let Some(call) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
            // A blank line each side keeps the placeholder a paragraph of its own.
            source.push('\n');
            source.push_str(&placeholder(shortcodes.len()));
            source.push_str("\n\n");
            shortcodes.push(parse_shortcode(file, call.trim())?);
        } else {
            source.push_str(line);
            source.push('\n');
        }
    }
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = String::with_capacity(source.len() * 2);
    html::push_html(&mut out, Parser::new_ext(&source, options));
    for (i, sc) in shortcodes.iter().enumerate() {
        let marker = format!("<p>{}</p>\n", placeholder(i));
        if !out.contains(&marker) {
            return Err(err(
                file,
                format!("shortcode `{}` must stand on its own line", sc.name),
            ));
        }
        out = out.replacen(&marker, &render(sc)?, 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_body_are_split() {
        let p = parse_page(
            "x/materials.md",
            "+++\ntitle = \"提交\\\"材料\\\"\"\norder = 4\ndescription = \"说明\"\n+++\n## 标题\n",
        )
        .unwrap();
        assert_eq!(p.slug, "materials");
        assert_eq!(p.front.title, "提交\"材料\"");
        assert_eq!(p.front.order, 4);
        assert_eq!(p.markdown, "## 标题\n");
    }

    #[test]
    fn unknown_keys_and_missing_titles_are_refused() {
        assert!(parse_page("a.md", "+++\ntitel = \"x\"\n+++\n").is_err());
        assert!(parse_page("a.md", "+++\norder = 1\n+++\n").is_err());
        assert!(parse_page("a.md", "no front matter").is_err());
    }

    #[test]
    fn shortcodes_are_rendered_in_place() {
        let html = render_markdown(
            "a.md",
            "前文\n{{ materials(kind=\"soft\") }}\n后文\n",
            |sc| Ok(format!("<div>{}:{}</div>\n", sc.name, sc.args["kind"])),
        )
        .unwrap();
        assert_eq!(
            html,
            "<p>前文</p>\n<div>materials:soft</div>\n<p>后文</p>\n"
        );
    }
}
