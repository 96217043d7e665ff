//! Markdown from users (case descriptions, preconditions, steps) rendered to HTML that can carry
//! no script: raw HTML in the source is shown as text, link targets are limited to http(s),
//! mailto and same-site paths, and images become links (no request leaves the page on view).
//! Everything else is escaped by the renderer itself.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// Targets a rendered link may have; anything else (`javascript:`, `data:`, `vbscript:`, …)
/// becomes `#`.
fn safe_target(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    // Browsers ignore tabs and newlines inside a scheme ("java\tscript:").
    let compact: String = lower
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect();
    match compact.find(':') {
        // No scheme: a relative path or fragment, unless it is protocol-relative ("//evil").
        None => !compact.starts_with("//") && !compact.starts_with("\\\\"),
        Some(colon) => {
            let scheme = &compact[..colon];
            // A colon after a path or query separator is not a scheme.
            if scheme.contains(['/', '?', '#']) {
                return !compact.starts_with("//");
            }
            matches!(scheme, "http" | "https" | "mailto")
        }
    }
}

/// `text` as safe HTML.
pub fn render(text: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut in_image = 0usize;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: if safe_target(&dest_url) {
                dest_url
            } else {
                CowStr::Borrowed("#")
            },
            title,
            id,
        }),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => {
            in_image += 1;
            Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url: if safe_target(&dest_url) {
                    dest_url
                } else {
                    CowStr::Borrowed("#")
                },
                title,
                id,
            })
        }
        Event::End(TagEnd::Image) => {
            in_image = in_image.saturating_sub(1);
            Event::End(TagEnd::Link)
        }
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_renders() {
        assert_eq!(
            render("**bold** and `code`"),
            "<p><strong>bold</strong> and <code>code</code></p>\n"
        );
        assert!(
            render("[docs](https://example.com/a?b=1)")
                .contains("href=\"https://example.com/a?b=1\"")
        );
        assert!(render("[here](/projects/web)").contains("href=\"/projects/web\""));
    }

    #[test]
    fn no_script_survives() {
        let corpus = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox(1))",
            "[x](//evil.example/path)",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](\"onmouseover=alert(1))",
            "<details open ontoggle=alert(1)>",
            "<iframe src=https://evil.example></iframe>",
            "```\n</code><script>alert(1)</script>\n```",
            "[x]: javascript:alert(1)\n\n[x]",
        ];
        for input in corpus {
            let html = render(input);
            assert_only_safe_markup(&html, input);
        }
    }

    /// Every tag is one the renderer makes, with only `href`/`title`/…, and no `href` leaves
    /// http(s), mailto or same-site.
    fn assert_only_safe_markup(html: &str, input: &str) {
        const TAGS: [&str; 24] = [
            "p",
            "a",
            "strong",
            "em",
            "code",
            "pre",
            "ul",
            "ol",
            "li",
            "blockquote",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "br",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        ];
        const MORE: [&str; 3] = ["del", "input", "span"];
        for tag in html.split('<').skip(1) {
            let inner = tag.split('>').next().unwrap_or_default();
            let inner = inner.trim_start_matches('/');
            let name = inner.split([' ', '/']).next().unwrap_or_default();
            assert!(
                TAGS.contains(&name) || MORE.contains(&name),
                "{input:?} made <{inner}>"
            );
            for attr in inner.split(' ').skip(1).filter(|a| !a.is_empty()) {
                let attr_name = attr.split('=').next().unwrap_or_default();
                assert!(
                    [
                        "href", "title", "class", "start", "type", "checked", "disabled", "style",
                        "/"
                    ]
                    .contains(&attr_name),
                    "{input:?} made an attribute {attr}"
                );
                if attr_name == "href" {
                    let url = attr.trim_start_matches("href=").trim_matches('"');
                    assert!(
                        url.starts_with("https://")
                            || url.starts_with("http://")
                            || url.starts_with("mailto:")
                            || (!url.starts_with("//")
                                && !url.split('/').next().unwrap_or_default().contains(':')),
                        "{input:?} made a link to {url}"
                    );
                }
            }
        }
    }

    #[test]
    fn images_become_links() {
        let html = render("![diagram](https://example.com/d.png)");
        assert!(
            html.contains("<a href=\"https://example.com/d.png\">diagram</a>"),
            "{html}"
        );
    }
}
