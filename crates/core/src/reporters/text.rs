//! Cleaning what reporters send: terminal colours out of messages, local paths made relative.

/// At most `max` characters of `s` (cut on a character boundary).
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`) that reporters leave in messages and
/// stacks for terminals.
pub fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// Removes Testomat ids (`@T…`, `@S…` with 8 characters) from a title: ids written into the
/// source must not change which test or suite it is.
pub fn without_ids(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut rest = title;
    while let Some(at) = rest.find(['@']) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let id_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if (after.starts_with('T') || after.starts_with('S')) && id_len == 9 {
            rest = &after[9..];
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Folders a test file path usually starts at; an absolute path is cut to start at the first.
const TEST_ROOTS: &[&str] = &[
    "test",
    "tests",
    "spec",
    "specs",
    "__tests__",
    "e2e",
    "src",
    "cypress",
    "features",
    "it",
];

/// A client's file path as a path inside the project: `/` separators, no drive, no `.` or
/// `..` parts (clients send paths relative to wherever they ran, `../../test/a.js`). An absolute path (a CI machine's checkout) keeps only its part from a
/// usual test folder on (`/home/ci/app/tests/a.py` → `tests/a.py`), or its file name: a local
/// directory layout is never stored.
pub fn normalise_path(raw: &str) -> Option<String> {
    let unified = raw.trim().replace('\\', "/");
    let drive = unified.len() > 2 && unified.as_bytes()[1] == b':';
    let without_drive = if drive { &unified[2..] } else { &unified[..] };
    let absolute = without_drive.starts_with('/') || drive;
    let parts: Vec<&str> = without_drive
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let kept: &[&str] = if absolute {
        match parts.iter().position(|p| TEST_ROOTS.contains(p)) {
            Some(i) => &parts[i..],
            None => parts.last().map(std::slice::from_ref).unwrap_or(&[]),
        }
    } else {
        &parts
    };
    let path = kept.join("/");
    (!path.is_empty() && path.chars().count() <= 500 && !path.chars().any(char::is_control))
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_taken_out_of_titles_tags_stay() {
        assert_eq!(without_ids("logs in @T1a2b3c4d @smoke"), "logs in @smoke");
        assert_eq!(without_ids("Auth @S0a1b2c3d"), "Auth");
        assert_eq!(without_ids("mail me@example.com"), "mail me@example.com");
        assert_eq!(without_ids("a @T12 b"), "a @T12 b");
        assert_eq!(without_ids("@Tabcdefgh"), "");
    }

    #[test]
    fn colours_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[39m text"), "red text");
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("\u{1b}[1;2;3mX"), "X");
    }

    #[test]
    fn paths_become_project_relative() {
        assert_eq!(normalise_path("test/a.js").as_deref(), Some("test/a.js"));
        assert_eq!(normalise_path("./test/a.js").as_deref(), Some("test/a.js"));
        assert_eq!(
            normalise_path("../../test/login.test.js").as_deref(),
            Some("test/login.test.js")
        );
        assert_eq!(
            normalise_path("/home/ci/work/app/tests/unit/a.py").as_deref(),
            Some("tests/unit/a.py")
        );
        assert_eq!(
            normalise_path("C:\\Users\\me\\app\\spec\\b.spec.ts").as_deref(),
            Some("spec/b.spec.ts")
        );
        assert_eq!(
            normalise_path("/home/me/secret-project/x.js").as_deref(),
            Some("x.js")
        );
        assert_eq!(
            normalise_path("../../../mocha/cart.spec.js").as_deref(),
            Some("mocha/cart.spec.js")
        );
        assert_eq!(normalise_path("/"), None);
        assert_eq!(normalise_path(""), None);
    }
}
